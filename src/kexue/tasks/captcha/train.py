"""Stage 3: train the recognizer on the prepared arrays; checkpoints, dvclive curves, a summary."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, Timer

from kexue.params import RunParams
from kexue.run_summary import SUMMARY, RunSummary
from kexue.tasks.captcha.data import SPLITS, datamodule
from kexue.tasks.captcha.model import CaptchaRecognizer
from kexue.tasks.captcha.params import CaptchaParams
from kexue.training import build_trainer, prepare_checkpoint_dir, run_config


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
    summary = RunSummary(models / SUMMARY, timer, "best_val_string_acc", {"train_images": min(n_train, p.data.train_size)},
                         keys=["epochs", "steps", "train_images", "train_wall_time_s", "device", "best_val_string_acc"])
    trainer, _ = build_trainer(
        run.trainer,
        max_epochs=tp.epochs,
        ckpt_dir=models,
        live_dir=live,
        resume=resume_from is not None,
        monitor="val/string_acc",
        callbacks=[timer, summary],
    )
    trainer.fit(module, datamodule=data, ckpt_path=resume_from)
