"""Reading a stage's binary inputs (.npz arrays, torch/Lightning checkpoints), so that a missing,
truncated or corrupt file is reported as bad input: one line naming the file, what was expected and
the stage that writes it (from dvc.yaml, `pipeline.rerun_hint`; else the stage the caller names).

A truncated file shows up as one of many exceptions depending on where the cut falls (zipfile's
BadZipFile, EOFError, numpy's ValueError, torch's "PytorchStreamReader failed ..." RuntimeError, a
KeyError from an unpickler reading garbage): each reader here turns them into `DataFormatError`.
These readers fail before a stage writes anything, so a bad input leaves its outputs as they were.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from kexue.errors import DataFormatError
from kexue.pipeline import rerun_hint, stage_writing

M = TypeVar("M")

# What reading a truncated or corrupt file raises (FileNotFoundError is checked for beforehand).
_CORRUPT = (zipfile.BadZipFile, EOFError, pickle.UnpicklingError, ValueError, KeyError, IndexError, RuntimeError, OSError)


def _hint(path: Path, stage: str | None) -> str:
    """'written by stage X: rerun it with ...' from dvc.yaml, else from the caller's `stage`."""
    hint = rerun_hint(path)
    if not hint and stage:
        hint = f"written by stage {stage}: rerun it with `dvc repro -f {stage}`"
    return f"; {hint}" if hint else ""


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if len(text) > 200:
        text = text[:200] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _require(path: Path, stage: str | None, what: str) -> None:
    if not path.is_file():
        producer = stage_writing(path) or stage
        raise FileNotFoundError(f"{path}: {what}" + (f"; run the {producer} stage first" if producer else ""))


def load_npz(path: Path, keys: Sequence[str] | None = None, *, stage: str | None = None) -> dict[str, np.ndarray]:
    """The arrays `keys` (all where None) of the .npz archive at `path`, read into memory.

    `stage` names the stage that writes `path` where dvc.yaml does not (a path outside the pipeline's
    layout). Raises FileNotFoundError when `path` is missing, DataFormatError when it is not a
    readable .npz archive or lacks one of `keys`."""
    path = Path(path)
    _require(path, stage, "missing")
    expected = f"arrays {', '.join(keys)}" if keys else "arrays"
    try:
        z = np.load(path)
    except _CORRUPT as err:
        raise DataFormatError(f"{path}: truncated or corrupt .npz, expected {expected} ({_reason(err)}){_hint(path, stage)}") from err
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise DataFormatError(f"{path}: a single .npy array, expected an .npz archive of {expected}{_hint(path, stage)}")
    with z:
        missing = [k for k in keys or () if k not in z.files]
        if missing:
            raise DataFormatError(
                f"{path}: no array {', '.join(missing)} (it holds {', '.join(z.files) or 'none'}), expected {expected}"
                f"{_hint(path, stage)}"
            )
        try:
            return {k: z[k] for k in (keys or z.files)}
        except _CORRUPT as err:
            raise DataFormatError(f"{path}: truncated or corrupt .npz, expected {expected} ({_reason(err)}){_hint(path, stage)}") from err


def load_checkpoint(path: Path, module: type[M] | None = None, *, stage: str | None = None, **kwargs: Any) -> M | Any:
    """The checkpoint at `path` on the CPU: with `module` (a LightningModule class), the module its
    `load_from_checkpoint` rebuilds (`kwargs` go to it); without, the object `torch.load` reads
    (`weights_only=True`: tensors and plain types).

    `stage` names the stage that writes `path` where dvc.yaml does not. Raises FileNotFoundError when
    `path` is missing, DataFormatError when it cannot be read as such a checkpoint (truncated, not a
    checkpoint, or one of another model). Only torch's zip format (every torch.save since torch 1.6)
    is read: anything else would go to the legacy unpickler, which fails on garbage in arbitrary ways."""
    path = Path(path)
    _require(path, stage, "no checkpoint")
    expected = f"a {module.__name__} checkpoint" if module is not None else "a torch checkpoint"
    if not zipfile.is_zipfile(path):  # reads the archive's end record: what a truncated copy loses first
        raise DataFormatError(f"{path}: truncated or corrupt checkpoint, expected {expected} (not a zip archive, "
                              f"as torch.save writes){_hint(path, stage)}")
    try:
        if module is None:
            return torch.load(path, map_location="cpu", weights_only=True)
        return module.load_from_checkpoint(path, map_location="cpu", **kwargs)
    except FileNotFoundError:
        raise
    except _CORRUPT as err:
        raise DataFormatError(f"{path}: truncated or corrupt checkpoint, expected {expected} ({_reason(err)}){_hint(path, stage)}") from err
