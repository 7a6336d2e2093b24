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


@pytest.mark.parametrize("profile", ["full", "quick"])
@pytest.mark.parametrize("task", tasks.TASKS)
def test_repo_params_load_for_every_task(tmp_path, task, profile):
    run, p = load(params_file(tmp_path, lambda d: d.update(profile=profile)), task, tasks.get(task).Params,
                  known_tasks=tasks.TASKS)
    assert run.profile == profile and isinstance(p, tasks.get(task).Params)


def test_trainer_names_are_lightnings():
    """The accelerator, strategy and precision names params.py accepts are the installed Lightning's."""
    from typing import get_args

    from lightning.fabric import connector
    from lightning.pytorch.accelerators import AcceleratorRegistry
    from lightning.pytorch.strategies import StrategyRegistry

    from kexue.params import Accelerator, Precision, Strategy

    assert set(get_args(Accelerator)) == {"auto", "gpu", *AcceleratorRegistry.available_accelerators()}
    assert set(get_args(Strategy)) == {"auto", *StrategyRegistry.available_strategies()}
    lightning_precision = {*get_args(connector._PRECISION_INPUT_STR), *get_args(connector._PRECISION_INPUT_STR_ALIAS)}
    assert set(get_args(get_args(Precision)[0])) == {"auto", *lightning_precision}


def test_precision_as_a_number(tmp_path):
    run, _ = _load(params_file(tmp_path, lambda d: d["trainer"].update(precision=32)))
    assert run.trainer.precision == "32"


@pytest.mark.parametrize(
    ("edit", "key", "why"),
    [
        (lambda d: d["fashion"]["train"].update(lrr=0.1), "fashion.train.lrr", "unknown key"),
        (lambda d: d["fashion"]["train"].update(lr=-0.1), "fashion.train.lr", "greater than 0"),
        (lambda d: d["fashion"]["train"].update(epochs="many"), "fashion.train.epochs", "valid integer"),
        (lambda d: d["fashion"]["train"].update(optimizer="lbfgs"), "fashion.train.optimizer", "'sgd' or 'adamw'"),
        (lambda d: d["fashion"]["train"].update(augment="flip+rotate"), "fashion.train.augment", "rotate"),
        (lambda d: d["trainer"].update(num_nodes=0), "trainer.num_nodes", "greater than or equal to 1"),
        (lambda d: d["trainer"].update(precision="bf17"), "trainer.precision", "'bf16-mixed'"),
        (lambda d: d["trainer"].update(accelerator="gpus"), "trainer.accelerator", "'gpu'"),
        (lambda d: d["trainer"].update(strategy="dpp"), "trainer.strategy", "'ddp'"),
        (lambda d: d["fashion"]["quick"]["train"].update(batch_size=0), "fashion.quick.train.batch_size", ">= 1"),
        (lambda d: d.update(profile="fast"), "profile", "'full', 'quick' or 'budget'"),
        (lambda d: d["fashion"].update(budget={"train": {"lr": 0}}), "fashion.budget.train.lr", "greater than 0"),
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


def test_a_profile_applies_its_own_section_and_a_task_without_one_runs_full(tmp_path):
    def add_budget(d):
        d.update(profile="budget")
        d["fashion"]["budget"] = {"train": {"epochs": 2}}

    run, p = _load(params_file(tmp_path, add_budget))
    _, full = _load(REPO / "params.yaml")
    assert run.profile == "budget" and p.train.epochs == 2 and p.model == full.model
    # the same file for a task that has no `budget:` section: its full parameters
    task = next(t for t in tasks.TASKS if "budget" not in yaml.safe_load((tmp_path / "params.yaml").read_text())[t])
    _, other = load(tmp_path / "params.yaml", task, tasks.get(task).Params, tasks.TASKS)
    _, other_full = load(REPO / "params.yaml", task, tasks.get(task).Params, tasks.TASKS)
    assert other == other_full


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda d: d["fashion"]["train"].update(lr=-1), "fashion.train.lr"),
        (lambda d: d["trainer"].update(precision="bf17"), "trainer.precision"),  # not later, inside Lightning
    ],
)
def test_command_line_reports_bad_params_without_traceback(tmp_path, capsys, edit, key):
    path = params_file(tmp_path, edit)
    rc = main(["fashion", "train", "--params", str(path), "--prepared", "x", "--models", "y", "--live", "z"])
    err = capsys.readouterr().err
    assert rc == 2 and key in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--help"], ["fashion", "--help"], ["fashion", "train", "--help"]])
def test_command_line_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0 and "usage: python -m kexue" in capsys.readouterr().out


def _differences(default: object, configured: object, prefix: str) -> list[str]:
    """Every key (full name) whose code default differs from the configured value, both validated and dumped."""
    if isinstance(default, dict) and isinstance(configured, dict):
        out = []
        for key in sorted(set(default) | set(configured), key=str):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in default or key not in configured:
                out.append(f"{name}: only in {'params.yaml' if key in configured else 'the code'}")
            else:
                out += _differences(default[key], configured[key], name)
        return out
    if default != configured or type(default) is not type(configured):
        return [f"{prefix}: code {default!r} != params.yaml {configured!r}"]
    return []


def test_code_defaults_equal_params_yaml():
    """A task's `Params()` is the pipeline's configuration (params.yaml, without `quick:`), and `RunParams()`
    its shared keys: tests that build params from the defaults exercise what the pipeline runs."""
    from kexue.params import PROFILES, SHARED_KEYS, RunParams

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    diffs = _differences(
        RunParams().model_dump(), RunParams.model_validate({k: raw[k] for k in SHARED_KEYS}).model_dump(), ""
    )
    for task in tasks.TASKS:
        model = tasks.get(task).Params
        section = {k: v for k, v in raw[task].items() if k not in PROFILES}
        diffs += _differences(model().model_dump(), model.model_validate(section).model_dump(), task)
    assert not diffs, f"{len(diffs)} code defaults differ from params.yaml:\n" + "\n".join(diffs)


def test_one_ema_key_across_tasks(tmp_path):
    """Every task that averages its weights calls the decay `train.ema_decay`, a number in [0, 1) with
    0 = off, in the code and in every profile of params.yaml; the old `ema` key is unknown."""
    from kexue.params import PROFILES

    with_ema = []
    for task in tasks.TASKS:
        fields = tasks.get(task).Params.model_fields["train"].annotation.model_fields
        assert "ema" not in fields, task
        if "ema_decay" in fields:
            with_ema.append(task)
            assert isinstance(fields["ema_decay"].default, float), task
    assert sorted(with_ema) == ["cws", "fashion", "gan", "sentiment"]

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    for task in with_ema:
        for section in [raw[task], *(raw[task].get(profile, {}) for profile in PROFILES)]:
            train = section.get("train", {})
            assert "ema" not in train, task
            if "ema_decay" in train:
                assert isinstance(train["ema_decay"], float) and 0 <= train["ema_decay"] < 1, task

    for task in with_ema:
        for value, why in [(1.0, "less than 1"), (-0.5, "greater than or equal to 0"), ("off", "valid number"),
                           (False, "not a boolean")]:
            path = params_file(tmp_path, lambda d: d[task]["train"].update(ema_decay=value))
            with pytest.raises(ParamsError) as err:
                load(path, task, tasks.get(task).Params, known_tasks=tasks.TASKS)
            assert f"  {task}.train.ema_decay:" in str(err.value) and why in str(err.value), str(err.value)
