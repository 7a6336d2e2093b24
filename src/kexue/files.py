"""Writes that never leave a half-written file: write to a temporary name beside the target, then
rename it over the target (atomic on one filesystem). A killed stage leaves the old file or none; a
write that fails (disk full, an exception while serialising) removes its temporary file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.stem}.tmp{path.suffix}")


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """The temporary path to write; renamed over `path` when the block ends, removed if it fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    with replacing(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_text(path: Path, text: str) -> None:
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_jsonl(path: Path, rows) -> None:
    """One JSON object per line (UTF-8, not escaped), from any iterable of dicts."""
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_csv(df: pd.DataFrame, path: Path) -> None:
    with replacing(path) as tmp:
        df.to_csv(tmp, index=False)


def save_npz(path: Path, compressed: bool = False, **arrays: np.ndarray) -> None:
    with replacing(path) as tmp:
        (np.savez_compressed if compressed else np.savez)(tmp, **arrays)
