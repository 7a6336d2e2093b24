"""Stages download and preprocess of the sentiment task, and the data pipeline for training.

download: pos.xls and neg.xls (the ~21k product reviews of the blog's sentiment posts), checked
against their sha256. preprocess: one review per row of column A -> deduplicated texts (a text
repeated under one label is kept once; a text found under both labels is dropped), a seeded split
stratified by label, tokens (jieba words or characters, cached), a vocabulary from the training
split only, and token ids.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from kexue import files
from kexue.errors import DataFormatError
from kexue.fetch import Remote, fetch_all
from kexue.params import RunParams
from kexue.tasks.sentiment.params import SentimentParams
from kexue.text.batching import BucketBatchSampler, pad_batch
from kexue.text.tokenize import Tokenizer
from kexue.text.vocab import Vocab

log = logging.getLogger(__name__)

UPSTREAM = "https://raw.githubusercontent.com/36952362/sentiment_data/c3c6670648ab35151e75a1ad7741d1a1f0427fe2"
FILES = {  # label: (file, sha256 from shared/datasets/SOURCES.md)
    1: ("pos.xls", "af4c697a4163c310ae0a029107fa6cb205ccf05e51398645911b86d98d691cdf"),
    0: ("neg.xls", "4f4ea01ba4c513b70f8c1f625b6fb69d300620439390ea9a213a479f8d162a13"),
}
REMOTES = [Remote("sentiment", name, f"{UPSTREAM}/{name}", sha) for name, sha in FILES.values()]
SPLITS = ("train", "val", "test")
LABELS = ("negative", "positive")
VOCAB = "vocab.json"
STATS = "stats.json"


def download(raw: Path) -> None:
    """Stage 1: fetch pos.xls and neg.xls into `raw`."""
    fetch_all(REMOTES, raw)


def read_reviews(path: Path) -> list[str]:
    """Column A of the first sheet of a legacy Excel file, one review per row, no header; empty
    cells dropped, surrounding whitespace stripped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run the sentiment-download stage first")
    try:
        frame = pd.read_excel(path, header=None, usecols=[0], dtype=str, engine="calamine")
    except Exception as err:  # calamine raises its own types for every kind of broken workbook
        raise DataFormatError(f"{path}: not a readable Excel workbook with reviews in column A ({err})") from None
    texts = frame[0].dropna().map(str.strip)
    return texts[texts != ""].tolist()


def deduplicate(by_label: dict[int, list[str]]) -> tuple[dict[int, list[str]], dict[str, int]]:
    """Each text once per label, first occurrence kept; texts under both labels dropped."""
    unique = {label: list(dict.fromkeys(texts)) for label, texts in by_label.items()}
    both = set(unique[0]) & set(unique[1])
    kept = {label: [t for t in texts if t not in both] for label, texts in unique.items()}
    counts = {
        "reviews_read": sum(len(t) for t in by_label.values()),
        "repeats_dropped": sum(len(by_label[k]) - len(unique[k]) for k in by_label),
        "texts_under_both_labels_dropped": len(both),
        "reviews_kept": sum(len(t) for t in kept.values()),
    }
    return kept, counts


def stratified_split(by_label: dict[int, list[str]], val_fraction: float, test_fraction: float, seed: int) -> dict[str, pd.DataFrame]:
    """Seeded split, each label divided in the same proportions."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[pd.DataFrame]] = {s: [] for s in SPLITS}
    for label in sorted(by_label):
        texts = np.array(by_label[label], dtype=object)[rng.permutation(len(by_label[label]))]
        n_test, n_val = round(len(texts) * test_fraction), round(len(texts) * val_fraction)
        cuts = {"test": texts[:n_test], "val": texts[n_test : n_test + n_val], "train": texts[n_test + n_val :]}
        for split, chunk in cuts.items():
            parts[split].append(pd.DataFrame({"text": chunk, "label": label}))
    return {s: pd.concat(parts[s], ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True) for s in SPLITS}


def preprocess(p: SentimentParams, run: RunParams, raw: Path, prepared: Path) -> None:
    """Stage 2: the two xls files in `raw` -> deduplicated, split, tokenised reviews in `prepared`.

    Writes `{train,val,test}.npz` (token ids as one flat array with offsets, labels),
    `{train,val,test}.jsonl` (label, text, tokens), `vocab.json` and `stats.json`."""
    d, raw, prepared = p.data, Path(raw), Path(prepared)
    by_label = {label: read_reviews(raw / name) for label, (name, _) in FILES.items()}
    kept, stats = deduplicate(by_label)
    splits = stratified_split(kept, d.val_fraction, d.test_fraction, run.seed)

    tokenizer = Tokenizer(d.tokens)
    start = time.perf_counter()
    tokens = {s: tokenizer.many(splits[s]["text"]) for s in SPLITS}
    seconds = time.perf_counter() - start
    tokenizer.save()
    vocab = Vocab.build(tokens["train"], min_count=d.min_count, max_size=d.max_vocab)

    for s in SPLITS:
        ids = [vocab.encode(t[: d.max_len]) for t in tokens[s]]
        lengths = np.array([len(i) for i in ids], dtype=np.int64)
        files.save_npz(
            prepared / f"{s}.npz",
            ids=np.array([i for seq in ids for i in seq], dtype=np.int32),
            offsets=np.concatenate([[0], np.cumsum(lengths)]),
            y=splits[s]["label"].to_numpy(dtype=np.int64),
        )
        # The texts and their tokens, for people and for the saliency pages: one JSON object per line.
        files.write_jsonl(
            prepared / f"{s}.jsonl",
            ({"label": int(y), "text": t, "tokens": tok[: d.max_len]} for y, t, tok in zip(splits[s]["label"], splits[s]["text"], tokens[s])),
        )
        stats[f"{s}_reviews"] = len(ids)
        stats[f"{s}_positive"] = int(splits[s]["label"].sum())
    vocab.save(prepared / VOCAB)
    n = sum(len(t) for t in tokens.values())
    stats.update(tokens=d.tokens, vocab_size=len(vocab))
    files.write_json(prepared / STATS, stats)
    log.info("sentiment data: %s", stats)
    # Speed and cache use go to the log only: the prepared files stay identical from run to run, so
    # a rerun of this stage does not look like new data to the training stage.
    log.info("tokenised %d reviews in %.2f s (%.0f reviews/s); token cache: %d hits, %d misses",
             n, seconds, n / max(seconds, 1e-9), tokenizer.hits, tokenizer.misses)


def load_split(prepared: Path, split: str) -> tuple[list[list[int]], np.ndarray]:
    """Token-id sequences and labels of one prepared split."""
    path = Path(prepared) / f"{split}.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run the sentiment-preprocess stage first")
    with np.load(path) as z:
        ids, offsets, y = z["ids"], z["offsets"], z["y"]
    return [ids[offsets[i] : offsets[i + 1]].tolist() for i in range(len(y))], y


def load_reviews(prepared: Path, split: str) -> pd.DataFrame:
    """label, text and tokens of one prepared split."""
    path = Path(prepared) / f"{split}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run the sentiment-preprocess stage first")
    return pd.read_json(path, lines=True, dtype={"label": int, "text": str})


class ReviewsDataModule(L.LightningDataModule):
    """Reviews as id sequences; training batches bucketed by length (little padding), seeded."""

    def __init__(self, prepared: Path, batch_size: int, eval_batch_size: int = 256, seed: int = 0, train_limit: int = 0) -> None:
        super().__init__()
        self.prepared, self.batch_size, self.eval_batch_size = Path(prepared), batch_size, eval_batch_size
        self.seed, self.train_limit = seed, train_limit
        self.data: dict[str, tuple[list[list[int]], np.ndarray]] = {}

    def setup(self, stage: str | None = None) -> None:
        for split in ("train", "val") if stage in (None, "fit", "validate") else ("test",):
            seqs, y = load_split(self.prepared, split)
            if split == "train" and self.train_limit:
                seqs, y = seqs[: self.train_limit], y[: self.train_limit]
            self.data[split] = (seqs, y)

    def _loader(self, split: str, batch_size: int, shuffle: bool) -> DataLoader:
        seqs, y = self.data[split]
        sampler = BucketBatchSampler([len(s) for s in seqs], batch_size, seed=self.seed, shuffle=shuffle)
        return DataLoader(list(zip(seqs, y.tolist())), batch_sampler=sampler, collate_fn=collate)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.eval_batch_size, shuffle=False)


def collate(items: list[tuple[list[int], int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    ids, lengths = pad_batch([s for s, _ in items])
    return ids, lengths, torch.tensor([label for _, label in items], dtype=torch.long)
