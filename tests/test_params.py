"""params: unknown keys, wrong types and out-of-range values fail with the key's name."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kexue import tasks
from kexue.__main__ import main
from kexue.params import ParamsError, load
from kexue.tasks.fashion.params import FashionParams
from tests.conftest import params_file

REPO = Path(__file__).resolve().parents[1]


def _load(path: Path):
    return load(path, "fashion", FashionParams, known_tasks=tasks.TASKS)


def test_repo_params_are_valid():
    run, p = _load(REPO / "params.yaml")
    assert run.profile == "full" and p.train.epochs >= 1


@pytest.mark.parametrize(
    ("edit", "key", "why"),
    [
        (lambda d: d["fashion"]["train"].update(lrr=0.1), "fashion.train.lrr", "unknown key"),
        (lambda d: d["fashion"]["train"].update(lr=-0.1), "fashion.train.lr", "greater than 0"),
        (lambda d: d["fashion"]["train"].update(epochs="many"), "fashion.train.epochs", "valid integer"),
        (lambda d: d["fashion"]["train"].update(optimizer="lbfgs"), "fashion.train.optimizer", "'sgd' or 'adamw'"),
        (lambda d: d["fashion"]["train"].update(augment="flip+rotate"), "fashion.train.augment", "rotate"),
        (lambda d: d["trainer"].update(num_nodes=0), "trainer.num_nodes", "greater than or equal to 1"),
        (lambda d: d["fashion"]["quick"]["train"].update(batch_size=0), "fashion.quick.train.batch_size", ">= 1"),
        (lambda d: d.update(profile="fast"), "profile", "'full' or 'quick'"),
    ],
)
def test_bad_params_name_the_key(tmp_path, edit, key, why):
    with pytest.raises(ParamsError) as err:
        _load(params_file(tmp_path, edit))
    msg = str(err.value)
    assert f"  {key}:" in msg, msg
    assert why.replace(">= 1", "greater than or equal to 1") in msg, msg
    assert str(tmp_path / "params.yaml") in msg


def test_unknown_top_level_key(tmp_path):
    with pytest.raises(ParamsError, match="unknown top-level key.*'fashon'"):
        _load(params_file(tmp_path, lambda d: d.update(fashon={})))


def test_quick_profile_applies_overrides(tmp_path):
    run, p = _load(params_file(tmp_path, lambda d: d.update(profile="quick")))
    quick = yaml.safe_load((REPO / "params.yaml").read_text())["fashion"]["quick"]
    assert run.profile == "quick"
    assert p.train.epochs == quick["train"]["epochs"] and p.model.width == quick["model"]["width"]
    _, full = _load(REPO / "params.yaml")
    assert p.data == full.data  # keys the overrides leave alone keep their full values


def test_command_line_reports_bad_params_without_traceback(tmp_path, capsys):
    path = params_file(tmp_path, lambda d: d["fashion"]["train"].update(lr=-1))
    rc = main(["fashion", "train", "--params", str(path), "--prepared", "x", "--models", "y", "--live", "z"])
    err = capsys.readouterr().err
    assert rc == 2 and "fashion.train.lr" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--help"], ["fashion", "--help"], ["fashion", "train", "--help"]])
def test_command_line_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0 and "usage: python -m kexue" in capsys.readouterr().out
