"""Fashion-MNIST data: the download and preprocess stages, and the LightningDataModule.

download:   the four idx .gz files (upstream or KEXUE_DATA_MIRROR), sha256-checked (`kexue.fashion_mnist`).
preprocess: idx -> uint8 images (N, 28, 28) and int64 labels in .npz files; a seeded validation
            split carved from the 60k training images; the 10k test images untouched.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from kexue.fashion_mnist import REMOTES, read_split
from kexue.fetch import fetch_all
from kexue.loading import load_npz
from kexue.params import ParamsError, RunParams
from kexue.tasks.fashion.params import FashionParams

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
# Mean and std of the 60k training pixels (scaled to [0, 1]).
MEAN, STD = 0.2860, 0.3530


def download(raw: Path) -> None:
    """Stage 1: fetch the four idx .gz files into `raw`."""
    fetch_all(REMOTES, raw)


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def preprocess(p: FashionParams, run: RunParams, raw: Path, prepared: Path) -> None:
    """Stage 2: idx files in `raw` -> `prepared/{train,val,test}.npz` (arrays `x` uint8, `y` int64)."""
    train_x, train_y = read_split(raw, "train")
    test_x, test_y = read_split(raw, "test")
    if p.data.val_size >= len(train_x):
        raise ParamsError(f"fashion.data.val_size={p.data.val_size} leaves no training images (of {len(train_x)})")
    order = np.random.default_rng(run.seed).permutation(len(train_x))
    val_idx, train_idx = order[: p.data.val_size], order[p.data.val_size :]
    prepared = Path(prepared)
    prepared.mkdir(parents=True, exist_ok=True)
    _save_npz(prepared / "train.npz", x=train_x[train_idx], y=train_y[train_idx])
    _save_npz(prepared / "val.npz", x=train_x[val_idx], y=train_y[val_idx])
    _save_npz(prepared / "test.npz", x=test_x, y=test_y)
    log.info("prepared %d train / %d val / %d test images in %s", len(train_idx), len(val_idx), len(test_x), prepared)


def load_split(prepared: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    z = load_npz(Path(prepared) / f"{split}.npz", ("x", "y"), stage="fashion-preprocess")
    return torch.from_numpy(z["x"].copy()), torch.from_numpy(z["y"].copy())


def to_input(x: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """uint8 (N, 28, 28) on any device -> normalised float (N, 1, 28, 28)."""
    x = (x.unsqueeze(1).float() / 255.0 - MEAN) / STD
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


class FashionDataModule(L.LightningDataModule):
    """The prepared arrays, held in memory as uint8 tensors (55k x 784 bytes); the float conversion
    and augmentation happen on the training device, batch by batch."""

    def __init__(self, prepared: Path, batch_size: int, eval_batch_size: int = 1000, train_limit: int = 0) -> None:
        super().__init__()
        self.prepared = Path(prepared)
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.train_limit = train_limit
        self.data: dict[str, TensorDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        for split in ("train", "val") if stage in (None, "fit", "validate") else ("test",):
            x, y = load_split(self.prepared, split)
            if split == "train" and self.train_limit:
                x, y = x[: self.train_limit], y[: self.train_limit]
            self.data[split] = TensorDataset(x, y)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.data["train"], batch_size=self.batch_size, shuffle=True, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.data["val"], batch_size=self.eval_batch_size)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.data["test"], batch_size=self.eval_batch_size)
