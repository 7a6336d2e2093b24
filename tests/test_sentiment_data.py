"""sentiment data: reading the xls files, deduplication, the stratified split, train-only vocabulary."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kexue.errors import DataFormatError
from kexue.tasks import sentiment
from kexue.tasks.sentiment import data
from kexue.tasks.sentiment.params import SentimentParams
from kexue.text.vocab import Vocab
from tests.conftest import cpu_run


@pytest.fixture
def raw(mirror: Path, tmp_path: Path) -> Path:
    out = tmp_path / "raw"
    out.mkdir()
    for name in ("pos.xls", "neg.xls"):
        shutil.copy(mirror / "sentiment" / name, out / name)
    return out


def test_read_the_real_files(raw):
    pos = data.read_reviews(raw / "pos.xls")
    assert len(pos) > 10000 and all(isinstance(t, str) and t == t.strip() and t for t in pos)


def test_malformed_xls_is_a_clear_error(tmp_path):
    bad = tmp_path / "pos.xls"
    bad.write_bytes(b"\xd0\xcf\x11\xe0 this is not really a workbook")
    with pytest.raises(DataFormatError, match=r"pos\.xls: not a readable Excel workbook"):
        data.read_reviews(bad)


def test_deduplicate_drops_repeats_and_texts_under_both_labels():
    kept, counts = data.deduplicate({1: ["好", "好", "很好", "一般"], 0: ["差", "一般", "差"]})
    assert kept == {1: ["好", "很好"], 0: ["差"]}
    assert counts == {"reviews_read": 7, "repeats_dropped": 2, "texts_under_both_labels_dropped": 1, "reviews_kept": 3}


def test_split_is_stratified_seeded_and_disjoint():
    by_label = {1: [f"p{i}" for i in range(300)], 0: [f"n{i}" for i in range(200)]}
    a = data.stratified_split(by_label, 0.1, 0.2, seed=3)
    b = data.stratified_split(by_label, 0.1, 0.2, seed=3)
    assert all(a[s].equals(b[s]) for s in data.SPLITS)
    assert {s: (len(a[s]), int(a[s]["label"].sum())) for s in data.SPLITS} == {
        "train": (350, 210), "val": (50, 30), "test": (100, 60)
    }
    texts = [set(a[s]["text"]) for s in data.SPLITS]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])


def test_preprocess_the_real_files(raw, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("KEXUE_CACHE", str(tmp_path / "cache"))
    caplog.set_level(logging.INFO, logger="kexue")
    p = SentimentParams.model_validate({"data": {"tokens": "char"}})
    out = tmp_path / "prepared"
    sentiment.preprocess(p, cpu_run(), raw, out)
    stats = json.loads((out / "stats.json").read_text())
    # The numbers the issue gives for these files: ~4.3k repeats, 9 texts under both labels.
    assert stats["texts_under_both_labels_dropped"] == 9 and 4000 < stats["repeats_dropped"] < 4600
    texts = {s: set(pd.read_json(out / f"{s}.jsonl", lines=True)["text"]) for s in data.SPLITS}
    assert sum(len(t) for t in texts.values()) == stats["reviews_kept"]
    assert not (texts["train"] & texts["test"] or texts["train"] & texts["val"] or texts["val"] & texts["test"])
    # The vocabulary comes from the training split only.
    vocab = Vocab.load(out / "vocab.json")
    train_chars = {c for t in texts["train"] for c in t if not c.isspace()}
    assert set(vocab.itos[2:]) <= train_chars
    with np.load(out / "test.npz") as z:
        assert z["offsets"][-1] == len(z["ids"]) and len(z["y"]) == stats["test_reviews"]
    n = stats["reviews_kept"]
    assert f"token cache: 0 hits, {n} misses" in caplog.text
    caplog.clear()
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    sentiment.preprocess(p, cpu_run(), raw, out)  # the rerun reads every review's tokens from the cache
    assert f"token cache: {n} hits, 0 misses" in caplog.text
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before  # byte-identical outputs
