"""Builds the Lightning Trainer from params, and keeps a training resumable under DVC.

The same task code runs on CPU, one GPU (bf16 mixed precision) or several GPUs and nodes (Lightning
DDP): only `trainer:` in params.yaml changes. Checkpoints go to a fixed folder (a DVC output marked
`persist: true`, so DVC does not delete it before rerunning the stage); a fingerprint stored beside
them decides whether a rerun resumes or starts over. It covers everything the checkpoints came from:
the code the stage depends on (the files `dvc.yaml` lists, `pipeline.code_hashes`), the params and
the input files (`run_config`). Same fingerprint: a killed run goes on from `last.ckpt`, with the
random number generators as they were when it was written (`RngState`), so it ends where an
uninterrupted run would. Anything changed: the old checkpoints are another program's, and the run
starts over.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import random
import shutil
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

import lightning as L
import torch
from lightning.fabric.plugins import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback, EMAWeightAveraging, ModelCheckpoint, WeightAveraging

from kexue import files, pipeline
from kexue.fetch import sha256_of
from kexue.params import RunParams, TrainerParams

log = logging.getLogger(__name__)

FINGERPRINT = "fingerprint.json"
LAST = "last"


def resolve_precision(tp: TrainerParams) -> str:
    """'auto' means bf16 mixed precision on a GPU that supports it, full fp32 elsewhere."""
    if tp.precision != "auto":
        return tp.precision
    if tp.uses_cuda() and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


def device_description(trainer: L.Trainer) -> str:
    """What the run ran on, in words: for metrics and the README tables."""
    acc = type(trainer.accelerator).__name__.replace("Accelerator", "").lower()
    n = trainer.num_devices * trainer.num_nodes
    if acc == "cuda":
        return f"{n}x {torch.cuda.get_device_name(0)} ({trainer.precision})"
    cores = os.cpu_count()
    return f"cpu: {platform.processor() or platform.machine()}, {cores} cores, {torch.get_num_threads()} threads ({trainer.precision})"


def run_config(stage: str, run: RunParams, params: dict[str, Any], inputs: Iterable[Path]) -> dict[str, Any]:
    """What a training's checkpoints are valid for, for `prepare_checkpoint_dir`.

    `stage` is the stage's name in dvc.yaml (its code deps are hashed), `params` the task params that
    shape the training (by section name), `inputs` the files it reads (each hashed where it exists;
    a folder counts with every file in it).
    """
    data: dict[str, str] = {}
    for path in map(Path, inputs):
        files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path] if path.is_file() else []
        for f in files:
            data[f.relative_to(path.parent).as_posix()] = sha256_of(f)
    return {
        "stage": stage,
        "code": pipeline.code_hashes(stage),
        "seed": run.seed,
        "trainer": run.trainer.model_dump(),
        **params,
        "data": data,
    }


def fingerprint(config: dict[str, Any]) -> str:
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _is_launcher_rank() -> bool:
    """False in the extra processes that Lightning's `ddp` strategy starts (it reruns the command
    with LOCAL_RANK/NODE_RANK set): those must not touch the shared checkpoint folder."""
    return int(os.environ.get("LOCAL_RANK", 0)) == 0 and int(os.environ.get("NODE_RANK", 0)) == 0


def prepare_checkpoint_dir(ckpt_dir: Path, config: dict[str, Any]) -> Path | None:
    """Return the checkpoint to resume from, or None (then `ckpt_dir` is emptied for a fresh run).

    Resumes only when `ckpt_dir` holds a `last.ckpt` written under the very same `config` (build it
    with `run_config`: code, params and data).
    """
    ckpt_dir = Path(ckpt_dir)
    fp_file = ckpt_dir / FINGERPRINT
    last = ckpt_dir / f"{LAST}.ckpt"
    want = fingerprint(config)
    if not _is_launcher_rank():
        same = fp_file.is_file() and json.loads(fp_file.read_text()).get("fingerprint") == want
        return last if same and last.is_file() else None
    if last.is_file() and fp_file.is_file():
        try:
            have = json.loads(fp_file.read_text()).get("fingerprint")
        except (json.JSONDecodeError, OSError):
            have = None
        if have == want and not zipfile.is_zipfile(last):
            log.warning("%s is truncated or corrupt (not a checkpoint archive): starting a fresh run", last)
        elif have == want:
            log.info("resuming from %s (same code, params and data)", last)
            return last
        log.info("%s holds checkpoints of other code, params or data: starting a fresh run", ckpt_dir)
    if ckpt_dir.exists():
        shutil.rmtree(ckpt_dir)
    ckpt_dir.mkdir(parents=True)
    files.write_text(fp_file, json.dumps({"fingerprint": want, "config": config}, indent=2, sort_keys=True, default=str))
    return None


class RngState(Callback):
    """Saves the random number generators (torch, CUDA, numpy, Python) in every checkpoint and
    restores them on resume, so a killed run resumed from `last.ckpt` draws the same shuffles,
    augmentations and dropout masks as an uninterrupted one. Lightning restores callbacks before its
    sanity check, which it runs with the generators isolated: the first epoch after the resume draws
    from the saved state."""

    def state_dict(self) -> dict[str, Any]:
        # plain types and tensors only: Lightning loads checkpoints with torch.load(weights_only=True)
        name, keys, pos, has_gauss, gauss = np.random.get_state()
        state = {
            "torch": torch.get_rng_state(),
            "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
            "python": random.getstate(),
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch"])
        name, keys, pos, has_gauss, gauss = state_dict["numpy"]
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
        random.setstate(state_dict["python"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer with the temporary file beside the target, renamed over it once
    written and flushed (`files.replacing`). Lightning's own goes through fsspec, which puts it in
    $TMPDIR and, where that is another filesystem, copies it onto the target in place: a kill during
    that copy would leave a truncated `last.ckpt`. A failed save leaves the previous file as it was."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        with files.replacing(Path(path)) as tmp, open(tmp, "wb") as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())


def ema_avg_fn(decay: float) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """The update of an exponential moving average of weights with a warm-up, for torch's
    `AveragedModel(avg_fn=)` (which Lightning's `WeightAveraging` wraps): the decay is
    min(decay, (1 + n) / (10 + n)) after n updates, as TensorFlow's ExponentialMovingAverage does with
    num_updates, so the early average is not dominated by the random initial weights (a fixed 0.999
    from the first step keeps ~40% of them after two epochs of Fashion-MNIST, and that net predicts
    one class)."""

    def avg_fn(averaged: torch.Tensor, current: torch.Tensor, num_averaged: torch.Tensor) -> torch.Tensor:
        n = float(num_averaged)
        d = min(decay, (1 + n) / (10 + n))
        return d * averaged + (1 - d) * current

    return avg_fn


def ema_callback(decay: float, *, warmup: bool = True, use_buffers: bool = True) -> WeightAveraging:
    """Lightning's weight averaging as an exponential moving average of the weights (`train.ema_decay`
    of every task), used for validation and saved in checkpoints; the one EMA path of the tasks
    whose whole model is averaged.

    `warmup`: the decay warms up (`ema_avg_fn`); without, Lightning's `EMAWeightAveraging` with a
    fixed decay from the first step. `use_buffers`: the buffers (BatchNorm statistics) are averaged
    too; leave it off where a buffer is not a number to average (cws: its bigram key table).
    """
    if not 0 < decay < 1:
        raise ValueError(f"an EMA decay must lie in (0, 1), got {decay}")
    if not warmup:
        return EMAWeightAveraging(decay=decay, use_buffers=use_buffers)
    return WeightAveraging(avg_fn=ema_avg_fn(decay), use_buffers=use_buffers)


def build_trainer(
    tp: TrainerParams,
    *,
    max_epochs: int,
    ckpt_dir: Path,
    live_dir: Path | None,
    resume: bool,
    monitor: str,
    mode: str = "max",
    callbacks: list[Callback] | None = None,
    **overrides: Any,
) -> tuple[L.Trainer, ModelCheckpoint]:
    """A Trainer with fixed-path checkpoints (`best.ckpt` by `monitor`, `last.ckpt` every epoch)
    and, when `live_dir` is given, dvclive's logger writing there (plots are declared in dvc.yaml).

    Returns the trainer and the `best.ckpt` callback (also `trainer.checkpoint_callback`)."""
    checkpoint = ModelCheckpoint(
        dirpath=ckpt_dir,
        filename="best",
        monitor=monitor,
        mode=mode,
        save_top_k=1,
        enable_version_counter=False,
        auto_insert_metric_name=False,
    )
    # `last.ckpt` from a callback of its own: Lightning 2.6's `save_last=True` rewrites it only in epochs
    # that also wrote a top-k checkpoint, so a run killed after epochs without a better score would resume
    # from the last improvement. With no monitor and top-1, this one rewrites `last.ckpt` every epoch.
    # Listed after `checkpoint` (Lightning keeps their order), so it saves that callback's updated state.
    last = ModelCheckpoint(dirpath=ckpt_dir, filename=LAST, monitor=None, save_top_k=1, enable_version_counter=False)
    logger: Any = False
    if live_dir is not None:
        from dvclive.lightning import DVCLiveLogger

        if not resume and Path(live_dir).exists() and _is_launcher_rank():
            shutil.rmtree(live_dir)
        # dvcyaml=False and save_dvc_exp=False: dvc.yaml stays ours and `dvc exp run` keeps control.
        logger = DVCLiveLogger(dir=str(live_dir), dvcyaml=False, save_dvc_exp=False, resume=resume, report=None)
    kwargs: dict[str, Any] = dict(
        accelerator=tp.accelerator,
        devices=tp.devices,
        strategy=tp.strategy,
        num_nodes=tp.num_nodes,
        precision=resolve_precision(tp),
        deterministic=tp.deterministic,
        max_epochs=max_epochs,
        logger=logger,
        callbacks=[checkpoint, last, RngState(), *(callbacks or [])],
        enable_progress_bar=tp.progress_bar,
        enable_model_summary=False,
        log_every_n_steps=50,
        plugins=[AtomicCheckpointIO()],
    )
    kwargs.update(overrides)
    return L.Trainer(**kwargs), checkpoint
