"""Stage gan-train: WGAN-GP (or hinge / non-saturating) on the prepared images; checkpoints,
generator snapshots for the FID-over-training curve, dvclive curves and a run summary. With
`time_budget_min` training stops at that wall-clock budget (Lightning's Timer; its elapsed time is in
the checkpoint, so a resumed run counts the time it had spent)."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, Timer

from kexue.params import RunParams
from kexue.run_summary import SUMMARY, RunSummary
from kexue.tasks.gan.data import GanDataModule
from kexue.tasks.gan.model import GAN
from kexue.tasks.gan.params import GanParams
from kexue.training import build_trainer, prepare_checkpoint_dir, run_config

log = logging.getLogger(__name__)

SNAPSHOTS = "snapshots"


def snapshot_epochs(epochs: int, snapshots: int) -> list[int]:
    """The epochs (1-based) after which the generator is saved: evenly spread, always the last."""
    n = min(snapshots, epochs)
    return sorted({round(epochs * (i + 1) / n) for i in range(n)})


class GeneratorSnapshots(Callback):
    """Saves the sampler's weights (EMA generator when on) for gan-evaluate's FID-over-training curve,
    without gan-train needing the feature net: after the chosen `epochs` as `snapshots/epoch_NNN.pt`,
    or, with a time budget, at `times` (seconds of training) and at the end as `snapshots/time_NN.pt`.
    Each records its epoch, generator step and training time."""

    def __init__(self, folder: Path, timer: Timer, epochs: list[int] = (), times: list[float] | None = None) -> None:
        self.folder = Path(folder)
        self.timer = timer
        self.epochs = set(epochs)
        self.by_time = times is not None
        self.times = sorted(times or [])

    def _save(self, trainer: L.Trainer, pl_module: GAN, name: str, epoch: float) -> None:
        if not trainer.is_global_zero:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().clone() for k, v in pl_module.sampler.state_dict().items()}
        path = self.folder / f"{name}.pt"
        tmp = path.with_suffix(".tmp")
        torch.save({"epoch": epoch, "step": trainer.global_step, "generator_steps": generator_steps(trainer, pl_module),
                    "train_time_s": round(self.timer.time_elapsed("train"), 1), "model": pl_module.hparams["model"],
                    "state_dict": state}, tmp)
        os.replace(tmp, path)

    def _passed(self) -> int:
        elapsed = self.timer.time_elapsed("train")
        return sum(t <= elapsed for t in self.times)

    def on_train_start(self, trainer: L.Trainer, pl_module: GAN) -> None:
        # The thresholds a restored checkpoint had passed are done; one passed after it, before a kill,
        # is passed again and its snapshot rewritten.
        self._next = self._passed()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: GAN, outputs, batch, batch_idx: int) -> None:
        if self._next < len(self.times) and self._passed() > self._next:
            epoch = trainer.current_epoch + (batch_idx + 1) / max(trainer.num_training_batches, 1)
            self._save(trainer, pl_module, f"time_{self._next + 1:02d}", round(epoch, 3))
            self._next = self._passed()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: GAN) -> None:
        if trainer.current_epoch + 1 in self.epochs:
            self._save(trainer, pl_module, f"epoch_{trainer.current_epoch + 1:03d}", trainer.current_epoch + 1)

    def on_train_end(self, trainer: L.Trainer, pl_module: GAN) -> None:
        if self.by_time:  # the last at the end: the budget reached, or the epochs done first
            self._save(trainer, pl_module, f"time_{len(self.times) + 1:02d}", trainer.current_epoch)


def generator_steps(trainer: L.Trainer, pl_module: GAN) -> int:
    # Lightning counts every optimiser step: n_critic critic steps + 1 generator step each.
    return trainer.global_step // (pl_module.tp.n_critic + 1)


def snapshot_times(budget_s: float, snapshots: int) -> list[float]:
    """The training times (s) of the snapshots before the last, which is taken at the end: evenly spread."""
    return [budget_s * (i + 1) / snapshots for i in range(snapshots - 1)]


def train(p: GanParams, run: RunParams, prepared: Path, models: Path, live: Path) -> None:
    """Stage 3: train the GAN; checkpoints, generator snapshots and a summary in `models`, curves in `live`.

    Rerun after a kill with the same code, params and data, it resumes from `models/last.ckpt`."""
    prepared, models, live = Path(prepared), Path(models), Path(live)
    tp = p.train
    config = run_config("gan-train", run, {"model": p.model.model_dump(), "train": tp.model_dump()}, [prepared / "train.npz"])
    resume_from = prepare_checkpoint_dir(models, config)
    L.seed_everything(run.seed, workers=True)
    channels_last = run.trainer.channels_last and not torch.cuda.is_available()
    module = GAN(p.model.model_dump(), tp.model_dump(), channels_last=channels_last)
    data = GanDataModule(prepared, tp.batch_size, tp.n_critic, tp.train_limit)
    budget_s = 60 * tp.time_budget_min
    # Checked after every step; restored from a checkpoint it goes on counting from the time saved there.
    timer = Timer(duration=timedelta(seconds=budget_s) if budget_s else None, interval="step")
    snapshots = (GeneratorSnapshots(models / SNAPSHOTS, timer, times=snapshot_times(budget_s, tp.snapshots)) if budget_s
                 else GeneratorSnapshots(models / SNAPSHOTS, timer, epochs=snapshot_epochs(tp.epochs, tp.snapshots)))
    # No validation runs (limit_val_batches=0), so the summary's wall time is the training's alone.
    summary = RunSummary(models / SUMMARY, timer, extra={
        "generator_steps": generator_steps,
        "global_step": lambda trainer, pl_module: trainer.global_step,
        "time_budget_min": tp.time_budget_min,
        "stopped_by_budget": lambda trainer, pl_module: (timer.time_remaining("train") or 1) <= 0,
    }, keys=["epochs", "generator_steps", "global_step", "train_wall_time_s", "time_budget_min", "stopped_by_budget", "device"])
    callbacks: list[Callback] = [timer, snapshots, summary]
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
