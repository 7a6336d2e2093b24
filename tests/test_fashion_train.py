"""train/evaluate on tiny real-format data: learning, resuming, DDP, metrics."""

from __future__ import annotations

import importlib
import json

import lightning as L
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from kexue.fashion_mnist import CLASSES
from kexue.tasks.fashion import evaluate, train
from kexue.tasks.fashion.data import load_split
from kexue.tasks.fashion.model import FashionClassifier
from tests.conftest import Killed, KillAfterFirstEpoch, cpu_run, tiny_params

# The module, not the stage function of the same name that kexue.tasks.fashion exports.
train_mod = importlib.import_module("kexue.tasks.fashion.train")


def test_a_few_steps_lower_the_loss(prepared_dir):
    L.seed_everything(0)
    p = tiny_params(augment="none", label_smoothing=0.0)
    module = FashionClassifier(p.model.model_dump(), p.train.model_dump())
    x, y = load_split(prepared_dir, "train")
    opt = torch.optim.Adam(module.parameters(), lr=3e-3)
    module.train()  # batch statistics throughout: 15 steps are too few for BatchNorm's running ones

    def loss() -> torch.Tensor:
        return F.cross_entropy(module(x[:64]), y[:64])

    with torch.no_grad():
        before = float(loss())
    for _ in range(15):
        opt.zero_grad()
        loss().backward()
        opt.step()
    with torch.no_grad():
        after = float(loss())
    assert after < 0.7 * before, (before, after)


def test_train_then_evaluate_writes_everything(prepared_dir, tmp_path):
    p, run = tiny_params(epochs=6), cpu_run()
    models, live = tmp_path / "models", tmp_path / "live"
    train(p, run, prepared_dir, models, live)
    assert {"best.ckpt", "last.ckpt", "summary.json", "fingerprint.json"} <= {f.name for f in models.iterdir()}
    summary = json.loads((models / "summary.json").read_text())
    assert summary["epochs"] == 6 and summary["steps"] == 6 * (300 // 32)
    assert len(pd.read_csv(live / "plots/metrics/val/acc.tsv", sep="\t")) == 6

    metrics, plots = tmp_path / "fashion.json", tmp_path / "plots"
    evaluate(p, run, prepared_dir, models, live, metrics, plots)
    m = json.loads(metrics.read_text())
    expected = {"test_acc", "test_loss", "test_images", "per_class_acc", "best_val_acc", "params", "epochs",
                "train_wall_time_s", "train_device", "eval_wall_time_s", "eval_device",
                "tta", "test_acc_single_view", "val_acc_single_view", "val_acc_flip_tta", "val_acc_flip_shift_tta"}
    assert expected <= set(m)
    assert m["tta"] == p.evaluate.tta and all(0 <= m[k] <= 1 for k in ("test_acc_single_view", "val_acc_single_view", "val_acc_flip_tta",
                                                                          "val_acc_flip_shift_tta"))
    assert 0.0 <= m["test_acc"] <= 1.0 and m["test_loss"] > 0 and m["test_images"] == 100
    assert set(m["per_class_acc"]) == set(CLASSES) and all(0 <= a <= 1 for a in m["per_class_acc"].values())
    assert m["params"] > 1000 and m["epochs"] == 6 and m["train_wall_time_s"] > 0
    # The synthetic bars are easy: far above chance (0.1) once BatchNorm's running statistics settle.
    # (One view: a bar's row is its class, so shifted views (tta flip+shift) would blur the classes.)
    assert m["test_acc_single_view"] > 0.5
    confusion = pd.read_csv(plots / "confusion.csv")
    assert list(confusion.columns) == ["actual", "predicted"] and len(confusion) == 100
    for png in ("confusion.png", "curves.png"):
        assert (plots / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compute_measures_everything_and_writes_nothing(prepared_dir, tmp_path):
    compute = importlib.import_module("kexue.tasks.fashion.evaluate").compute
    p, run = tiny_params(), cpu_run()
    models = tmp_path / "models"
    train(p, run, prepared_dir, models, tmp_path / "live")
    before = sorted(tmp_path.rglob("*")) + sorted(prepared_dir.rglob("*"))
    e = compute(p, run, prepared_dir, models)
    assert sorted(tmp_path.rglob("*")) + sorted(prepared_dir.rglob("*")) == before
    m = e.metrics
    assert m["test_images"] == len(e.actual) == len(e.predicted) == e.confusion.sum() == 100
    assert m["test_acc"] == pytest.approx((e.actual == e.predicted).mean(), abs=1e-5)
    assert e.confusion.trace() == (e.actual == e.predicted).sum() and e.confusion.shape == (len(CLASSES), len(CLASSES))
    assert m["tta"] == p.evaluate.tta and 0 <= m["val_acc_single_view"] <= 1 and m["epochs"] == 1
    assert list(m)[-2:] == ["eval_wall_time_s", "eval_device"]


def test_same_seed_same_metrics(prepared_dir, tmp_path):
    p, run = tiny_params(), cpu_run()
    results = []
    for name in ("a", "b"):
        train(p, run, prepared_dir, tmp_path / name / "models", tmp_path / name / "live")
        evaluate(p, run, prepared_dir, tmp_path / name / "models", tmp_path / name / "live",
                 tmp_path / name / "m.json", tmp_path / name / "plots")
        m = json.loads((tmp_path / name / "m.json").read_text())
        results.append((m["test_acc"], m["test_loss"], m["best_val_acc"]))
    assert results[0] == results[1]


def test_killed_run_resumes_from_last_checkpoint(prepared_dir, tmp_path, monkeypatch):
    p, run = tiny_params(epochs=3), cpu_run()
    models, live = tmp_path / "models", tmp_path / "live"
    real_build = train_mod.build_trainer

    def build_with_kill(*args, callbacks=None, **kwargs):
        return real_build(*args, callbacks=[*(callbacks or []), KillAfterFirstEpoch()], **kwargs)

    monkeypatch.setattr(train_mod, "build_trainer", build_with_kill)
    with pytest.raises(Killed):
        train(p, run, prepared_dir, models, live)
    first = torch.load(models / "last.ckpt", map_location="cpu", weights_only=False)
    assert first["epoch"] == 0 and not (models / "summary.json").exists()
    val_after_kill = pd.read_csv(live / "plots/metrics/val/acc.tsv", sep="\t")

    monkeypatch.setattr(train_mod, "build_trainer", real_build)
    train(p, run, prepared_dir, models, live)  # the rerun, as `dvc repro` would do it
    summary = json.loads((models / "summary.json").read_text())
    steps_per_epoch = 300 // 32
    assert summary["epochs"] == 3 and summary["steps"] == 3 * steps_per_epoch
    val = pd.read_csv(live / "plots/metrics/val/acc.tsv", sep="\t")
    # the curve goes on: epoch 1's row is kept and epochs 2-3 follow it
    assert len(val) == 3 and val.iloc[0].equals(val_after_kill.iloc[0])
    assert list(val["step"]) == [steps_per_epoch * k - 1 for k in (1, 2, 3)]


def test_changed_params_start_a_fresh_run(prepared_dir, tmp_path):
    run, models, live = cpu_run(), tmp_path / "models", tmp_path / "live"
    train(tiny_params(epochs=1), run, prepared_dir, models, live)
    train(tiny_params(epochs=1, lr=1e-3), run, prepared_dir, models, live)
    assert json.loads((models / "summary.json").read_text())["steps"] == 300 // 32
    assert len(pd.read_csv(live / "plots/metrics/val/acc.tsv", sep="\t")) == 1


def test_ddp_spawn_on_two_cpu_processes(prepared_dir, tmp_path):
    p = tiny_params(epochs=1)
    run = cpu_run(devices=2, strategy="ddp_spawn")
    models = tmp_path / "models"
    train(p, run, prepared_dir, models, tmp_path / "live")
    summary = json.loads((models / "summary.json").read_text())
    # each of the 2 processes sees half of the 300 images: 150 // 32 = 4 steps
    assert summary["steps"] == 150 // 32
    assert (models / "best.ckpt").is_file()
    module = FashionClassifier.load_from_checkpoint(models / "best.ckpt", map_location="cpu")
    assert isinstance(module, FashionClassifier)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_one_gpu_bf16(prepared_dir, tmp_path):
    p = tiny_params(epochs=1)
    run = cpu_run(accelerator="gpu", devices=1)
    train(p, run, prepared_dir, tmp_path / "models", tmp_path / "live")
    assert "bf16-mixed" in json.loads((tmp_path / "models" / "summary.json").read_text())["device"]


def test_flip_tta_averages_an_image_and_its_mirror(prepared_dir, tmp_path):
    from kexue.tasks.fashion.evaluate import predict
    from kexue.tasks.fashion.model import FashionClassifier

    p = tiny_params()
    torch.manual_seed(0)
    module = FashionClassifier(p.model.model_dump(), p.train.model_dump()).eval()
    x = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8)
    cpu = torch.device("cpu")
    plain, mirrored = predict(module, x, 4, cpu), predict(module, x.flip(-1), 4, cpu)
    both = predict(module, x, 4, cpu, "flip")
    assert torch.allclose(both.exp(), (plain.exp() + mirrored.exp()) / 2, atol=1e-6)
    assert torch.allclose(both, predict(module, x.flip(-1), 4, cpu, "flip"), atol=1e-5)  # a mirror changes nothing
    assert torch.allclose(both.exp().sum(1), torch.ones(8), atol=1e-5)


def test_flip_shift_tta_averages_ten_views(prepared_dir):
    from kexue.tasks.fashion.evaluate import by_choice, predict, translate, view_log_probs, views
    from kexue.tasks.fashion.model import FashionClassifier

    x = torch.arange(16, dtype=torch.uint8).reshape(1, 4, 4)
    assert torch.equal(translate(x, 1, 0)[0, 0], torch.zeros(4, dtype=torch.uint8))  # moved down: top row empty
    assert torch.equal(translate(x, 1, 0)[0, 1:], x[0, :3]) and torch.equal(translate(x, 0, -1)[0, :, :3], x[0, :, 1:])
    assert torch.equal(translate(x, 0, 0), x) and len(views(x, "flip+shift")) == 10 and len(views(x, "none")) == 1
    p = tiny_params()
    torch.manual_seed(0)
    module = FashionClassifier(p.model.model_dump(), p.train.model_dump()).eval()
    images = torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8)
    cpu = torch.device("cpu")
    each = torch.stack([predict(module, v, 4, cpu).exp() for v in views(images, "flip+shift")])
    assert torch.allclose(predict(module, images, 4, cpu, "flip+shift").exp(), each.mean(0), atol=1e-6)
    # the ten views contain the other choices': one pass scores all three on the validation images
    choices = by_choice(view_log_probs(module, images, 4, cpu, "flip+shift"), "flip+shift")
    for tta in ("none", "flip", "flip+shift"):
        assert torch.allclose(choices[tta], predict(module, images, 4, cpu, tta), atol=1e-5)
    assert set(by_choice(view_log_probs(module, images, 4, cpu, "flip"), "flip")) == {"none", "flip"}
