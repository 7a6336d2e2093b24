"""Stage gan-preprocess: the Fashion-MNIST idx files that fashion-download fetched -> image arrays.

No download stage of its own: the images are the foundation task's, read from `data/fashion/raw`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from kexue import files
from kexue.arrays import load_split
from kexue.fashion_mnist import read_split  # the idx reader with its format checks
from kexue.params import RunParams
from kexue.tasks.gan.params import GanParams

log = logging.getLogger(__name__)

STATS = "stats.json"


def _first_of_each(images: np.ndarray, seen: set[bytes] | None = None) -> np.ndarray:
    """Indices of the first occurrence of each distinct image, skipping images in `seen`."""
    seen = set() if seen is None else set(seen)
    keep = []
    for i, img in enumerate(images):
        key = img.tobytes()
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return np.asarray(keep, dtype=np.int64)


def preprocess(p: GanParams, run: RunParams, raw: Path, prepared: Path) -> None:
    """Stage 1: fashion-download's idx files in `raw` -> deduplicated image arrays in `prepared`.

    Writes `prepared/{train,test}.npz` (`x` uint8 (N, 28, 28), `y` int64) and `prepared/stats.json`
    (how many duplicates were dropped)."""
    train_x, train_y = read_split(Path(raw), "train")
    test_x, test_y = read_split(Path(raw), "test")
    stats = {"train_images_raw": len(train_x), "test_images_raw": len(test_x)}
    if p.data.dedupe:
        keep_train = _first_of_each(train_x)
        keep_test = _first_of_each(test_x, seen={img.tobytes() for img in train_x})
        train_x, train_y = train_x[keep_train], train_y[keep_train]
        test_x, test_y = test_x[keep_test], test_y[keep_test]
    stats.update(train_images=len(train_x), test_images=len(test_x))
    prepared = Path(prepared)
    files.save_npz(prepared / "train.npz", x=train_x, y=train_y)
    files.save_npz(prepared / "test.npz", x=test_x, y=test_y)
    files.write_json(prepared / STATS, stats)
    log.info("gan images: %s", stats)


def load_images(prepared: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    return load_split(prepared, split, "gan-preprocess")


def to_gan_input(x: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [-1, 1], the generator's output range."""
    x = x.unsqueeze(1).float() / 127.5 - 1.0
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Generator output (N, 1, 28, 28) in [-1, 1] -> uint8 (N, 28, 28), quantised like real images."""
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).squeeze(1)


class GanDataModule(L.LightningDataModule):
    """Training images in memory as uint8; each batch holds n_critic x batch_size images, one slice
    per critic update of that generator step."""

    def __init__(self, prepared: Path, batch_size: int, n_critic: int, train_limit: int = 0) -> None:
        super().__init__()
        self.prepared = Path(prepared)
        self.batch_size = batch_size * n_critic
        self.train_limit = train_limit
        self.train: TensorDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        x, _ = load_images(self.prepared, "train")
        if self.train_limit:
            x = x[: self.train_limit]
        if len(x) < self.batch_size:
            raise ValueError(
                f"{self.prepared / 'train.npz'}: {len(x)} training images, fewer than one generator step needs "
                f"(gan.train.batch_size x gan.train.n_critic = {self.batch_size})"
            )
        self.train = TensorDataset(x)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train, batch_size=self.batch_size, shuffle=True, drop_last=True)
