"""The Fashion-MNIST data set as fetched: its four idx files, their class names, and the idx reader
with its format checks.

The fashion task downloads the files (`REMOTES`) and classifies the images; the gan task reads the
same downloaded files (fashion-download's output, a DVC data dependency) to learn to draw them.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from kexue.errors import DataFormatError
from kexue.fetch import Remote

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


def read_split(raw: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The images (uint8, (N, 28, 28)) and labels (int64) of `split` (train or test) from the idx
    files in `raw`, checked: 28x28 images, as many labels as images, each a class index."""
    raw = Path(raw)
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
