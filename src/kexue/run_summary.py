"""The run summary a training stage leaves beside its checkpoints (`summary.json`), read by its
evaluate stage: epochs, steps, wall time, device and the best monitored score.

(fashion, gan, sentiment and captcha still carry their own copies of this callback; they move here
with their next full training, since their train stages list their own files in `deps`.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, Timer

from kexue import files
from kexue.training import device_description

SUMMARY = "summary.json"


class RunSummary(Callback):
    def __init__(self, path: Path, timer: Timer, best_key: str, extra: dict[str, Any] | None = None) -> None:
        self.path, self.timer, self.best_key, self.extra = Path(path), timer, best_key, dict(extra or {})

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        ckpt = trainer.checkpoint_callback
        best = getattr(ckpt, "best_model_score", None)
        files.write_json(self.path, {
            "epochs": trainer.current_epoch,
            "steps": trainer.global_step,
            "train_wall_time_s": round(self.timer.time_elapsed("train") + self.timer.time_elapsed("validate"), 1),
            "device": device_description(trainer),
            self.best_key: float(best) if best is not None else None,
            **self.extra,
        })
