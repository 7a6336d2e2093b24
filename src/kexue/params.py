"""Typed, validated parameters read from params.yaml.

One section per task plus a few shared keys (`seed`, `profile`, `trainer`). Every model forbids
unknown keys and checks types and ranges, so a typo or a bad value fails with the key's full name
(`fashion.train.lr`) before any work starts. pydantic does the checking; we only format its errors.

`profile: quick` applies each task's `quick:` section (a partial copy of the task's own keys) on
top of the full parameters: one switch, `dvc exp run -S profile=quick`, shrinks every task. Every
profile but `full` works the same way (`profile: budget` applies `budget:` sections); a task without
a section for the chosen profile runs as `full`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from kexue.errors import InputError

SHARED_KEYS = ("seed", "profile", "trainer")
# The profiles besides `full`: each is a section name a task may carry (partial overrides of its keys).
PROFILES = ("quick", "budget")


class ParamsError(InputError, ValueError):
    """A params file or key is missing, unknown, ill-typed or out of range."""


def _not_a_bool(v: Any) -> Any:
    # YAML reads a bare `off`/`on` as a boolean, which pydantic would take for 0.0/1.0: say what to write.
    if isinstance(v, bool):
        raise ValueError("a number is expected (0 turns the average off), not a boolean such as `off`")
    return v


# `train.ema_decay` of every task: the decay of an exponential moving average of the weights, in
# [0, 1); 0 = no averaging (training.ema_callback, training.ema_avg_fn).
EmaDecay = Annotated[float, Field(ge=0, lt=1), BeforeValidator(_not_a_bool)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


# The names Lightning (2.6) accepts, listed here so that a misspelt one fails as params.yaml is read,
# naming its key, rather than inside Lightning after the data has loaded. tests/test_params.py checks
# them against the installed Lightning.
# `Trainer(accelerator=)`: "auto", "gpu" and `AcceleratorRegistry.available_accelerators()`.
Accelerator = Literal["auto", "cpu", "gpu", "cuda", "mps", "tpu"]
# `Trainer(strategy=)`: "auto" and `StrategyRegistry.available_strategies()`.
Strategy = Literal[
    "auto",
    "single_device",
    "ddp",
    "ddp_find_unused_parameters_false",
    "ddp_find_unused_parameters_true",
    "ddp_spawn",
    "ddp_spawn_find_unused_parameters_false",
    "ddp_spawn_find_unused_parameters_true",
    "ddp_fork",
    "ddp_fork_find_unused_parameters_false",
    "ddp_fork_find_unused_parameters_true",
    "ddp_notebook",
    "ddp_notebook_find_unused_parameters_false",
    "ddp_notebook_find_unused_parameters_true",
    "fsdp",
    "fsdp_cpu_offload",
    "deepspeed",
    "deepspeed_stage_1",
    "deepspeed_stage_2",
    "deepspeed_stage_2_offload",
    "deepspeed_stage_3",
    "deepspeed_stage_3_offload",
    "deepspeed_stage_3_offload_nvme",
    "single_xla",
    "single_tpu",
    "xla",
    "xla_debug",
]
# `Trainer(precision=)`: lightning.fabric.connector's _PRECISION_INPUT_STR and its older aliases
# (_PRECISION_INPUT_STR_ALIAS; a bare number such as `precision: 32` is read as its alias), and our
# "auto" (training.resolve_precision: bf16-mixed on a GPU that has it, else 32-true).
Precision = Annotated[
    Literal[
        "auto",
        "32-true",
        "16-mixed",
        "bf16-mixed",
        "16-true",
        "bf16-true",
        "64-true",
        "transformer-engine",
        "transformer-engine-float16",
        "32",
        "16",
        "bf16",
        "64",
    ],
    BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v),
]


class TrainerParams(Strict):
    """How Lightning runs: the same code on CPU, one GPU or many (DDP), chosen here."""

    accelerator: Accelerator = "auto"
    devices: int | str = "auto"  # auto | N | "0,1"
    strategy: Strategy = "auto"
    precision: Precision = "auto"  # auto -> bf16-mixed on a GPU that has it, else 32-true
    num_nodes: int = Field(1, ge=1)
    deterministic: bool | Literal["warn"] = "warn"
    channels_last: bool = True  # faster convolutions on CPU (and on tensor cores)
    progress_bar: bool = True

    def uses_cuda(self) -> bool:
        """Whether a run under these params uses the GPU: `accelerator` allows one (auto, gpu or
        cuda) and CUDA is available. What Lightning picks for training, and what evaluation follows."""
        import torch  # here, not at the top: reading params needs no torch

        return self.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()


class SkipGramParams(Strict):
    """Skip-gram word vectors learnt by gensim on a task's own training text before its model trains
    (`kexue.text.pretrained.start_from_text`; their size is the task's model.embed_dim); gensim's
    settings of the same names."""

    window: int = Field(5, ge=1)  # context words on each side
    negative: int = Field(5, ge=1)  # noise words per context word
    sample: float = Field(1e-3, ge=0)  # down-sampling threshold of frequent words; 0 = off
    epochs: int = Field(10, ge=1)
    min_count: int = Field(2, ge=1)  # words seen fewer times get no vector (they start random)


class RunParams(Strict):
    seed: int = 42
    profile: Literal["full", "quick", "budget"] = "full"
    trainer: TrainerParams = TrainerParams()


M = TypeVar("M", bound=BaseModel)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _format(err: ValidationError, prefix: str, source: Path) -> str:
    lines = []
    for e in err.errors():
        key = ".".join([prefix, *map(str, e["loc"])]) if prefix else ".".join(map(str, e["loc"]))
        got = e.get("input")
        detail = e["msg"]
        if e["type"] == "extra_forbidden":
            detail = "unknown key (not a parameter of this task; check the spelling)"
        elif not isinstance(got, dict):
            detail += f" (got {got!r})"
        lines.append(f"  {key}: {detail}")
    return f"{source}: invalid parameters:\n" + "\n".join(lines)


def _validate(model: type[M], data: Any, prefix: str, source: Path) -> M:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParamsError(f"{source}: {prefix} must be a mapping of keys, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ParamsError(_format(err, prefix, source)) from None


def read_yaml(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: params file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: the top level must be a mapping of keys")
    return data


def load(path: Path, task: str, model: type[M], known_tasks: tuple[str, ...] = ()) -> tuple[RunParams, M]:
    """Read `path`, validate the shared keys and the section `task` against `model`.

    Returns (run params, task params) with the chosen profile's section applied (none for `full`).
    """
    path = Path(path)
    raw = read_yaml(path)
    unknown = set(raw) - set(SHARED_KEYS) - set(known_tasks) - {task}
    if unknown:
        raise ParamsError(
            f"{path}: unknown top-level key(s) {sorted(unknown)}; expected {list(SHARED_KEYS)} "
            f"or a task section {sorted(set(known_tasks) | {task})}"
        )
    run = _validate(RunParams, {k: raw[k] for k in SHARED_KEYS if k in raw}, "", path)
    if task not in raw:
        raise ParamsError(f"{path}: missing section {task!r}")
    section = raw[task]
    if not isinstance(section, dict):
        raise ParamsError(f"{path}: {task} must be a mapping of keys")
    section = dict(section)
    overrides = {name: section.pop(name, None) or {} for name in PROFILES}
    for name, override in overrides.items():
        if not isinstance(override, dict):
            raise ParamsError(f"{path}: {task}.{name} must be a mapping of keys")
    full = _validate(model, section, task, path)
    # Every profile's overrides are validated even in the full profile, so a typo there fails today.
    # The full section is valid by now, so any error here comes from an override under the profile.
    chosen = full
    for name, override in overrides.items():
        merged = _validate(model, _deep_merge(section, override), f"{task}.{name}", path)
        if run.profile == name:
            chosen = merged
    return run, chosen
