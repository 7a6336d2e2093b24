"""The run summary a training stage leaves beside its checkpoints (`summary.json`), read by its
evaluate stage: epochs, steps, wall time, device and the best monitored score, and what else a task
records. Every Lightning training writes it with `RunSummary`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, Timer

from kexue import files
from kexue.training import device_description

SUMMARY = "summary.json"

# A value of `extra` that is known only when training ends: called then with (trainer, pl_module).
Later = Callable[[L.Trainer, L.LightningModule], Any]


def best_checkpoint(trainer: L.Trainer, pl_module: L.LightningModule) -> str | None:
    """The file name of the best checkpoint, for `extra` (None before there is one)."""
    ckpt = trainer.checkpoint_callback
    return Path(ckpt.best_model_path).name if ckpt and ckpt.best_model_path else None


class RunSummary(Callback):
    """At the end of fit, on global rank 0, writes `path` (JSON):

    - `epochs`, `steps` (Lightning's global step), `train_wall_time_s` (training and validation, from
      `timer`, a resumed run's earlier time included), `device`;
    - `best_key`: the checkpoint callback's best monitored score (null before there is one); leave
      `best_key` out where nothing is monitored;
    - then `extra`: each value a constant, or a function of (trainer, pl_module) called at the end.

    `keys` lists the keys to write, in order, where a task's summary has its own layout (a subset of
    the above; `extra` may also name `global_step`, say, as a function).
    """

    def __init__(self, path: Path, timer: Timer, best_key: str | None = None, extra: dict[str, Any | Later] | None = None,
                 *, keys: Sequence[str] | None = None) -> None:
        self.path, self.timer, self.best_key, self.extra = Path(path), timer, best_key, dict(extra or {})
        standard = ["epochs", "steps", "train_wall_time_s", "device", *([best_key] if best_key else [])]
        self.keys = list(keys) if keys is not None else [*standard, *self.extra]
        unknown = set(self.keys) - set(standard) - set(self.extra)
        if unknown:
            raise ValueError(f"summary keys with no value: {sorted(unknown)}")

    def values(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        """The summary as written at the end of training."""
        ckpt = trainer.checkpoint_callback
        best = getattr(ckpt, "best_model_score", None)
        known = {
            "epochs": lambda: trainer.current_epoch,
            "steps": lambda: trainer.global_step,
            "train_wall_time_s": lambda: round(self.timer.time_elapsed("train") + self.timer.time_elapsed("validate"), 1),
            "device": lambda: device_description(trainer),
        }
        if self.best_key:
            known[self.best_key] = lambda: float(best) if best is not None else None
        out = {}
        for key in self.keys:
            if key in self.extra:
                value = self.extra[key]
                out[key] = value(trainer, pl_module) if callable(value) else value
            else:
                out[key] = known[key]()
        return out

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            files.write_json(self.path, self.values(trainer, pl_module))
