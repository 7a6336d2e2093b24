"""gan: the penalty and losses on hand-checkable cases, the manual-optimisation step, FID, the
preprocess/features/train/evaluate stages on tiny real-format data, and params errors. The
architectures, precision/recall and the time budget: tests/test_gan_arch.py."""

from __future__ import annotations

import json
import math
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from kexue import tasks
from kexue.__main__ import main
from kexue.fashion_mnist import FILES
from kexue.params import ParamsError, load
from kexue.tasks import gan
from kexue.tasks.gan import baseline as baselines
from kexue.tasks.gan import fid as fidlib
from kexue.tasks.gan import losses
from kexue.tasks.gan.data import GanDataModule, load_images, to_gan_input, to_uint8
from kexue.tasks.gan.feature_net import load_feature_net
from kexue.tasks.gan.model import GAN
from kexue.tasks.gan.params import GanParams
from kexue.tasks.gan.train import snapshot_epochs
from tests.conftest import Killed, KillAfterFirstEpoch, cpu_run, params_file, synthetic_images, write_idx

TINY_MODEL = {"z_dim": 16, "g_channels": 4, "d_channels": 4}
TINY_FEATURES = {"width": 4, "dim": 16, "epochs": 1, "batch_size": 32}


def tiny_gan_params(model: dict | None = None, **train: object) -> GanParams:
    settings = dict(epochs=1, batch_size=16, n_critic=2, snapshots=2)
    settings.update(train)
    return GanParams.model_validate(
        {"model": {**TINY_MODEL, **(model or {})}, "train": settings, "features": TINY_FEATURES,
         "evaluate": {"samples": 200, "floor_images": 200, "batch_size": 100, "grid": 3}}
    )


# --- losses -------------------------------------------------------------------------------------


def test_gradient_penalty_of_a_linear_critic():
    # critic(x) = <w, x> has gradient w everywhere, so the penalty is (||w|| - 1)^2 exactly.
    w = torch.zeros(1, 28, 28)
    w[0, 0, :2] = torch.tensor([3.0, 4.0])  # ||w|| = 5

    def critic(x: torch.Tensor) -> torch.Tensor:
        return (x * w).flatten(1).sum(1)

    real, fake = torch.randn(8, 1, 28, 28), torch.randn(8, 1, 28, 28)
    assert float(losses.gradient_penalty(critic, real, fake)) == pytest.approx(16.0)
    w[0, 0, :2] = torch.tensor([0.6, 0.8])  # ||w|| = 1: no penalty
    assert float(losses.gradient_penalty(critic, real, fake)) == pytest.approx(0.0, abs=1e-10)


def test_losses_on_known_scores():
    d_real, d_fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])
    assert float(losses.critic_loss("wgan-gp", d_real, d_fake)) == pytest.approx(-1.0 - 2.0)
    assert float(losses.critic_loss("hinge", d_real, d_fake)) == pytest.approx((0 + 0) / 2 + (1 + 0) / 2)
    sp = lambda v: math.log1p(math.exp(v))  # noqa: E731
    assert float(losses.critic_loss("ns", d_real, d_fake)) == pytest.approx((sp(-1) + sp(-3)) / 2 + (sp(0) + sp(-2)) / 2)
    assert float(losses.generator_loss("wgan-gp", d_fake)) == pytest.approx(1.0)
    assert float(losses.generator_loss("ns", d_fake)) == pytest.approx((sp(0) + sp(2)) / 2)
    with pytest.raises(ValueError, match="unknown GAN loss 'lsgan'"):
        losses.critic_loss("lsgan", d_real, d_fake)


def test_uint8_round_trip():
    x = torch.arange(256, dtype=torch.uint8).repeat(7)[: 2 * 28 * 28].view(2, 28, 28)
    assert torch.equal(to_uint8(to_gan_input(x)), x)


# --- training -----------------------------------------------------------------------------------


def _fit_one_step(prepared: Path, n_critic: int, ema_decay: float) -> GAN:
    L.seed_everything(0)
    p = tiny_gan_params(n_critic=n_critic, ema_decay=ema_decay)
    module = GAN(p.model.model_dump(), p.train.model_dump())
    trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=1, limit_train_batches=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, datamodule=GanDataModule(prepared, p.train.batch_size, n_critic))
    return module


@pytest.mark.parametrize("n_critic", [1, 3])
def test_one_step_updates_critic_n_critic_times_and_generator_once(gan_prepared, n_critic):
    module = _fit_one_step(gan_prepared, n_critic, ema_decay=0.9)
    opt_g, opt_d = (o.optimizer if hasattr(o, "optimizer") else o for o in module.trainer.optimizers)
    g_steps = {int(opt_g.state[q]["step"]) for q in module.generator.parameters()}
    d_steps = {int(opt_d.state[q]["step"]) for q in module.critic.parameters()}
    assert g_steps == {1} and d_steps == {n_critic}
    assert int(module.g_ema.n_averaged) == 1
    assert module.trainer.global_step == n_critic + 1


def test_same_seed_same_weights(gan_prepared):
    a = _fit_one_step(gan_prepared, 2, ema_decay=0).generator.state_dict()
    b = _fit_one_step(gan_prepared, 2, ema_decay=0).generator.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_snapshot_epochs_spread_and_end_on_the_last():
    assert snapshot_epochs(20, 8) == [2, 5, 8, 10, 12, 15, 18, 20]
    assert snapshot_epochs(2, 8) == [1, 2]
    assert snapshot_epochs(5, 1) == [5]


# --- FID and coverage ---------------------------------------------------------------------------


class Identity(torch.nn.Module):
    num_features = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.double()


def test_fid_of_a_set_with_itself_is_zero_and_gaussians_match_the_closed_form():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 4, generator=g)
    metric = fidlib.fid_metric(Identity())
    fidlib.add_images(metric, a, real=True, batch_size=5000)
    assert fidlib.fid_against_real(metric, a, 5000) == pytest.approx(0.0, abs=1e-6)
    # N(0, I) vs N(1, 4I) in 4-d: ||mu1 - mu2||^2 + Tr(I + 4I - 2 * 2I) = 4 + 4.
    b = torch.randn(20000, 4, generator=g) * 2 + 1
    assert fidlib.fid_against_real(metric, b, 5000) == pytest.approx(8.0, rel=0.03)


def test_coverage_entropy():
    assert fidlib.entropy_bits(torch.full((10,), 0.1)) == pytest.approx(math.log2(10))
    assert fidlib.entropy_bits(fidlib.class_histogram(torch.zeros(50, dtype=torch.long), 10)) == 0.0


# --- stages -------------------------------------------------------------------------------------


@pytest.fixture
def gan_prepared(raw_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "gan_prepared"
    gan.preprocess(tiny_gan_params(), cpu_run(), raw_dir, out)
    return out


def test_preprocess_drops_duplicates(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    x, y = synthetic_images(300, 0)
    x[10] = x[3]  # a repeat inside train
    test_x, test_y = synthetic_images(100, 1)
    test_x[:5] = x[20:25]  # five test images that are training images
    for split, (xs, ys) in {"train": (x, y), "test": (test_x, test_y)}.items():
        images_file, _, labels_file, _ = FILES[split]
        write_idx(raw / images_file, xs)
        write_idx(raw / labels_file, ys)
    out = tmp_path / "prepared"
    gan.preprocess(tiny_gan_params(), cpu_run(), raw, out)
    stats = json.loads((out / "stats.json").read_text())
    assert stats == {"train_images_raw": 300, "test_images_raw": 100, "train_images": 299, "test_images": 95}
    with np.load(out / "test.npz") as z:
        assert len(z["x"]) == len(z["y"]) == 95


def baseline_file(feature_net: Path | None, folder: Path, fid: float = 50.0, digest: str | None = None) -> Path:
    """A baseline record (FID `fid`) measured in `feature_net`'s weights, or in the network `digest`."""
    if digest is None:
        digest = baselines.weights_digest(load_feature_net(feature_net)) if feature_net is not None else "0" * 16
    path = folder / "baseline.json"
    record = baselines.record({"fid": fid, "generator": "dcgan", "critic": "dcgan"}, "wgan-gp", digest, "test", "tests")
    path.write_text(record.model_dump_json())
    return path


@pytest.fixture
def feature_net(gan_prepared: Path, tmp_path: Path) -> Path:
    out = tmp_path / "gan_features"
    gan.features(tiny_gan_params(), cpu_run(), gan_prepared, out)
    return out


def test_feature_net_is_deterministic_and_reports_its_accuracy(gan_prepared, feature_net, tmp_path):
    again = tmp_path / "again"
    gan.features(tiny_gan_params(), cpu_run(), gan_prepared, again)
    a, b = (torch.load(d / "net.pt", weights_only=True)["state_dict"] for d in (feature_net, again))
    assert all(torch.equal(a[k], b[k]) for k in a)
    summary = json.loads((feature_net / "summary.json").read_text())
    assert 0 <= summary["test_acc"] <= 1 and summary["feature_dim"] == 16 and summary["steps"] == 400 // 32


def test_feature_net_has_its_own_seed_not_the_runs(gan_prepared, feature_net, tmp_path):
    """A GAN seed sweep (`-S seed=S`) scores every run in one network: the run's seed does not reach it,
    gan.features.seed does."""
    def weights(out: Path) -> dict:
        return torch.load(out / "net.pt", weights_only=True)["state_dict"]

    gan.features(tiny_gan_params(), cpu_run().model_copy(update={"seed": 7}), gan_prepared, tmp_path / "run_seed")
    a, b = weights(feature_net), weights(tmp_path / "run_seed")
    assert all(torch.equal(a[k], b[k]) for k in a)
    p = tiny_gan_params()
    p = p.model_copy(update={"features": p.features.model_copy(update={"seed": 7})})
    gan.features(p, cpu_run(), gan_prepared, tmp_path / "features_seed")
    c = weights(tmp_path / "features_seed")
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_train_then_evaluate_writes_everything(gan_prepared, feature_net, tmp_path):
    run = cpu_run()
    p = tiny_gan_params(epochs=2)
    models, live = tmp_path / "models", tmp_path / "live"
    gan.train(p, run, gan_prepared, models, live)
    assert sorted(f.name for f in (models / "snapshots").iterdir()) == ["epoch_001.pt", "epoch_002.pt"]
    summary = json.loads((models / "summary.json").read_text())
    assert summary["epochs"] == 2 and summary["generator_steps"] == 2 * (400 // (16 * 2))
    assert summary["time_budget_min"] == 0 and summary["stopped_by_budget"] is False

    metrics, plots = tmp_path / "gan.json", tmp_path / "plots"
    gan.evaluate(p, run, gan_prepared, models, feature_net, baseline_file(feature_net, tmp_path), live, metrics, plots)
    m = json.loads(metrics.read_text())
    expected = {"fid", "fid_baseline", "fid_vs_baseline", "feature_net_digest", "fid_floor", "fid_ratio", "precision", "recall", "precision_real", "recall_real", "feature_net_test_acc",
                "coverage_entropy_bits", "coverage", "generator_params", "critic_params", "generator_steps", "fid_curve",
                "train_wall_time_s", "train_device", "eval_wall_time_s", "eval_device"}
    assert expected <= set(m)
    assert m["fid"] > 0 and m["fid_floor"] > 0 and m["fid_ratio"] == pytest.approx(m["fid"] / m["fid_floor"], rel=1e-2)
    assert 0 <= m["precision"] <= 1 and 0 <= m["recall"] <= 1 and m["pr_images"] == 100  # the 100 test images
    assert m["feature_net_test_acc"] == json.loads((feature_net / "summary.json").read_text())["test_acc"]
    assert m["fid_baseline"] == 50.0 and m["fid_vs_baseline"] == pytest.approx(m["fid"] / 50.0, abs=1e-4)
    assert 0 <= m["coverage_entropy_bits"] <= math.log2(10) + 1e-9
    assert sum(m["coverage"].values()) == pytest.approx(1.0, abs=1e-3)
    for name in ("samples.png", "fid.png", "coverage.png", "curves.png", "fid.csv", "coverage.csv"):
        assert (plots / name).is_file(), name
    assert list(np.loadtxt(plots / "fid.csv", delimiter=",", skiprows=1, usecols=0)) == [1, 2]
    assert [r["generator_steps"] for r in m["fid_curve"]] == [12, 24] and m["fid_curve"][-1]["fid"] == m["fid"]


def test_compute_measures_everything_and_writes_nothing(gan_prepared, feature_net, tmp_path):
    from kexue.tasks.gan.evaluate import compute

    p, run = tiny_gan_params(), cpu_run()
    models = tmp_path / "models"
    gan.train(p, run, gan_prepared, models, tmp_path / "live")
    reference = baseline_file(feature_net, tmp_path, digest="0123456789abcdef")  # measured in another network
    before = sorted(tmp_path.rglob("*"))
    e = compute(p, run, gan_prepared, models, feature_net, reference)
    assert sorted(tmp_path.rglob("*")) == before
    m, s = e.metrics, e.scores
    assert m["fid"] == round(s.fid, 4) > 0 and m["fid_floor"] == round(s.floor, 6) > 0
    assert 0 <= m["precision"] <= 1 and 0 <= m["recall"] <= 1 and m["pr_images"] == 100
    assert s.gen_hist.sum().item() == pytest.approx(1.0) and s.test_hist.sum().item() == pytest.approx(1.0)
    assert e.grid.shape == (9, 28, 28) and e.grid.dtype == np.uint8 and e.grid_cols == 3
    assert [r["epoch"] for r in m["fid_curve"]] == [1] and m["fid_curve"][-1]["fid"] == m["fid"]
    # FIDs in different feature networks do not compare: the baseline is left out, not divided into
    assert m["fid_baseline"] is None and m["fid_vs_baseline"] is None and m["feature_net_digest"] != "0123456789abcdef"
    assert list(m)[-2:] == ["eval_wall_time_s", "eval_device"]


def test_evaluate_without_feature_net_names_the_missing_stage(gan_prepared, tmp_path):
    p, run = tiny_gan_params(), cpu_run()
    models = tmp_path / "models"
    gan.train(p, run, gan_prepared, models, tmp_path / "live")
    with pytest.raises(FileNotFoundError, match="gan_features/net.pt.*gan-features"):
        gan.evaluate(p, run, gan_prepared, models, tmp_path / "gan_features", baseline_file(None, tmp_path), tmp_path / "live",
                     tmp_path / "m.json", tmp_path / "e")
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.pop("fid"), r"baseline.json: fid: Field required"),
    (lambda d: d.update(fid=-1.0), r"baseline.json: fid: Input should be greater than 0"),
    (lambda d: d.update(colour="red"), r"baseline.json: colour: Extra inputs"),
    (None, r"baseline.json: no baseline file .*--record-baseline"),
])
def test_a_bad_baseline_file_fails_naming_the_file_and_key_before_any_scoring(gan_prepared, tmp_path, edit, match):
    path = baseline_file(None, tmp_path)
    if edit is None:
        path.unlink()
    else:
        record = json.loads(path.read_text())
        edit(record)
        path.write_text(json.dumps(record))
    p, run = tiny_gan_params(), cpu_run()
    # no checkpoint and no feature net: the baseline is read first, so its error is the one raised
    with pytest.raises(baselines.BaselineError, match=match):
        gan.evaluate(p, run, gan_prepared, tmp_path / "models", tmp_path / "none", path, tmp_path / "live", tmp_path / "m.json",
                     tmp_path / "e")
    assert not (tmp_path / "m.json").exists()


def test_record_baseline_keeps_the_run_and_refuses_metrics_from_another_network():
    metrics = {"fid": 23.5, "precision": 0.6, "recall": 0.4, "generator": "dcgan", "critic": "dcgan", "epochs": 60,
               "feature_net_digest": "aaaa", "coverage": {"Bag": 0.1}}
    b = baselines.record(metrics, "wgan-gp", "aaaa", "abc123", "test")
    assert (b.fid, b.recall, b.loss, b.feature_net_digest, b.commit) == (23.5, 0.4, "wgan-gp", "aaaa", "abc123")
    with pytest.raises(baselines.BaselineError, match="feature_net_digest aaaa is not the workspace's feature net"):
        baselines.record(metrics, "wgan-gp", "bbbb", "abc123", "test")
    with pytest.raises(baselines.BaselineError, match="no fid"):
        baselines.record({"generator": "dcgan", "critic": "dcgan"}, "wgan-gp", "aaaa", "abc123", "test")


# --- params -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "key", "why"),
    [
        (lambda d: d["gan"]["train"].update(loss="lsgan"), "gan.train.loss", "'wgan-gp', 'hinge' or 'ns'"),
        (lambda d: d["gan"]["train"].update(n_critic=0), "gan.train.n_critic", "greater than or equal to 1"),
        (lambda d: d["gan"]["quick"]["train"].update(n_critic=0), "gan.quick.train.n_critic", "greater than or equal to 1"),
        (lambda d: d["gan"]["model"].update(spectral=True), "gan.model.spectral", "unknown key"),
        (lambda d: d["gan"]["train"].update(ema_decay=1.5), "gan.train.ema_decay", "less than 1"),
        (lambda d: d["gan"]["train"].update(ema_decay=False), "gan.train.ema_decay", "not a boolean such as `off`"),
        (lambda d: d["gan"]["quick"]["train"].update(ema_decay=-0.1), "gan.quick.train.ema_decay", "greater than or equal to 0"),
        (lambda d: d["gan"]["train"].update(ema=0.999), "gan.train.ema", "unknown key"),
        (lambda d: d["gan"]["model"].update(generator="stylegan"), "gan.model.generator", "'dcgan', 'resnet' or 'selfmod'"),
        (lambda d: d["gan"]["model"].update(critic="selfmod"), "gan.model.critic", "'dcgan' or 'resnet'"),
        (lambda d: d["gan"]["model"].update(upsample="bilinear"), "gan.model.upsample", "'auto', 'transposed' or 'nearest'"),
        (lambda d: d["gan"]["train"].update(time_budget_min=-1), "gan.train.time_budget_min", "greater than or equal to 0"),
        (lambda d: d["gan"]["features"].update(width=0), "gan.features.width", "greater than or equal to 1"),
        (lambda d: d["gan"]["quick"]["features"].update(epochs=0), "gan.quick.features.epochs", "greater than or equal to 1"),
        (lambda d: d["gan"]["evaluate"].update(pr_k=0), "gan.evaluate.pr_k", "greater than or equal to 1"),
    ],
)
def test_bad_params_name_the_key(tmp_path, edit, key, why):
    path = params_file(tmp_path, edit)
    with pytest.raises(ParamsError) as err:
        load(path, "gan", GanParams, known_tasks=tasks.TASKS)
    assert key in str(err.value) and why in str(err.value)


@pytest.mark.parametrize("value", [0, 0.0])  # written to YAML as `0` and `0.0`
def test_ema_off(tmp_path, value):
    path = params_file(tmp_path, lambda d: d["gan"]["train"].update(ema_decay=value))
    _, p = load(path, "gan", GanParams, known_tasks=tasks.TASKS)
    assert p.train.ema_decay == 0 and GAN(p.model.model_dump(), p.train.model_dump()).g_ema is None


def test_cli_has_no_download_stage_for_gan_and_a_features_stage(capsys):
    assert tasks.stages("gan") == ("preprocess", "features", "train", "evaluate")
    with pytest.raises(SystemExit):
        main(["gan", "download", "--raw", "x"])
    assert "invalid choice: 'download'" in capsys.readouterr().err


def test_killed_run_resumes_with_its_ema_and_snapshots(gan_prepared, tmp_path, monkeypatch):
    import importlib

    train_mod = importlib.import_module("kexue.tasks.gan.train")
    p, run = tiny_gan_params(epochs=3, snapshots=3, ema_decay=0.9), cpu_run()
    models, live = tmp_path / "models", tmp_path / "live"
    real_build = train_mod.build_trainer

    def build_with_kill(*args, callbacks=None, **kwargs):
        return real_build(*args, callbacks=[*(callbacks or []), KillAfterFirstEpoch()], **kwargs)

    monkeypatch.setattr(train_mod, "build_trainer", build_with_kill)
    with pytest.raises(Killed):
        gan.train(p, run, gan_prepared, models, live)
    assert [f.name for f in (models / "snapshots").iterdir()] == ["epoch_001.pt"]

    monkeypatch.setattr(train_mod, "build_trainer", real_build)
    gan.train(p, run, gan_prepared, models, live)
    steps = 3 * (400 // (16 * 2))
    assert json.loads((models / "summary.json").read_text())["generator_steps"] == steps
    ckpt = torch.load(models / "last.ckpt", map_location="cpu", weights_only=False)
    # The EMA went on counting from the checkpoint instead of starting over.
    assert int(ckpt["state_dict"]["g_ema.n_averaged"]) == steps
    assert sorted(f.name for f in (models / "snapshots").iterdir()) == ["epoch_001.pt", "epoch_002.pt", "epoch_003.pt"]
