"""Stage 3: train MobileNet on the prepared arrays; checkpoints, dvclive curves and a run summary."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, Timer

from kexue.params import RunParams
from kexue.tasks.fashion.data import SPLITS, FashionDataModule
from kexue.tasks.fashion.model import FashionClassifier
from kexue.tasks.fashion.params import FashionParams
from kexue.training import build_trainer, device_description, ema_callback, prepare_checkpoint_dir, run_config

log = logging.getLogger(__name__)

SUMMARY = "summary.json"


class WriteSummary(Callback):
    """At the end of fit (on global rank 0): epochs, wall time, device and best score -> summary.json."""

    def __init__(self, path: Path, timer: Timer) -> None:
        self.path = Path(path)
        self.timer = timer

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        ckpt = trainer.checkpoint_callback
        summary = {
            "epochs": trainer.current_epoch,
            "steps": trainer.global_step,
            "train_wall_time_s": round(self.timer.time_elapsed("train") + self.timer.time_elapsed("validate"), 1),
            "device": device_description(trainer),
            "best_val_acc": float(ckpt.best_model_score) if ckpt and ckpt.best_model_score is not None else None,
            "best_checkpoint": Path(ckpt.best_model_path).name if ckpt and ckpt.best_model_path else None,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(summary, indent=2))
        os.replace(tmp, self.path)


def train(p: FashionParams, run: RunParams, prepared: Path, models: Path, live: Path) -> None:
    """Train on `prepared`; write `models/{best,last}.ckpt`, `models/summary.json` and dvclive logs to `live`.

    Rerun after a kill with the same code, params and data, it resumes from `models/last.ckpt`.
    """
    prepared, models, live = Path(prepared), Path(models), Path(live)
    tp = p.train
    config = run_config(
        "fashion-train", run, {"model": p.model.model_dump(), "train": tp.model_dump()},
        [prepared / f"{s}.npz" for s in SPLITS],
    )
    resume_from = prepare_checkpoint_dir(models, config)
    L.seed_everything(run.seed, workers=True)
    channels_last = run.trainer.channels_last and not torch.cuda.is_available()
    module = FashionClassifier(p.model.model_dump(), tp.model_dump(), channels_last=channels_last)
    data = FashionDataModule(prepared, tp.batch_size, p.evaluate.batch_size, tp.train_limit)
    timer = Timer()
    callbacks: list[Callback] = [timer, WriteSummary(models / SUMMARY, timer)]
    if tp.ema_decay > 0:
        callbacks.append(ema_callback(tp.ema_decay))
    trainer, _ = build_trainer(
        run.trainer,
        max_epochs=tp.epochs,
        ckpt_dir=models,
        live_dir=live,
        resume=resume_from is not None,
        monitor="val/acc",
        callbacks=callbacks,
    )
    trainer.fit(module, datamodule=data, ckpt_path=resume_from)
