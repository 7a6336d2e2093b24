"""Stage 3: train the recognizer on the prepared arrays; checkpoints, dvclive curves, a summary."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, Timer

from kexue import files
from kexue.params import RunParams
from kexue.tasks.captcha.data import SPLITS, datamodule
from kexue.tasks.captcha.model import CaptchaRecognizer
from kexue.tasks.captcha.params import CaptchaParams
from kexue.training import build_trainer, device_description, prepare_checkpoint_dir, run_config

SUMMARY = "summary.json"


class WriteSummary(Callback):
    def __init__(self, path: Path, timer: Timer, train_images: int) -> None:
        self.path, self.timer, self.train_images = Path(path), timer, train_images

    def on_train_end(self, trainer: L.Trainer, pl_module: CaptchaRecognizer) -> None:
        if not trainer.is_global_zero:
            return
        ckpt = trainer.checkpoint_callback
        files.write_json(
            self.path,
            {
                "epochs": trainer.current_epoch,
                "steps": trainer.global_step,
                "train_images": self.train_images,
                "train_wall_time_s": round(self.timer.time_elapsed("train") + self.timer.time_elapsed("validate"), 1),
                "device": device_description(trainer),
                "best_val_string_acc": float(ckpt.best_model_score) if ckpt and ckpt.best_model_score is not None else None,
            },
        )


def train(p: CaptchaParams, run: RunParams, prepared: Path, models: Path, live: Path) -> None:
    """Stage 3: train the Xception-style recognizer; checkpoints and a summary in `models`, curves in `live`.

    Rerun after a kill with the same code, params and data, it resumes from `models/last.ckpt`."""
    prepared, models, live = Path(prepared), Path(models), Path(live)
    tp = p.train
    config = run_config(
        "captcha-train", run, {"data": p.data.model_dump(), "model": p.model.model_dump(), "train": tp.model_dump()},
        [prepared / f"{s}.npz" for s in SPLITS],
    )
    resume_from = prepare_checkpoint_dir(models, config)
    L.seed_everything(run.seed, workers=True)
    channels_last = run.trainer.channels_last and not torch.cuda.is_available()
    module = CaptchaRecognizer(p.model.model_dump(), tp.model_dump(), p.data.alphabet, p.data.length, channels_last)
    data = datamodule(prepared, tp.batch_size, p.evaluate.batch_size, tp.train_limit)
    n_train = tp.train_limit or p.data.train_size
    timer = Timer()
    trainer, _ = build_trainer(
        run.trainer,
        max_epochs=tp.epochs,
        ckpt_dir=models,
        live_dir=live,
        resume=resume_from is not None,
        monitor="val/string_acc",
        callbacks=[timer, WriteSummary(models / SUMMARY, timer, min(n_train, p.data.train_size))],
    )
    trainer.fit(module, datamodule=data, ckpt_path=resume_from)
