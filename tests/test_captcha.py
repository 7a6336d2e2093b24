"""captcha: deterministic drawing, label coding and CTC decoding, learning, stages, params errors."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from kexue import tasks
from kexue.params import ParamsError, load
from kexue.tasks import captcha
from kexue.tasks.captcha.data import decode, encode, load_split, split_strings
from kexue.tasks.captcha.generate import draw_many
from kexue.tasks.captcha.model import CaptchaRecognizer, ctc_greedy_decode
from kexue.tasks.captcha.params import CaptchaParams
from tests.conftest import cpu_run, params_file

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def tiny_captcha_params(head: str = "per-position", **train: object) -> CaptchaParams:
    settings = dict(epochs=1, batch_size=32, lr=3e-3, warmup_epochs=0)
    settings.update(train)
    return CaptchaParams.model_validate(
        {
            "data": {"train_size": 300, "val_size": 50, "test_size": 100, "input_height": 30, "input_width": 80, "workers": 1},
            "model": {"head": head, "width": 0.25, "middle_blocks": 1, "dropout": 0.0},
            "train": settings,
            "evaluate": {"batch_size": 100, "misread_examples": 4},
        }
    )


@pytest.fixture(scope="module")
def drawn(tmp_path_factory) -> Path:
    """One tiny data set, drawn and preprocessed once for the module's tests."""
    root = tmp_path_factory.mktemp("captcha")
    p, run = tiny_captcha_params(), cpu_run()
    captcha.download(p, run, root / "raw", root / "samples.png")
    captcha.preprocess(p, run, root / "raw", root / "prepared")
    return root


# --- data ---------------------------------------------------------------------------------------


def test_drawing_is_deterministic_per_seed_whatever_the_workers():
    texts = ["AB12", "ZZ90", "0O0O"] * 400  # 1200 images: three chunks
    one = np.concatenate(list(draw_many(texts, 80, 30, seed=7, workers=1)))
    two = np.concatenate(list(draw_many(texts, 80, 30, seed=7, workers=2)))
    other = np.concatenate(list(draw_many(texts, 80, 30, seed=8, workers=1)))
    assert one.shape == (1200, 30, 80) and one.dtype == np.uint8
    assert np.array_equal(one, two)
    assert not np.array_equal(one, other)


def test_download_is_byte_identical_for_a_seed(drawn, tmp_path):
    p, run = tiny_captcha_params(), cpu_run()
    captcha.download(p, run, tmp_path / "raw", tmp_path / "samples.png")
    for split in ("train", "val", "test"):
        with np.load(drawn / "raw" / f"{split}.npz") as a, np.load(tmp_path / "raw" / f"{split}.npz") as b:
            assert np.array_equal(a["x"], b["x"]) and np.array_equal(a["text"], b["text"])
    assert (drawn / "samples.png").is_file()


def test_val_and_test_strings_never_appear_in_training(drawn):
    d = tiny_captcha_params().data
    s = split_strings(d, 0)
    assert {k: len(v) for k, v in s.items()} == {"train": 300, "val": 50, "test": 100}
    assert not (set(s["test"]) & set(s["train"])) and not (set(s["val"]) & set(s["train"]))
    stats = json.loads((drawn / "prepared" / "stats.json").read_text())
    assert stats["test_strings_in_train"] == 0 and stats["test_images"] == 100
    x, y = load_split(drawn / "prepared", "train")
    assert x.shape == (300, 30, 80) and y.shape == (300, 4) and y.max() < len(ALPHABET)


def test_encode_decode_round_trip():
    texts = np.array(["AB12", "0O0O", "ZZZZ"])
    codes = encode(texts, ALPHABET)
    assert codes.dtype == np.int64 and codes[0].tolist() == [10, 11, 1, 2]
    assert [decode(c, ALPHABET) for c in codes] == list(texts)


def test_ctc_greedy_decode_merges_repeats_and_drops_blanks():
    # 0 is the blank: "a a _ a b b _ _ c" -> a a b c ; a repeat needs a blank between to count twice
    best = torch.tensor([[1, 1, 0, 1, 2, 2, 0, 0, 3], [0, 0, 0, 0, 0, 0, 0, 0, 0], [4, 4, 4, 4, 4, 4, 4, 4, 4]])
    assert ctc_greedy_decode(best) == [[1, 1, 2, 3], [], [4]]


def test_preprocess_rejects_arrays_that_do_not_match_the_params(drawn, tmp_path):
    p = tiny_captcha_params()
    wrong = CaptchaParams.model_validate({**p.model_dump(), "data": {**p.data.model_dump(), "length": 5}})
    with pytest.raises(Exception, match=r"train\.npz: string '.{4}' does not have 5 characters"):
        captcha.preprocess(wrong, cpu_run(), drawn / "raw", tmp_path / "prepared")
    assert not (tmp_path / "prepared" / "train.npz").exists()


# --- model and training -------------------------------------------------------------------------


@pytest.mark.parametrize("head", ["per-position", "ctc"])
def test_a_few_steps_lower_the_loss(drawn, head):
    L.seed_everything(0)
    p = tiny_captcha_params(head)
    module = CaptchaRecognizer(p.model.model_dump(), p.train.model_dump(), ALPHABET, 4)
    x, y = load_split(drawn / "prepared", "train")
    x, y = x[:32], y[:32]
    opt = torch.optim.Adam(module.parameters(), lr=3e-3)
    module.train()
    with torch.no_grad():
        before = float(module.loss(module(x), y))
    for _ in range(25):
        opt.zero_grad()
        module.loss(module(x), y).backward()
        opt.step()
    with torch.no_grad():
        after = float(module.loss(module(x), y))
    assert after < 0.7 * before, (before, after)


def test_train_then_evaluate_writes_everything(drawn, tmp_path):
    p, run = tiny_captcha_params("ctc", epochs=2), cpu_run()
    models, live = tmp_path / "models", tmp_path / "live"
    captcha.train(p, run, drawn / "prepared", models, live)
    summary = json.loads((models / "summary.json").read_text())
    assert summary["epochs"] == 2 and summary["train_images"] == 300
    metrics, plots = tmp_path / "captcha.json", tmp_path / "plots"
    captcha.evaluate(p, run, drawn / "prepared", models, live, metrics, plots)
    m = json.loads(metrics.read_text())
    assert {"test_string_acc", "test_char_acc", "test_position_acc", "test_images", "head", "params",
            "train_images", "epochs", "train_wall_time_s", "eval_wall_time_s"} <= set(m)
    assert 0 <= m["test_string_acc"] <= m["test_char_acc"] + 1e-9 <= 1 + 1e-9 and m["test_images"] == 100
    for name in ("confused_pairs.csv", "curves.png", "misread.png"):
        assert (plots / name).is_file(), name


def test_compute_measures_everything_and_writes_nothing(drawn, tmp_path):
    from kexue.tasks.captcha.evaluate import compute

    p, run = tiny_captcha_params(), cpu_run()
    models = tmp_path / "models"
    captcha.train(p, run, drawn / "prepared", models, tmp_path / "live")
    before = sorted(tmp_path.rglob("*")) + sorted(drawn.rglob("*"))
    e = compute(p, run, drawn / "prepared", models)
    assert sorted(tmp_path.rglob("*")) + sorted(drawn.rglob("*")) == before
    m = e.metrics
    assert m["test_images"] == 100 and 0 <= m["test_string_acc"] <= m["test_string_acc_lookalikes_merged"] <= 1
    assert len(m["test_position_acc"]) == p.data.length and m["epochs"] == 1 and m["head"] == "per-position"
    assert len(e.misread) == len(e.misread_labels) == min(4, m["misread_strings"]) and e.misread.dtype == np.uint8
    assert list(e.pairs.columns) == ["truth", "read_as", "count"] and (e.pairs["count"] > 0).all()
    assert all(" → " in label for label in e.misread_labels)


# --- params -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "key", "why"),
    [
        (lambda d: d["captcha"]["data"].update(alphabet=""), "captcha.data.alphabet", "at least 1 character"),
        (lambda d: d["captcha"]["data"].update(length=0), "captcha.data.length", "greater than or equal to 1"),
        (lambda d: d["captcha"]["data"].update(alphabet="AB中"), "captcha.data.alphabet", "cannot draw '中'"),
        (lambda d: d["captcha"]["data"].update(alphabet="ABA"), "captcha.data.alphabet", "listed twice: 'A'"),
        (lambda d: d["captcha"]["model"].update(head="attention"), "captcha.model.head", "'per-position' or 'ctc'"),
    ],
)
def test_bad_params_name_the_key(tmp_path, edit, key, why):
    path = params_file(tmp_path, edit)
    with pytest.raises(ParamsError) as err:
        load(path, "captcha", CaptchaParams, known_tasks=tasks.TASKS)
    assert key in str(err.value) and why in str(err.value)


def test_lookalike_merge_counts_0_and_O_as_one():
    from kexue.tasks.captcha.evaluate import merge_lookalikes

    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    truth = torch.tensor([[0, 1, 24, 2]])  # "01O2"
    read = torch.tensor([[24, 1, 0, 2]])  # "O1 02": both swapped
    assert not bool((read == truth).all())
    assert bool((merge_lookalikes(read, alphabet, ["0O"]) == merge_lookalikes(truth, alphabet, ["0O"])).all())
    assert bool((merge_lookalikes(torch.tensor([[-1, 5]]), alphabet, ["0O"]) == torch.tensor([[-1, 5]])).all())
