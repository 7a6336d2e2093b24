"""Fashion-MNIST data: the download and preprocess stages, and the LightningDataModule.

download:   the four idx .gz files (upstream or KEXUE_DATA_MIRROR), sha256-checked.
preprocess: idx -> uint8 images (N, 28, 28) and int64 labels in .npz files; a seeded validation
            split carved from the 60k training images; the 10k test images untouched.
"""

from __future__ import annotations

import gzip
import logging
import os
import struct
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from kexue.errors import DataFormatError
from kexue.fetch import Remote, fetch_all
from kexue.loading import load_npz
from kexue.params import ParamsError, RunParams
from kexue.tasks.fashion.params import FashionParams

log = logging.getLogger(__name__)

UPSTREAM = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"
FILES = {
    # split: (images file, sha256, labels file, sha256) -- hashes from shared/datasets/SOURCES.md
    "train": (
        "train-images-idx3-ubyte.gz",
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz",
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    ),
    "test": (
        "t10k-images-idx3-ubyte.gz",
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz",
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    ),
}
REMOTES = [
    Remote("fashion-mnist", name, f"{UPSTREAM}/{name}", sha)
    for images, isha, labels, lsha in FILES.values()
    for name, sha in ((images, isha), (labels, lsha))
]
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
SPLITS = ("train", "val", "test")
# Mean and std of the 60k training pixels (scaled to [0, 1]).
MEAN, STD = 0.2860, 0.3530

IDX_MAGIC = {1: 0x00000801, 3: 0x00000803}  # ubyte data, 1 or 3 dimensions


class IdxFormatError(DataFormatError):
    """An idx file is not what the Fashion-MNIST format says it must be."""


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read a gzipped idx file of unsigned bytes with `ndim` dimensions (1: labels, 3: images)."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise IdxFormatError(f"{path}: not a readable gzip file ({err})") from None
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxFormatError(f"{path}: {len(data)} bytes, too short for an idx{ndim} header ({header} bytes)")
    (magic,) = struct.unpack(">I", data[:4])
    if magic != IDX_MAGIC[ndim]:
        raise IdxFormatError(f"{path}: bad magic number 0x{magic:08x}, expected 0x{IDX_MAGIC[ndim]:08x} (idx{ndim}, ubyte)")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise IdxFormatError(
            f"{path}: header says shape {dims} ({expected} bytes of data) but the file has {len(data) - header}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def download(raw: Path) -> None:
    """Stage 1: fetch the four idx .gz files into `raw`."""
    fetch_all(REMOTES, raw)


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _load_split(raw: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_file, _, labels_file, _ = FILES[split]
    images = read_idx(raw / images_file, 3)
    labels = read_idx(raw / labels_file, 1)
    if images.shape[1:] != (28, 28):
        raise IdxFormatError(f"{raw / images_file}: images are {images.shape[1:]}, expected 28x28")
    if len(images) != len(labels):
        raise IdxFormatError(f"{raw}: {len(images)} images in {images_file} but {len(labels)} labels in {labels_file}")
    if labels.max(initial=0) >= len(CLASSES):
        raise IdxFormatError(f"{raw / labels_file}: label {labels.max()} outside 0..{len(CLASSES) - 1}")
    return images, labels.astype(np.int64)


def preprocess(p: FashionParams, run: RunParams, raw: Path, prepared: Path) -> None:
    """Stage 2: idx files in `raw` -> `prepared/{train,val,test}.npz` (arrays `x` uint8, `y` int64)."""
    train_x, train_y = _load_split(raw, "train")
    test_x, test_y = _load_split(raw, "test")
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
