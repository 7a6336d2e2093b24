"""Stages download (which draws the data set instead of fetching it) and preprocess, and the
DataModule.

download: random strings -> captcha images drawn by the `captcha` package, seeded, on every core;
val and test strings are drawn first and never reused for training, so no test string was seen in
training. Stored compactly as one compressed uint8 array per split, not as image files.
preprocess: checks the arrays against the params, scales the images to the network's input size
and encodes the strings as alphabet indices.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from kexue import arrays, files, plots
from kexue.errors import DataFormatError
from kexue.loading import load_npz
from kexue.params import RunParams
from kexue.tasks.captcha.generate import CHUNK, draw_many
from kexue.tasks.captcha.params import CaptchaParams, DataParams

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
STATS = "stats.json"


def random_strings(rng: np.random.Generator, n: int, alphabet: str, length: int, exclude: set[str]) -> list[str]:
    """`n` strings of `length` characters drawn uniformly from `alphabet`, none of them in `exclude`."""
    chars = np.array(list(alphabet))
    out: list[str] = []
    while len(out) < n:
        batch = ["".join(row) for row in chars[rng.integers(0, len(chars), size=(n - len(out), length))]]
        out.extend(s for s in batch if s not in exclude)
    return out


def split_strings(d: DataParams, seed: int) -> dict[str, list[str]]:
    """Test strings first, then val strings not in test, then training strings in neither."""
    rng = np.random.default_rng([seed, 0])
    test = random_strings(rng, d.test_size, d.alphabet, d.length, set())
    val = random_strings(rng, d.val_size, d.alphabet, d.length, set(test))
    train = random_strings(rng, d.train_size, d.alphabet, d.length, set(test) | set(val))
    return {"train": train, "val": val, "test": test}


def download(p: CaptchaParams, run: RunParams, raw: Path, samples: Path) -> None:
    """Stage 1: draw the captcha data set -> `raw/{train,val,test}.npz` (`x` uint8 (N, H, W), `text`),
    and a PNG of examples at `samples`."""
    d = p.data
    raw = Path(raw)
    strings = split_strings(d, run.seed)
    total = sum(len(v) for v in strings.values())
    start = time.perf_counter()
    with tqdm(total=total, unit="img", desc="drawing captchas") as bar:
        for k, split in enumerate(SPLITS):
            texts = strings[split]
            chunks = []
            for chunk in draw_many(texts, d.width, d.height, seed=run.seed * 1000 + k + 1, workers=d.workers):
                chunks.append(chunk)
                bar.update(len(chunk))
            files.save_npz(raw / f"{split}.npz", compressed=True, x=np.concatenate(chunks), text=np.array(texts))
    seconds = time.perf_counter() - start
    z = load_npz(raw / "test.npz", ("x", "text"), stage="captcha-download")
    x, text = z["x"][:12], z["text"][:12]
    plots.image_grid_png(x, samples, "captcha test images and their strings", cols=4, labels=list(text))
    # the speed goes to the log only: the arrays stay byte-identical for a seed
    log.info("drew %d captchas (%d chunks of %d) into %s in %.1f s: %.0f images/s", total, -(-total // CHUNK), CHUNK,
             raw, seconds, total / max(seconds, 1e-9))


def _check(path: Path, x: np.ndarray, text: np.ndarray, d: DataParams) -> None:
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (d.height, d.width):
        raise DataFormatError(
            f"{path}: images are {x.dtype} {x.shape}, expected uint8 (N, {d.height}, {d.width}) "
            f"(captcha.data.height/width); rerun captcha-download"
        )
    if len(text) != len(x):
        raise DataFormatError(f"{path}: {len(x)} images but {len(text)} strings")
    allowed = set(d.alphabet)
    for s in text:
        if len(s) != d.length or not set(s) <= allowed:
            raise DataFormatError(
                f"{path}: string {str(s)!r} does not have {d.length} characters of captcha.data.alphabet {d.alphabet!r}"
            )


def encode(texts: np.ndarray, alphabet: str) -> np.ndarray:
    """Strings -> (N, length) int64 indices into `alphabet`."""
    index = {c: i for i, c in enumerate(alphabet)}
    return np.array([[index[c] for c in s] for s in texts], dtype=np.int64)


def decode(codes, alphabet: str) -> str:
    return "".join(alphabet[int(i)] for i in codes)


def preprocess(p: CaptchaParams, run: RunParams, raw: Path, prepared: Path) -> None:
    """Stage 2: `raw` arrays -> `prepared/{train,val,test}.npz` (`x` uint8 scaled to the input size,
    `y` (N, length) alphabet indices) and `prepared/stats.json`."""
    d, raw, prepared = p.data, Path(raw), Path(prepared)
    stats: dict[str, object] = {"alphabet": d.alphabet, "length": d.length, "input": [d.input_height, d.input_width]}
    seen: dict[str, set[str]] = {}
    for split in SPLITS:
        path = raw / f"{split}.npz"
        z = load_npz(path, ("x", "text"), stage="captcha-download")
        x, text = z["x"], z["text"]
        del z  # the full-size images go as soon as `x` is resized
        _check(path, x, text, d)
        seen[split] = set(text.tolist())
        if (d.input_height, d.input_width) != (d.height, d.width):
            x = resize(x, d.input_height, d.input_width)
        files.save_npz(prepared / f"{split}.npz", x=x, y=encode(text, d.alphabet))
        stats[f"{split}_images"] = len(x)
    stats["test_strings_in_train"] = len(seen["test"] & seen["train"])
    stats["val_strings_in_train"] = len(seen["val"] & seen["train"])
    files.write_json(prepared / STATS, stats)
    log.info("captcha data: %s", stats)


def resize(x: np.ndarray, height: int, width: int, batch: int = 2000) -> np.ndarray:
    """Area-average uint8 images (N, H, W) down (or bilinear up) to (N, height, width)."""
    out = np.empty((len(x), height, width), dtype=np.uint8)
    for i in range(0, len(x), batch):
        t = torch.from_numpy(x[i : i + batch]).unsqueeze(1).float()
        mode = "area" if height <= x.shape[1] and width <= x.shape[2] else "bilinear"
        out[i : i + batch] = F.interpolate(t, size=(height, width), mode=mode).round().clamp(0, 255).squeeze(1).byte().numpy()
    return out


def load_split(prepared: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    return arrays.load_split(prepared, split, "captcha-preprocess")


def to_input(x: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """uint8 (N, H, W) -> float (N, 1, H, W) in [-1, 1] (white background near 1)."""
    x = x.unsqueeze(1).float() / 127.5 - 1.0
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def datamodule(prepared: Path, batch_size: int, eval_batch_size: int, train_limit: int = 0) -> arrays.ArrayDataModule:
    return arrays.ArrayDataModule(prepared, "captcha-preprocess", batch_size, eval_batch_size, train_limit)
