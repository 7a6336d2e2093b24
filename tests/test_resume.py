"""Resuming with real processes: the stage command killed with SIGKILL mid-epoch, then rerun, ends
where an uninterrupted run ends; a finished run whose code then changes is trained anew."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from tests.conftest import REPO, cpu_run, tiny_params, write_raw

pytestmark = pytest.mark.slow

TRAIN = {"epochs": 3, "batch_size": 16, "optimizer": "adamw", "lr": 1e-2, "warmup_epochs": 0, "ema_decay": 0.0,
         "augment": "flip"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the code and dvc.yaml (the fingerprint reads the stage's deps from it), tiny params,
    and prepared data big enough that an epoch takes a moment (1,200 training images, 75 steps)."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy2(REPO / "dvc.yaml", root / "dvc.yaml")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["trainer"].update(accelerator="cpu", devices=1, progress_bar=False)
    params["fashion"]["model"]["width"] = 0.25
    params["fashion"]["train"].update(TRAIN)
    params["fashion"]["data"]["val_size"] = 100
    (root / "params.yaml").write_text(yaml.safe_dump(params))

    from kexue.tasks.fashion import preprocess

    preprocess(tiny_params(), cpu_run(), write_raw(tmp_path / "raw", train=1300), root / "data/prepared")
    return root


def _train_cmd(models: str) -> list[str]:
    return [sys.executable, "-m", "kexue", "fashion", "train", "--prepared", "data/prepared",
            "--models", models, "--live", f"{models}-live"]


def _env(root: Path) -> dict[str, str]:
    # the copy's code, one thread: the same float order in every process
    return {**os.environ, "PYTHONPATH": str(root / "src"), "OMP_NUM_THREADS": "1"}


def _train(root: Path, models: str) -> str:
    proc = subprocess.run(_train_cmd(models), cwd=root, env=_env(root), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def _last_epoch(ckpt: Path) -> int | None:
    try:
        return torch.load(ckpt, map_location="cpu", weights_only=False)["epoch"]
    except Exception:  # not there yet, or being written
        return None


def _weights(ckpt: Path) -> dict[str, torch.Tensor]:
    return torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]


def test_sigkill_mid_epoch_then_rerun_resumes_and_ends_as_an_uninterrupted_run(project):
    root = project
    proc = subprocess.Popen(_train_cmd("killed"), cwd=root, env=_env(root), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    last = root / "killed/last.ckpt"
    deadline = time.monotonic() + 300
    while _last_epoch(last) != 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # into the second epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the training ended before it could be killed mid-run"
    assert _last_epoch(last) == 0 and not (root / "killed/summary.json").exists(), "not killed in epoch 2"

    log = _train(root, "killed")  # the rerun, as `dvc repro` would run it
    assert "resuming from killed/last.ckpt" in log
    _train(root, "whole")  # the same params and data, never interrupted

    resumed = json.loads((root / "killed/summary.json").read_text())
    whole = json.loads((root / "whole/summary.json").read_text())
    assert resumed["steps"] == whole["steps"] == 3 * (1200 // 16)
    assert resumed["best_val_acc"] == whole["best_val_acc"]
    a, b = _weights(root / "killed/last.ckpt"), _weights(root / "whole/last.ckpt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    curve = [pd.read_csv(root / f"{m}-live/plots/metrics/val/acc.tsv", sep="\t")["acc"].tolist() for m in ("killed", "whole")]
    assert curve[0] == curve[1] and len(curve[0]) == 3


def test_a_finished_run_is_trained_anew_after_its_code_changes(project):
    root = project
    _train(root, "models")
    before = _weights(root / "models/best.ckpt")
    log = _train(root, "models")
    assert "resuming from models/last.ckpt" in log  # nothing changed: the finished run stands

    written = (root / "models/best.ckpt").stat().st_mtime_ns

    with open(root / "src/kexue/tasks/fashion/model.py", "a") as f:
        f.write("\n# an edit of the model's code\n")
    log = _train(root, "models")
    assert "resuming" not in log and "starting a fresh run" in log
    assert (root / "models/best.ckpt").stat().st_mtime_ns != written  # trained and saved again
    summary = json.loads((root / "models/summary.json").read_text())
    assert summary["steps"] == 3 * (1200 // 16)
    stored = json.loads((root / "models/fingerprint.json").read_text())["config"]["code"]
    assert "src/kexue/tasks/fashion/model.py" in stored and "src/kexue/training.py" in stored
    # the same program again gives the same weights: the edit is a comment
    after = _weights(root / "models/best.ckpt")
    assert all(torch.equal(before[k], after[k]) for k in before)
