"""Stages download and preprocess of the title task, the file readers, and the training data pipeline.

download: the CSL title-generation pairs (`dev.tsv`, `test.tsv`: 1,000 Chinese journal abstracts with
their paper titles each), sha256-checked. The 8,000-pair training file is not in the mirror.
preprocess: read both files (UTF-8 TSV, no header, `prompt<TAB>abstract<TAB>title`), drop exact
duplicates, re-split the rest by `data.split_seed` into train / val / test, and build the character
vocabulary from the training pairs only (abstracts and titles: one table for both sides, as in the post).
"""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from kexue import files
from kexue.errors import DataFormatError
from kexue.fetch import Remote, fetch_all
from kexue.tasks.title.params import TitleParams
from kexue.text.batching import BucketBatchSampler, pad_batch
from kexue.text.vocab import Vocab

log = logging.getLogger(__name__)

CSL = "https://raw.githubusercontent.com/ydli-ai/CSL/0f1ac0626d584cd3c72f8be26d329eb4f967cfd0/benchmark/ts"
FILES = {  # file: (upstream URL, sha256 from shared/datasets/SOURCES.md)
    "dev.tsv": (f"{CSL}/dev.tsv", "63fc67552bdad69b392e89295c8055e2c1b8d5e8acf6fec614738056451ccb45"),
    "test.tsv": (f"{CSL}/test.tsv", "51900a71a26193525e98fa4e65c0e78ea4ca0b84cd1f0da0de0690ffdb85791d"),
}
REMOTES = [Remote("title-generation", name, url, sha) for name, (url, sha) in FILES.items()]
SPLITS = ("train", "val", "test")
VOCAB = "vocab.json"
STATS = "stats.json"
BOS, EOS = "<s>", "</s>"

Pair = tuple[str, str]  # (abstract, title)


def download(raw: Path) -> None:
    """Stage 1: fetch the CSL title-generation pairs (dev.tsv, test.tsv) into `raw`."""
    fetch_all(REMOTES, raw)


def read_tsv(path: Path) -> list[Pair]:
    """(abstract, title) of each line of a CSL file: `prompt<TAB>abstract<TAB>title`, UTF-8, no header.
    Blank lines are skipped; anything else that is not three columns with text in the last two is an
    error naming the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataFormatError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from err
    pairs = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != 3:
            raise DataFormatError(f"{path}:{n}: expected 3 tab-separated columns (prompt, abstract, title), got {len(cols)}")
        abstract, title = cols[1].strip(), cols[2].strip()
        if not abstract or not title:
            raise DataFormatError(f"{path}:{n}: empty {'abstract' if not abstract else 'title'}")
        pairs.append((abstract, title))
    return pairs


def drop_duplicates(pairs: list[Pair]) -> tuple[list[Pair], int]:
    """The pairs without repeats (first kept), and how many were dropped. An abstract seen before is a
    repeat even with another title, so that no abstract is both trained on and tested."""
    seen: set[str] = set()
    kept = []
    for abstract, title in pairs:
        if abstract not in seen:
            seen.add(abstract)
            kept.append((abstract, title))
    return kept, len(pairs) - len(kept)


def split_pairs(pairs: list[Pair], val_size: int, test_size: int, seed: int) -> dict[str, list[Pair]]:
    """A seeded shuffle cut into test, val and (the rest) train."""
    if val_size + test_size >= len(pairs):
        raise DataFormatError(f"{len(pairs)} pairs cannot make {test_size} test and {val_size} validation pairs and a training split")
    order = np.random.default_rng(seed).permutation(len(pairs))
    chosen = [pairs[i] for i in order]
    return {"test": chosen[:test_size], "val": chosen[test_size : test_size + val_size], "train": chosen[test_size + val_size :]}


def build_vocab(train: list[Pair], min_count: int) -> Vocab:
    """Characters of the training abstracts and titles; <s> and </s> start and end a title."""
    return Vocab.build((list(a) + list(t) for a, t in train), min_count=min_count, specials=(BOS, EOS))


def preprocess(p: TitleParams, raw: Path, prepared: Path) -> None:
    """Stage 2: `raw/{dev,test}.tsv` -> `prepared/{train,val,test}.jsonl` ({"abstract", "title"} a line),
    `vocab.json` (characters of the training split) and `stats.json`."""
    d, raw, prepared = p.data, Path(raw), Path(prepared)
    pairs: list[Pair] = []
    for name in FILES:
        if not (raw / name).is_file():
            raise FileNotFoundError(f"{raw / name}: missing; run the title-download stage first")
        pairs += read_tsv(raw / name)
    unique, dropped = drop_duplicates(pairs)
    split = split_pairs(unique, d.val_size, d.test_size, d.split_seed)
    vocab = build_vocab(split["train"], d.min_count)
    for name, part in split.items():
        files.write_jsonl(prepared / f"{name}.jsonl", ({"abstract": a, "title": t} for a, t in part))
    vocab.save(prepared / VOCAB)
    train = split["train"]
    stats = {
        "pairs_read": len(pairs),
        "duplicates_dropped": dropped,
        **{f"{name}_pairs": len(part) for name, part in split.items()},
        "vocab_size": len(vocab),
        "train_mean_abstract_chars": round(statistics.mean(len(a) for a, _ in train), 1),
        "train_mean_title_chars": round(statistics.mean(len(t) for _, t in train), 2),
        # the post's reason for the prior: most title characters are found in the abstract
        "train_title_chars_in_abstract": round(statistics.mean(sum(c in set(a) for c in t) / len(t) for a, t in train), 4),
        "test_chars_out_of_vocabulary": round(
            statistics.mean(sum(c not in vocab.stoi for c in a + t) / len(a + t) for a, t in split["test"]), 4),
    }
    files.write_json(prepared / STATS, stats)
    log.info("title data: %s", stats)


def load_pairs(prepared: Path, split: str) -> list[Pair]:
    """(abstract, title) pairs of one prepared split."""
    path = Path(prepared) / f"{split}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run the title-preprocess stage first")
    pairs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            row = json.loads(line)
            pairs.append((str(row["abstract"]), str(row["title"])))
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise DataFormatError(f"{path}:{n}: expected a JSON object with abstract and title ({err}); "
                                  "rerun it with `dvc repro -f title-preprocess`") from err
    return pairs


def load_stats(prepared: Path) -> dict:
    path = Path(prepared) / STATS
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def encode_source(text: str, vocab: Vocab, max_source: int) -> list[int]:
    """The abstract's first `max_source` characters as ids."""
    return vocab.encode(list(text[:max_source]))


def encode_target(text: str, vocab: Vocab, max_title: int) -> list[int]:
    """<s>, the title's first `max_title` characters, </s>."""
    return [vocab.stoi[BOS], *vocab.encode(list(text[:max_title])), vocab.stoi[EOS]]


Item = tuple[list[int], list[int], str]  # abstract ids, title ids, title text


def collate(items: list[Item]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
    """(abstracts (N, S), their lengths (N,), titles (N, T) with <s> and </s>, the title texts), padded with 0."""
    src, lengths = pad_batch([s for s, _, _ in items])
    tgt, _ = pad_batch([t for _, t, _ in items])
    return src, lengths, tgt, [text for _, _, text in items]


class PairsDataModule(L.LightningDataModule):
    """(abstract, title) pairs as ids; batches bucketed by abstract length, seeded, new every epoch."""

    def __init__(self, prepared: Path, vocab: Vocab, batch_size: int, max_source: int, max_title: int,
                 eval_batch_size: int = 100, seed: int = 0, train_limit: int = 0) -> None:
        super().__init__()
        self.prepared, self.vocab = Path(prepared), vocab
        self.batch_size, self.eval_batch_size, self.seed, self.train_limit = batch_size, eval_batch_size, seed, train_limit
        self.max_source, self.max_title = max_source, max_title
        self.data: dict[str, list[Item]] = {}

    def setup(self, stage: str | None = None) -> None:
        for split in ("train", "val"):
            pairs = load_pairs(self.prepared, split)
            if split == "train" and self.train_limit:
                pairs = pairs[: self.train_limit]
            self.data[split] = [(encode_source(a, self.vocab, self.max_source), encode_target(t, self.vocab, self.max_title), t)
                                for a, t in pairs]

    def _loader(self, split: str, batch_size: int, shuffle: bool) -> DataLoader:
        items = self.data[split]
        sampler = BucketBatchSampler([len(s) for s, _, _ in items], batch_size, seed=self.seed, shuffle=shuffle)
        return DataLoader(items, batch_sampler=sampler, collate_fn=collate)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", self.eval_batch_size, shuffle=False)
