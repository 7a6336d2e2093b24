"""Stage 3: train MobileNet on the prepared arrays; checkpoints, dvclive curves and a run summary."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, Timer

from kexue.params import RunParams
from kexue.run_summary import SUMMARY, RunSummary, best_checkpoint
from kexue.tasks.fashion.data import SPLITS, FashionDataModule
from kexue.tasks.fashion.model import FashionClassifier
from kexue.tasks.fashion.params import FashionParams
from kexue.training import build_trainer, ema_callback, prepare_checkpoint_dir, run_config

log = logging.getLogger(__name__)


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
    callbacks: list[Callback] = [timer, RunSummary(models / SUMMARY, timer, "best_val_acc", {"best_checkpoint": best_checkpoint})]
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
