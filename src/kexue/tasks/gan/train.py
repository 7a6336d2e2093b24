"""Stage gan-train: WGAN-GP (or hinge / non-saturating) on the prepared images; checkpoints,
generator snapshots for the FID-over-training curve, dvclive curves and a run summary."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, Timer

from kexue import files
from kexue.params import RunParams
from kexue.tasks.gan.data import GanDataModule
from kexue.tasks.gan.model import GAN
from kexue.tasks.gan.params import GanParams
from kexue.training import build_trainer, device_description, prepare_checkpoint_dir, run_config

log = logging.getLogger(__name__)

SUMMARY = "summary.json"
SNAPSHOTS = "snapshots"


def snapshot_epochs(epochs: int, snapshots: int) -> list[int]:
    """The epochs (1-based) after which the generator is saved: evenly spread, always the last."""
    n = min(snapshots, epochs)
    return sorted({round(epochs * (i + 1) / n) for i in range(n)})


class GeneratorSnapshots(Callback):
    """Saves the sampler's weights (EMA generator when on) after the chosen epochs, as
    `snapshots/epoch_NNN.pt`; gan-evaluate turns them into the FID-over-training curve without
    gan-train needing the classifier."""

    def __init__(self, folder: Path, epochs: list[int]) -> None:
        self.folder = Path(folder)
        self.epochs = set(epochs)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: GAN) -> None:
        epoch = trainer.current_epoch + 1
        if epoch not in self.epochs or not trainer.is_global_zero:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().clone() for k, v in pl_module.sampler.state_dict().items()}
        path = self.folder / f"epoch_{epoch:03d}.pt"
        tmp = path.with_suffix(".tmp")
        torch.save({"epoch": epoch, "step": trainer.global_step, "model": pl_module.hparams["model"], "state_dict": state}, tmp)
        os.replace(tmp, path)


class WriteGanSummary(Callback):
    def __init__(self, path: Path, timer: Timer) -> None:
        self.path = Path(path)
        self.timer = timer

    def on_train_end(self, trainer: L.Trainer, pl_module: GAN) -> None:
        if trainer.is_global_zero:
            files.write_json(
                self.path,
                {
                    "epochs": trainer.current_epoch,
                    # Lightning counts every optimiser step: n_critic critic steps + 1 generator step each.
                    "generator_steps": trainer.global_step // (pl_module.tp.n_critic + 1),
                    "train_wall_time_s": round(self.timer.time_elapsed("train"), 1),
                    "device": device_description(trainer),
                },
            )


def train(p: GanParams, run: RunParams, prepared: Path, models: Path, live: Path) -> None:
    """Stage 2: train the GAN; checkpoints, generator snapshots and a summary in `models`, curves in `live`.

    Rerun after a kill with the same code, params and data, it resumes from `models/last.ckpt`."""
    prepared, models, live = Path(prepared), Path(models), Path(live)
    tp = p.train
    config = run_config("gan-train", run, {"model": p.model.model_dump(), "train": tp.model_dump()}, [prepared / "train.npz"])
    resume_from = prepare_checkpoint_dir(models, config)
    L.seed_everything(run.seed, workers=True)
    channels_last = run.trainer.channels_last and not torch.cuda.is_available()
    module = GAN(p.model.model_dump(), tp.model_dump(), channels_last=channels_last)
    data = GanDataModule(prepared, tp.batch_size, tp.n_critic, tp.train_limit)
    timer = Timer()
    callbacks: list[Callback] = [
        timer,
        GeneratorSnapshots(models / SNAPSHOTS, snapshot_epochs(tp.epochs, tp.snapshots)),
        WriteGanSummary(models / SUMMARY, timer),
    ]
    # A GAN has no validation score to pick a "best" checkpoint by: evaluation uses the final
    # generator (last.ckpt); monitoring "epoch" keeps best.ckpt equal to it.
    trainer, _ = build_trainer(
        run.trainer,
        max_epochs=tp.epochs,
        ckpt_dir=models,
        live_dir=live,
        resume=resume_from is not None,
        monitor="epoch",
        callbacks=callbacks,
        limit_val_batches=0,
    )
    trainer.fit(module, datamodule=data, ckpt_path=resume_from)
