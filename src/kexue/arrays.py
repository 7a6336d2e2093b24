"""Prepared data as arrays in .npz files (`x` inputs, `y` targets), and the LightningDataModule that
serves them from memory: what the array-based tasks share."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from kexue.loading import load_npz


def load_split(prepared: Path, split: str, stage: str) -> tuple[torch.Tensor, torch.Tensor]:
    """`x` and `y` of `prepared/<split>.npz`; a missing or corrupt file names the `stage` that writes it."""
    z = load_npz(Path(prepared) / f"{split}.npz", ("x", "y"), stage=stage)
    return torch.from_numpy(z["x"].copy()), torch.from_numpy(z["y"].copy())


class ArrayDataModule(L.LightningDataModule):
    """train/val/test arrays held in memory (uint8 images stay uint8: the float conversion and any
    augmentation happen on the training device, batch by batch)."""

    def __init__(self, prepared: Path, stage: str, batch_size: int, eval_batch_size: int = 1000, train_limit: int = 0) -> None:
        super().__init__()
        self.prepared = Path(prepared)
        self.stage = stage
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.train_limit = train_limit
        self.data: dict[str, TensorDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        for split in ("train", "val") if stage in (None, "fit", "validate") else ("test",):
            x, y = load_split(self.prepared, split, self.stage)
            if split == "train" and self.train_limit:
                x, y = x[: self.train_limit], y[: self.train_limit]
            self.data[split] = TensorDataset(x, y)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.data["train"], batch_size=self.batch_size, shuffle=True, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.data["val"], batch_size=self.eval_batch_size)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.data["test"], batch_size=self.eval_batch_size)
