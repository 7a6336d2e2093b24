"""Shared fixtures: tiny Fashion-MNIST-format data (real idx .gz files) and tiny params."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

# Triton kernels (word2vec's hogwild.py), where Triton is installed, run in its interpreter without a GPU.
# Set before Triton is imported (lightning imports it): Triton reads it when a kernel is decorated.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

from lightning.pytorch.callbacks import Callback  # noqa: E402

from kexue.fashion_mnist import FILES
from kexue.params import RunParams, TrainerParams
from kexue.tasks.fashion.params import FashionParams

REPO = Path(__file__).resolve().parents[1]

# Tests force the CPU and one thread each: a laptop's two cores and CI stay responsive.
torch.set_num_threads(1)


def write_idx(path: Path, array: np.ndarray, magic: int | None = None) -> None:
    """Write `array` (uint8) as a gzipped idx file, the format of the Fashion-MNIST files."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = (0x0800 | array.ndim) if magic is None else magic
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def synthetic_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable 28x28 images: class k is noise plus a bright horizontal bar at row 2k+4."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for i, k in enumerate(labels):
        images[i, 2 * k + 4 : 2 * k + 6, 4:24] = 230
    return images, labels


def pytest_collection_modifyitems(config, items):
    """The `slow` tests (real dvc runs) first: under two workers (pyproject's `-n 2 --dist worksteal`)
    the longest one starts at once and the other worker takes the rest, instead of it starting last."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: file order otherwise


@pytest.fixture(autouse=True, scope="session")
def _token_cache(tmp_path_factory):
    """Tests (and the dvc runs they start) keep jieba's token cache to themselves."""
    old = os.environ.get("KEXUE_CACHE")
    os.environ["KEXUE_CACHE"] = str(tmp_path_factory.mktemp("kexue-cache"))
    yield
    if old is None:
        os.environ.pop("KEXUE_CACHE", None)
    else:
        os.environ["KEXUE_CACHE"] = old


def write_raw(raw: Path, train: int = 400, test: int = 100) -> Path:
    """The four Fashion-MNIST files in the real format, with `train` + `test` synthetic images."""
    raw.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", train, 0), ("test", test, 1)):
        images_file, _, labels_file, _ = FILES[split]
        x, y = synthetic_images(n, seed)
        write_idx(raw / images_file, x)
        write_idx(raw / labels_file, y)
    return raw


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    """A folder holding the four Fashion-MNIST files in the real format, with 400 + 100 images."""
    return write_raw(tmp_path / "raw")


def params_file(tmp_path: Path, edit) -> Path:
    """A copy of the repo's params.yaml with `edit(dict)` applied, in tmp_path."""
    import yaml

    data = yaml.safe_load((REPO / "params.yaml").read_text())
    edit(data)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class Killed(Exception):
    """What the simulated kill raises."""


class KillAfterFirstEpoch(Callback):
    """Dies as the second epoch starts: epoch 1 and its checkpoint are complete, as after a real kill."""

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == 1:
            raise Killed("simulated kill after epoch 1")


def tiny_params(**train: object) -> FashionParams:
    settings = dict(epochs=1, batch_size=32, optimizer="adamw", lr=1e-2, warmup_epochs=0, ema_decay=0.0, augment="flip")
    settings.update(train)
    return FashionParams.model_validate(
        {"data": {"val_size": 100}, "model": {"width": 0.25}, "train": settings, "evaluate": {"batch_size": 64}}
    )


def cpu_run(**trainer: object) -> RunParams:
    settings = dict(accelerator="cpu", devices=1, progress_bar=False)
    settings.update(trainer)
    return RunParams(seed=0, trainer=TrainerParams(**settings))


@pytest.fixture
def prepared_dir(raw_dir: Path, tmp_path: Path) -> Path:
    from kexue.tasks.fashion import preprocess

    out = tmp_path / "prepared"
    preprocess(tiny_params(), cpu_run(), raw_dir, out)
    return out


@pytest.fixture
def mirror() -> Path:
    """The dataset mirror (KEXUE_DATA_MIRROR, else ../shared/datasets beside the repo)."""
    path = Path(os.environ.get("KEXUE_DATA_MIRROR", REPO.parent / "shared" / "datasets"))
    if not (path / "fashion-mnist").is_dir():
        pytest.skip(f"no dataset mirror at {path} (set KEXUE_DATA_MIRROR)")
    return path
