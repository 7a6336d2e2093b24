"""Stages download and preprocess of the cws task, the file readers, and the training data pipeline.

download: People's Daily January 1998 (`199801.txt`, PKU standard, `word/POS` tokens) and the SIGHAN
2005 PKU and MSR test sets (raw text, gold segmentation, training word list), sha256-checked.
preprocess: strip the POS tags; cut paragraphs into sentences; drop training sentences that overlap
a test line; a seeded train/val split; characters (NFKC-normalised, so the test's half-width digits
meet the training text's full-width ones) -> ids, words -> BMES tags.
"""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from kexue import files
from kexue.errors import DataFormatError
from kexue.fetch import Remote, fetch_all
from kexue.loading import load_npz
from kexue.params import RunParams
from kexue.tasks.cws.bigrams import count_pairs
from kexue.tasks.cws.params import CwsParams
from kexue.tasks.cws.tags import TAG_ID, words_to_tags
from kexue.text.batching import BucketBatchSampler, pad_batch
from kexue.text.corpora import NEWS, NEWS_SHA256, NEWS_URL, pos_tagged_words
from kexue.text.vocab import Vocab

log = logging.getLogger(__name__)

ICWB2 = "https://raw.githubusercontent.com/yuikns/icwb2-data/873a51fa6234c644126d2f2c5c603a97809d2e49"
TRAIN_TEXT = NEWS  # People's Daily, 1998-01 (kexue.text.corpora)
FILES = {  # file: (upstream URL, sha256 from shared/datasets/SOURCES.md)
    TRAIN_TEXT: (NEWS_URL, NEWS_SHA256),
    "pku_test.utf8": (f"{ICWB2}/testing/pku_test.utf8", "48c2655b535ea33802c873373f3176e57d39ba1a45a4dbba164e9125d7ce149e"),
    "pku_test_gold.utf8": (f"{ICWB2}/gold/pku_test_gold.utf8", "913f78b20b17ea1e154f6246644d7d624b2710641f109a15daee9d63c9fb88d4"),
    "pku_training_words.utf8": (f"{ICWB2}/gold/pku_training_words.utf8", "68fdbcef065d315e5dc3dc4c0e1b68997b1849141ba93b8fa2325fb088b5b0f3"),
    "msr_test.utf8": (f"{ICWB2}/testing/msr_test.utf8", "8068b0c5a8f309e2ff2ba88dc26de7a8dac2f2684c9c7d8094337d9ce272f601"),
    "msr_test_gold.utf8": (f"{ICWB2}/gold/msr_test_gold.utf8", "cd1a8473841f1b2fcddd14d12599ad8872e6167feb64807af5bac2f6a32cb75d"),
    "msr_training_words.utf8": (f"{ICWB2}/gold/msr_training_words.utf8", "d5328d5cc8576c8e008e70ad33882aae4ce2cbbbf6cd1130c59a66a248961b8c"),
}
REMOTES = [Remote("cws", name, url, sha) for name, (url, sha) in FILES.items()]
TEST_SETS = ("pku", "msr")  # pku: the same standard as the training text; msr: a cross-standard row
SPLITS = ("train", "val")
VOCAB = "vocab.json"
BIGRAMS = "bigrams.npz"
STATS = "stats.json"
SENTENCE_END = frozenset("。！？；")


def download(raw: Path) -> None:
    """Stage 1: fetch the People's Daily training text and the SIGHAN 2005 PKU/MSR test files into `raw`."""
    fetch_all(REMOTES, raw)


def read_lines(path: Path) -> list[str]:
    """UTF-8 lines without their line ends (CRLF or LF); a file that is not UTF-8 is an error naming it."""
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise DataFormatError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from err


def read_pos_tagged(path: Path) -> list[list[str]]:
    """`word/POS  word/POS ...` paragraphs -> lists of words (POS tags stripped); blank lines skipped."""
    paragraphs = []
    for n, line in enumerate(read_lines(path), 1):
        words = pos_tagged_words(line, f"{path}:{n}")
        if words:
            paragraphs.append(words)
    return paragraphs


def read_gold(path: Path) -> list[list[str]]:
    """A gold segmentation: one line per test line, words separated by spaces (empty lines kept)."""
    return [line.split() for line in read_lines(path)]


def sentences(paragraph: list[str], max_len: int) -> list[list[str]]:
    """Cut a paragraph after sentence-final punctuation, then cut what is still longer than
    `max_len` characters at word boundaries (a single longer word stays whole)."""
    out, current = [], []
    for w in paragraph:
        current.append(w)
        if w in SENTENCE_END or w[-1] in SENTENCE_END:
            out.append(current)
            current = []
    if current:
        out.append(current)
    cut = []
    for sent in out:
        piece, length = [], 0
        for w in sent:
            if piece and length + len(w) > max_len:
                cut.append(piece)
                piece, length = [], 0
            piece.append(w)
            length += len(w)
        cut.append(piece)
    return cut


def normalize(char: str) -> str:
    """The key a character is looked up by: NFKC folds full-width digits and letters to ASCII (and
    the like), so both spellings share one embedding; the text itself is never changed."""
    return unicodedata.normalize("NFKC", char) or char


def overlap(test_lines: list[str], train_text: str, min_chars: int) -> list[str]:
    """Test lines of at least `min_chars` characters that occur verbatim in the training text."""
    return [line for line in dict.fromkeys(t.strip() for t in test_lines) if len(line) >= min_chars and line in train_text]


def preprocess(p: CwsParams, run: RunParams, raw: Path, prepared: Path) -> None:
    """Stage 2: `raw` -> `prepared/{train,val}.npz` (character ids and BMES tags, flat with offsets),
    `vocab.json` (normalised characters), `bigrams.npz` (the character pairs kept, from train only)
    and `stats.json` (counts, test-overlap check)."""
    d, raw, prepared = p.data, Path(raw), Path(prepared)
    for name in FILES:
        if not (raw / name).is_file():
            raise FileNotFoundError(f"{raw / name}: missing; run the cws-download stage first")
    paragraphs = read_pos_tagged(raw / TRAIN_TEXT)
    sents = [s for para in paragraphs for s in sentences(para, d.max_len)]
    stats: dict[str, object] = {"paragraphs": len(paragraphs), "sentences": len(sents)}

    # A test line found verbatim in the training text: its training sentences are dropped.
    train_text = "\n".join("".join(para) for para in paragraphs)
    found: list[str] = []
    for name in TEST_SETS:
        lines = read_lines(raw / f"{name}_test.utf8")
        hits = overlap(lines, train_text, d.overlap_min_chars)
        stats[f"{name}_test_lines"] = sum(1 for line in lines if line.strip())
        stats[f"{name}_test_lines_in_training_text"] = len(hits)
        found += hits
    if found:
        keep = [s for s in sents if not any(h in "".join(s) or "".join(s) in h for h in found)]
        stats["training_sentences_dropped_for_test_overlap"] = len(sents) - len(keep)
        sents = keep
    else:
        stats["training_sentences_dropped_for_test_overlap"] = 0

    rng = np.random.default_rng(run.seed)
    order = rng.permutation(len(sents))
    n_val = max(1, round(len(sents) * d.val_fraction))
    split = {"val": [sents[i] for i in order[:n_val]], "train": [sents[i] for i in order[n_val:]]}
    vocab = Vocab.build(([normalize(c) for c in "".join(s)] for s in split["train"]), min_count=d.min_count)
    for name, part in split.items():
        ids = [vocab.encode([normalize(c) for c in "".join(s)]) for s in part]
        tags = [words_to_tags(s) for s in part]
        lengths = np.array([len(i) for i in ids], dtype=np.int64)
        files.save_npz(
            prepared / f"{name}.npz",
            ids=np.array([i for seq in ids for i in seq], dtype=np.int32),
            tags=np.array([TAG_ID[t] for seq in tags for t in seq], dtype=np.int8),
            offsets=np.concatenate([[0], np.cumsum(lengths)]),
        )
        stats[f"{name}_sentences"] = len(part)
        stats[f"{name}_chars"] = int(lengths.sum())
        if name == "train":
            pairs = count_pairs(ids, len(vocab), d.bigram_min_count)
    vocab.save(prepared / VOCAB)
    files.save_npz(prepared / BIGRAMS, keys=pairs)
    stats["vocab_size"] = len(vocab)
    stats["bigrams"] = len(pairs)
    files.write_json(prepared / STATS, stats)
    log.info("cws data: %s", stats)


def load_bigrams(prepared: Path) -> np.ndarray:
    return load_npz(Path(prepared) / BIGRAMS, ("keys",), stage="cws-preprocess")["keys"]


def load_split(prepared: Path, split: str) -> tuple[list[list[int]], list[list[int]]]:
    """Character-id and tag sequences of one prepared split."""
    z = load_npz(Path(prepared) / f"{split}.npz", ("ids", "tags", "offsets"), stage="cws-preprocess")
    ids, tags, offsets = z["ids"], z["tags"], z["offsets"]
    cuts = list(zip(offsets[:-1].tolist(), offsets[1:].tolist()))
    return [ids[a:b].tolist() for a, b in cuts], [tags[a:b].tolist() for a, b in cuts]


class SentencesDataModule(L.LightningDataModule):
    """Sentences as (character ids, tags); training batches bucketed by length, seeded."""

    def __init__(self, prepared: Path, batch_size: int, eval_batch_size: int = 256, seed: int = 0, train_limit: int = 0) -> None:
        super().__init__()
        self.prepared, self.batch_size, self.eval_batch_size = Path(prepared), batch_size, eval_batch_size
        self.seed, self.train_limit = seed, train_limit
        self.data: dict[str, list[tuple[list[int], list[int]]]] = {}

    def setup(self, stage: str | None = None) -> None:
        for split in SPLITS:
            ids, tags = load_split(self.prepared, split)
            if split == "train" and self.train_limit:
                ids, tags = ids[: self.train_limit], tags[: self.train_limit]
            self.data[split] = list(zip(ids, tags))

    def _loader(self, split: str, batch_size: int, shuffle: bool) -> DataLoader:
        items = self.data[split]
        sampler = BucketBatchSampler([len(i) for i, _ in items], batch_size, seed=self.seed, shuffle=shuffle)
        return DataLoader(items, batch_sampler=sampler, collate_fn=collate)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", self.eval_batch_size, shuffle=False)


def collate(items: list[tuple[list[int], list[int]]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids (N, T), tags (N, T), lengths (N,)), padded with 0 (padding is masked out by length)."""
    ids, lengths = pad_batch([i for i, _ in items])
    tags, _ = pad_batch([t for _, t in items])
    return ids, tags, lengths
