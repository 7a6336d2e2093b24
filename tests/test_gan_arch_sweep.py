"""benchmarks/gan_arch.py: its dvc commands set valid params, and its collector reads `dvc exp show
--json` (a hand-made one; no dvc runs) into the table and the two PNGs."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys

import pytest

from kexue import tasks
from kexue.params import load
from kexue.tasks.gan import baseline as baselines
from kexue.tasks.gan.params import GanParams
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
_spec = importlib.util.spec_from_file_location("gan_arch", REPO / "benchmarks" / "gan_arch.py")
gan_arch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gan_arch)

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("stage", ["short", "long"])
def test_every_command_sets_params_that_load(tmp_path, stage):
    """Each experiment's `-S` overrides, applied by dvc itself to a copy of params.yaml, load and set the
    configuration's keys, the loss and the budget."""
    from dvc.utils.hydra import apply_overrides

    cmds = gan_arch.queue_commands(stage, (1, 2), [("selfmod", "hinge"), ("resnet", "wgan-gp")])
    names = [c[c.index("-n") + 1] for c in cmds]
    assert len(names) == len(set(names)) and all(c[-1] == "gan-evaluate" for c in cmds)
    pairs = {gan_arch.NAME.match(n).group(2, 3) for n in names}
    if stage == "short":
        assert len(cmds) == 2 * len(gan_arch.CONFIGS) * len(gan_arch.LOSSES) and len(pairs) == 10
    else:  # the winners only: today's default is the recorded baseline, not rerun
        assert pairs == {("selfmod", "hinge"), ("resnet", "wgan-gp")} and len(cmds) == 4
    for cmd in cmds:
        path = tmp_path / "params.yaml"
        shutil.copy(REPO / "params.yaml", path)
        apply_overrides(path, [cmd[i + 1] for i, a in enumerate(cmd) if a == "-S"])
        run, p = load(path, "gan", GanParams, known_tasks=tasks.TASKS)
        _, _, config, loss, seed = gan_arch.NAME.match(cmd[cmd.index("-n") + 1]).group(0, 1, 2, 3, 4)
        assert run.profile == "full" and run.seed == int(seed) and p.train.loss == loss
        assert p.train.time_budget_min == gan_arch.BUDGET_MIN[stage] and p.train.epochs == gan_arch.EPOCHS
        for key, value in gan_arch.CONFIGS[config].items():
            assert getattr(p.model, key) == value, (cmd, key)


def _exp(name: str, rev: str, fid: float | None, model: dict | None = None, **metrics: object) -> dict:
    curve = [{"epoch": 1.5, "generator_steps": 100, "train_time_s": 200.0, "fid": (fid or 0) * 2},
             {"epoch": 3, "generator_steps": 200, "train_time_s": 600.0, "fid": fid}]
    data = {"rev": rev, "params": {"params.yaml": {"data": {"seed": 1, "gan": {"model": model or {}, "train": {"time_budget_min": 10}}}}},
            "metrics": {} if fid is None else {"metrics/gan.json": {"data": {
                "fid": fid, "fid_floor": 0.01, "precision": 0.8, "recall": 0.4, "generator_steps": 200, "generator_params": 448881,
                "critic_params": 44353, "feature_net_test_acc": 0.9, "feature_net_digest": "d" * 16, "fid_curve": curve, **metrics}}}}
    return {"executor": None, "name": name, "revs": [{"rev": rev, "name": name, "data": data, "experiments": None}]}


def test_collector_tables_each_configuration(tmp_path):
    exps = [
        _exp("gan-arch-short-dcgan-wgan-gp-seed1", "a1", 40.0, fid_without_ema=37.0),
        _exp("gan-arch-short-dcgan-wgan-gp-seed2", "a2", 44.0, fid_without_ema=39.0),
        _exp("gan-arch-short-dcgan-sn-hinge-seed1", "b1", 30.0, {"spectral_norm": True}, precision=0.9),
        _exp("gan-arch-short-dcgan-sn-hinge-seed2", "b2", 30.0, {"spectral_norm": True}, precision=0.9, fid_without_ema=25.0),
        _exp("gan-arch-short-selfmod-hinge-seed1", "c1", 35.0, {"generator": "selfmod", "critic": "resnet"}, generator_params=493745),
        _exp("gan-arch-short-resnet-wgan-gp-seed1", "d1", None),  # failed: no metrics
        _exp("quick", "e1", 41.0),  # not a gan-arch experiment
        _exp("gan-arch-long-dcgan-sn-hinge-seed1", "f1", 12.0),
        # scored in a feature net of its own (gan-features trained with the run's seed): not comparable
        _exp("gan-arch-short-resnet-hinge-seed1", "g1", 5.0, {"generator": "resnet", "critic": "resnet"}, feature_net_digest="e" * 16),
    ]
    shown = [{"rev": "workspace", "name": None, "data": {"rev": "workspace", "params": {}, "metrics": {}}, "experiments": None},
             {"rev": "main0", "name": "main", "data": {"rev": "main0", "params": {}, "metrics": {}}, "experiments": exps}]
    rows = gan_arch.arch_runs(shown)
    assert [(r["stage"], r["config"], r["loss"], r["seed"]) for r in rows] == [
        ("long", "dcgan-sn", "hinge", 1), ("short", "dcgan", "wgan-gp", 1), ("short", "dcgan", "wgan-gp", 2),
        ("short", "dcgan-sn", "hinge", 1), ("short", "dcgan-sn", "hinge", 2), ("short", "resnet", "hinge", 1),
        ("short", "selfmod", "hinge", 1)]
    baseline = baselines.record({"fid": 84.0, "recall": 0.6, "generator": "dcgan", "critic": "dcgan", "epochs": 60,
                                 "generator_steps": 11220, "train_wall_time_s": 4389.0}, "wgan-gp", "d" * 16, "abcdef123", "test")
    scored, other_net = gan_arch.split_by_net(rows, baseline)
    assert [r["name"] for r in other_net] == ["gan-arch-short-resnet-hinge-seed1"]
    assert gan_arch.split_by_net(rows, None) == (rows, [])
    summary = gan_arch.summarize(scored, "short")
    assert [(s["config"], s["loss"]) for s in summary] == [("dcgan-sn", "hinge"), ("selfmod", "hinge"), ("dcgan", "wgan-gp")]
    assert summary[2]["runs"] == 2 and summary[2]["fid_mean"] == 42.0 and summary[2]["fid_std"] == pytest.approx(2 ** 1.5)
    assert gan_arch.winners(summary, 2) == [("dcgan-sn", "hinge"), ("selfmod", "hinge")]

    read = []
    gan_arch.write_results(rows, tmp_path, read=lambda rev, path: read.append((rev, path)) or (None if rev == "c1" else _png(tmp_path)),
                           baseline=baseline)
    md = (tmp_path / "gan_arch.md").read_text()
    assert "| dcgan | defaults | wgan-gp | 2 | 42.00 ± 2.83 | 38.00 | 0.800 | 0.400 | 200 | 448,881 | 44,353 | 0.50 |" in md
    assert "commit abcdef1" in md and "FID 84.00, precision –, recall 0.600" in md and "11,220 steps in 73 minutes" in md
    # FID without EMA: a mean over every run or none (seed 1 of dcgan-sn has none)
    assert "| dcgan-sn | `spectral_norm=true` | hinge | 2 | 30.00 ± 0.00 | – | 0.900 |" in md
    assert "| selfmod | `generator=selfmod`, `critic=resnet` | hinge | 1 | 35.00 | – | 0.800 | 0.400 | 200 | 493,745 |" in md
    assert "## 80-minute budget (long stage)" in md and "test accuracy 90.00%" in md
    # the other network's run: listed apart, in no ranked row (its FID 5.0 would have been the best)
    assert "| gan-arch-short-resnet-hinge-seed1 | eeeeeeeeeeeeeeee | 5.00 | 0.800 | 0.400 | 200 |" in md
    assert "| resnet |" not in md
    # one grid per (configuration, loss), from the long stage where it ran there
    assert sorted(read) == [("a1", gan_arch.SAMPLES), ("c1", gan_arch.SAMPLES), ("f1", gan_arch.SAMPLES)]
    for name in ("samples.png", "fid_over_time.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG, name
    # the grids drawn are kept beside the results, and drawn from there once the experiments are gone
    assert sorted(p.name for p in (tmp_path / "grids").iterdir()) == [
        "gan-arch-long-dcgan-sn-hinge-seed1.png", "gan-arch-short-dcgan-wgan-gp-seed1.png"]
    gone = []
    gan_arch.samples_figure(scored, tmp_path / "again.png", read=lambda rev, path: gone.append(rev))
    assert (tmp_path / "again.png").read_bytes()[:8] == PNG and sorted(gone) == ["a1", "c1", "f1"]
    long_run = next(r for r in scored if r["stage"] == "long")
    assert gan_arch.sample_grid(long_run, tmp_path, read=lambda rev, path: None) == _png(tmp_path)
    assert len(json.loads((tmp_path / "experiments.json").read_text())) == 7


def _png(tmp_path) -> bytes:
    import numpy as np

    from kexue import plots

    path = tmp_path / "grid" / "samples.png"
    if not path.is_file():
        plots.image_grid_png(np.zeros((4, 28, 28), dtype=np.uint8), path, "grid", 2)
    return path.read_bytes()


def test_dry_run_prints_and_runs_nothing(capsys, tmp_path):
    assert gan_arch.main(["--stage", "short", "--dry-run", "--seeds", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("$ dvc exp run --queue") == len(gan_arch.CONFIGS) * len(gan_arch.LOSSES) and "$ dvc queue start -j 1" in out
    assert "gan.train.time_budget_min=10" in out and not any(tmp_path.iterdir())
    assert gan_arch.main(["--stage", "long", "--dry-run", "--winners", "resnet:hinge", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("$ dvc exp run --queue") == 2  # resnet:hinge, 2 seeds
    with pytest.raises(SystemExit):
        gan_arch.main(["--stage", "long", "--dry-run", "--winners", "stylegan:hinge"])


def test_a_run_scored_in_another_feature_net_is_queued_again(capsys, tmp_path):
    baseline = baselines.record({"fid": 84.0, "recall": 0.6, "generator": "dcgan", "critic": "dcgan", "epochs": 60,
                                 "generator_steps": 11220, "train_wall_time_s": 4389.0}, "wgan-gp", "d" * 16, "abcdef123", "test")
    (tmp_path / "baseline.json").write_text(baseline.model_dump_json())
    done = [{"name": "gan-arch-short-dcgan-wgan-gp-seed1", "metrics": {"fid": 400.0, "feature_net_digest": "d" * 16}},
            {"name": "gan-arch-short-dcgan-hinge-seed1", "metrics": {"fid": 600.0, "feature_net_digest": "e" * 16}}]
    (tmp_path / "experiments.json").write_text(json.dumps(done))
    assert gan_arch.main(["--stage", "short", "--dry-run", "--seeds", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("$ dvc exp run --queue") == len(gan_arch.CONFIGS) * len(gan_arch.LOSSES) - 1
    assert "-n gan-arch-short-dcgan-wgan-gp-seed1 " not in out and "-n gan-arch-short-dcgan-hinge-seed1 " in out


def test_fid_curves_come_from_the_experiment_commit_where_dvc_exp_show_leaves_them_out():
    curve = [{"epoch": 1, "generator_steps": 10, "train_time_s": 60.0, "fid": 900.0}]
    rows = [{"name": "a", "rev": "r1", "metrics": {"fid": 1.0, "fid_curve": None}},
            {"name": "b", "rev": "r2", "metrics": {"fid": 2.0, "fid_curve": curve}},
            {"name": "c", "rev": "r3", "metrics": {"fid": 3.0}}]
    files = {("r1", "metrics/gan.json"): json.dumps({"fid_curve": curve}).encode()}
    read = []
    out = gan_arch.with_curves(rows, read=lambda rev, path: read.append(rev) or files.get((rev, path)))
    assert out[0]["metrics"]["fid_curve"] == curve and out[1]["metrics"]["fid_curve"] is curve
    assert out[2]["metrics"].get("fid_curve") is None and read == ["r1", "r3"]  # r2 had its curve: not read
