"""benchmarks/tricks.py: its dvc commands set valid params, and its collector reads `dvc exp show --json`
(a hand-made one; no dvc runs)."""

from __future__ import annotations

import importlib.util
import shutil
import sys

import pytest

from kexue import tasks
from kexue.params import load
from kexue.tasks.fashion.params import FashionParams
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
_spec = importlib.util.spec_from_file_location("tricks", REPO / "benchmarks" / "tricks.py")
tricks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tricks)


def _set_params(cmd: list[str]) -> list[str]:
    return [cmd[i + 1] for i, a in enumerate(cmd) if a == "-S"]


@pytest.mark.parametrize("stage", ["short", "long"])
def test_every_command_sets_params_that_load(tmp_path, stage):
    """Each experiment's `-S` overrides, applied by dvc itself to a copy of params.yaml, load and set the
    variant's keys under profile budget."""
    from dvc.utils.hydra import apply_overrides

    cmds = tricks.queue_commands(stage, (1, 2), ["act-gelu", "mixup", "ema"])
    names = [c[c.index("-n") + 1] for c in cmds]
    assert len(names) == len(set(names)) and all(c[-1] == "fashion-evaluate" for c in cmds)
    if stage == "short":
        assert len(cmds) == 2 * len(tricks.VARIANTS)
    else:  # baseline, three winners, their combination, the two Lipschitz variants
        assert {tricks.NAME.match(n)[2] for n in names} == {"baseline", "act-gelu", "mixup", "ema", "combined",
                                                             "spectral-reg", "spectral-norm"}
    for cmd in cmds:
        path = tmp_path / "params.yaml"
        shutil.copy(REPO / "params.yaml", path)
        apply_overrides(path, _set_params(cmd))
        run, p = load(path, "fashion", FashionParams, known_tasks=tasks.TASKS)
        variant = tricks.NAME.match(cmd[cmd.index("-n") + 1])[2]
        settings = tricks.combine(["act-gelu", "mixup", "ema"]) if variant == "combined" else tricks.VARIANTS[variant]
        if stage == "short":
            settings = {**tricks.SHORT_SETTINGS, **settings}
        assert run.profile == "budget" and run.seed in (1, 2)
        settings = {**tricks.RECIPE, **settings}  # the baseline the sweep measured against, pinned
        for key, value in settings.items():
            section, name = key.split(".")
            assert getattr(getattr(p, section), name) == value, (cmd, key)


def _exp(name: str, rev: str, acc: float | None, budget: dict | None = None, **metrics: float) -> dict:
    data = {"rev": rev, "params": {"params.yaml": {"data": {"profile": "budget", "seed": 1, "fashion": {"budget": budget or {}}}}},
            "metrics": {} if acc is None else {"metrics/fashion.json": {"data": {"test_acc": acc, "train_wall_time_s": 150.0, **metrics}}}}
    return {"executor": None, "name": name, "revs": [{"rev": rev, "name": name, "data": data, "experiments": None}]}


def test_collector_tables_each_variant_against_the_baseline(tmp_path):
    short = {"train": {"epochs": 2}}
    exps = [
        _exp("tricks-short-baseline-seed1", "a1", 0.90, short),
        _exp("tricks-short-baseline-seed2", "a2", 0.92, short),
        _exp("tricks-short-act-gelu-seed1", "b1", 0.93, {"train": {"epochs": 2}, "model": {"activation": "gelu"}}),
        _exp("tricks-short-act-gelu-seed2", "b2", 0.93, {"train": {"epochs": 2}, "model": {"activation": "gelu"}}),
        _exp("tricks-short-act-mish-seed1", "c1", 0.925, {"train": {"epochs": 2}, "model": {"activation": "mish"}}),
        _exp("tricks-short-mixup-seed1", "d1", 0.915, {"train": {"epochs": 2, "mixup_alpha": 0.2}}),
        _exp("tricks-short-ema-seed1", "e1", 0.80, {"train": {"epochs": 2, "ema_decay": 0.99}}),
        _exp("tricks-short-spectral-norm-seed1", "f1", None),  # failed: no metrics
        _exp("quick", "g1", 0.89),  # not a tricks experiment
        _exp("tricks-long-baseline-seed1", "h1", 0.93, generalisation_gap=0.02, test_acc_noise_sigma0_1=0.8),
    ]
    shown = [{"rev": "workspace", "name": None, "data": {"rev": "workspace", "params": {}, "metrics": {}}, "experiments": None},
             {"rev": "main0", "name": "main", "data": {"rev": "main0", "params": {}, "metrics": {}}, "experiments": exps}]
    rows = tricks.tricks_runs(shown)
    assert [r["name"] for r in rows if r["stage"] == "short"] == sorted(
        ["tricks-short-act-gelu-seed1", "tricks-short-act-gelu-seed2", "tricks-short-act-mish-seed1",
         "tricks-short-baseline-seed1", "tricks-short-baseline-seed2", "tricks-short-ema-seed1", "tricks-short-mixup-seed1"],
        key=lambda n: (n.rsplit("-seed", 1)[0], n))
    summary = {s["variant"]: s for s in tricks.summarize(rows, "short")}
    assert summary["baseline"]["runs"] == 2 and summary["baseline"]["test_acc_mean"] == pytest.approx(0.91)
    assert summary["act-gelu"]["delta_pp"] == pytest.approx(2.0) and summary["act-gelu"]["test_acc_std"] == 0
    assert summary["ema"]["delta_pp"] == pytest.approx(-11.0) and summary["mixup"]["test_acc_std"] is None
    # one activation at most: mish is better than the baseline but gelu took the key
    assert tricks.winners(tricks.summarize(rows, "short"), 3) == ["act-gelu", "mixup"]
    assert tricks.combine(["act-gelu", "mixup"]) == {"model.activation": "gelu", "train.mixup_alpha": 0.2}

    tricks.write_results(rows, tmp_path)
    md = (tmp_path / "tricks.md").read_text()
    assert "| act-gelu | `model.activation=gelu` | 2 | 93.00% ± 0.00 | +2.00 | 150 |" in md
    assert "| baseline | the budget recipe | 2 | 91.00% ± 1.41 | +0.00 |" in md
    assert "## full budget" in md and "noise_sigma0_1 |" in md and "| 2.00% | 80.00% |" in md
    assert (tmp_path / "tricks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(__import__("json").loads((tmp_path / "experiments.json").read_text())) == 8


def test_a_winner_must_train_within_the_baselines_time():
    """The budget is wall-clock: a trick that beats the baseline only by training much slower (mish on a
    CPU) is not sent to the long stage, whose runs keep the budget's epochs."""
    def s(variant, delta, seconds):
        return {"variant": variant, "delta_pp": delta, "train_wall_time_s": seconds}
    summary = [s("baseline", 0.0, 130.0), s("act-mish", 0.6, 245.0), s("act-leaky_relu", 0.35, 134.0),
               s("grad-clip-norm", 0.2, 140.0), s("mixup", -0.4, 125.0)]
    assert tricks.winners(summary, 2) == ["act-leaky_relu", "grad-clip-norm"]
    assert tricks.winners(summary, 2, slower=1.0) == ["act-mish", "grad-clip-norm"]
    assert tricks.winners(summary, 2, slower=0.05) == ["act-leaky_relu"]


def test_dry_run_prints_and_runs_nothing(capsys, tmp_path):
    assert tricks.main(["--stage", "short", "--dry-run", "--seeds", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("$ dvc exp run --queue") == len(tricks.VARIANTS) and "$ dvc queue start -j 1" in out
    assert not any(tmp_path.iterdir())


def test_a_later_chunk_queues_only_what_is_not_collected(capsys, tmp_path):
    """The sweep spans sessions: experiments already in the committed experiments.json are not queued
    again, unless --rerun."""
    (tmp_path / "experiments.json").write_text('[{"name": "tricks-short-baseline-seed1"}, {"name": "tricks-short-mixup-seed1"}]')
    assert tricks.main(["--stage", "short", "--dry-run", "--seeds", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("$ dvc exp run --queue") == len(tricks.VARIANTS) - 2
    assert "tricks-short-baseline-seed1" not in out and "tricks-short-mixup-seed1" not in out
    assert "tricks-short-ema-seed1" in out
    assert tricks.main(["--stage", "short", "--dry-run", "--seeds", "1", "--out", str(tmp_path), "--rerun"]) == 0
    assert capsys.readouterr().out.count("$ dvc exp run --queue") == len(tricks.VARIANTS)


def test_a_dead_queue_worker_is_started_again(monkeypatch):
    """dvc's queue worker can die mid-sweep (treeverse/dvc-task#73), leaving experiments queued and none
    running: the wait starts a worker again after two such checks (not after one: between two experiments
    the worker takes the next within seconds), then waits until the queue is empty."""
    import exp_queue

    seen = iter([(3, 1), (2, 0), (2, 0), (2, 0), (1, 1), (0, 0)])
    started = []
    monkeypatch.setattr(exp_queue, "run", lambda cmd, dry_run: started.append(cmd) or "")
    monkeypatch.setattr(exp_queue.time, "sleep", lambda s: None)
    exp_queue.wait_for_queue(60.0, 2, counts=lambda: next(seen))
    assert started == [["dvc", "queue", "start", "-j", "2"]]
    assert next(seen, "drained") == "drained"
