"""benchmarks/quick_runs.py: each task's quick run timed and its headline metric read back from a
hand-made `dvc exp show --json` (no dvc runs); the report's quick column reads what it writes."""

from __future__ import annotations

import importlib.util
import json
import subprocess

import pytest

from kexue import report
from tests.conftest import REPO

_spec = importlib.util.spec_from_file_location("quick_runs", REPO / "benchmarks" / "quick_runs.py")
quick_runs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(quick_runs)


def _shown(name: str, metrics: dict) -> list:
    data = {"rev": "rev-1", "params": {"params.yaml": {"data": {"profile": "quick"}}},
            "metrics": {"metrics/captcha.json": {"data": metrics}}}
    return [{"rev": "main", "data": {"rev": "main", "params": {}, "metrics": {}}},
            {"experiments": [{"name": name, "revs": [{"rev": "rev-1", "name": name, "data": data, "experiments": None}]}]}]


@pytest.mark.parametrize("exit_code, metrics, value", [(0, {"test_string_acc": 0.74}, 0.74), (0, {}, None), (2, {"test_string_acc": 0.74}, None)])
def test_each_task_is_timed_and_its_metric_read_back(tmp_path, monkeypatch, exit_code, metrics, value):
    ran = []

    def fake_run(cmd, cwd):
        ran.append(cmd)
        return subprocess.CompletedProcess(cmd, exit_code)

    monkeypatch.setattr(quick_runs.subprocess, "run", fake_run)
    monkeypatch.setattr(quick_runs.exp_queue, "exp_show", lambda: _shown(ran[-1][5], metrics))
    assert quick_runs.main(["captcha", "--out", str(tmp_path)]) == 0
    assert ran[0][:5] == ["dvc", "exp", "run", "--temp", "-n"] and ran[0][5].startswith("quick-captcha-")
    assert ran[0][6:] == ["-S", "profile=quick", "captcha-evaluate"]
    saved = json.loads((tmp_path / "quick.json").read_text())["tasks"]["captcha"]
    assert saved["value"] == value and saved["exit_code"] == exit_code and saved["seconds"] >= 0
    assert ("failed" in (tmp_path / "quick.md").read_text()) == (value is None)
    # the report's quick column reads the file
    quick = report.load_quick(tmp_path / "quick.json")
    targets = report.load_targets(REPO / "metrics" / "targets.yaml")
    cell = report.TaskReport("captcha", targets["captcha"], None, quick["captcha"]).quick_text()
    assert cell == ("74.00% in 0 s" if value is not None else "failed after 0 s")


def test_an_unknown_task_is_refused_naming_it(capsys):
    with pytest.raises(SystemExit):
        quick_runs.main(["nope"])
    assert "nope" in capsys.readouterr().err
