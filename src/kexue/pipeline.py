"""What `dvc.yaml` says about the stages, read from the file itself so code and pipeline cannot drift.

Two questions are asked of it:
- which code a stage depends on (its `deps` under `src/`): their content hashes go into a training's
  resume fingerprint (`training.run_config`), so a run is resumed only by the very code that began it;
- which stage writes a file: a truncated or corrupt input is reported with the stage to rerun.

`dvc.yaml` is found beside the `src/` folder this package is imported from (an editable install, a
`PYTHONPATH=<copy>/src` run, `dvc exp run --temp`, which imports the work tree's code). Where there
is none (a plain `pip install`), every `.py` file of the package counts as the stage's code.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from kexue.errors import InputError

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parents[1]
DVC_YAML = ROOT / "dvc.yaml"


class PipelineError(InputError, ValueError):
    """dvc.yaml is unreadable, or does not define a stage asked for."""


@lru_cache(maxsize=4)
def _stages(path: Path, mtime_ns: int) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise PipelineError(f"{path}: cannot read the pipeline: {err}") from None
    stages = data.get("stages")
    if not isinstance(stages, dict):
        raise PipelineError(f"{path}: no `stages:` mapping")
    return stages


def stages(dvc_yaml: Path = DVC_YAML) -> dict[str, Any] | None:
    """The `stages:` mapping of `dvc_yaml`, or None where the package runs without its pipeline."""
    dvc_yaml = Path(dvc_yaml)
    if not dvc_yaml.is_file():
        return None
    return _stages(dvc_yaml, dvc_yaml.stat().st_mtime_ns)


def _entries(items: list[Any] | None) -> list[str]:
    """Paths of a `deps`/`outs`/`metrics`/`plots` list, whose entries are strings or one-key mappings."""
    paths = []
    for item in items or []:
        paths.extend(item if isinstance(item, dict) else [item])
    return [str(p) for p in paths]


def code_files(stage: str, dvc_yaml: Path = DVC_YAML) -> list[Path]:
    """The code a stage depends on: its `deps` under `src/` (files, or every file of a folder)."""
    all_stages = stages(dvc_yaml)
    if all_stages is None:
        return sorted(PACKAGE.rglob("*.py"))
    if stage not in all_stages:
        raise PipelineError(f"{dvc_yaml}: no stage {stage!r} (stages: {', '.join(all_stages)})")
    root = Path(dvc_yaml).resolve().parent
    files: list[Path] = []
    for dep in _entries(all_stages[stage].get("deps")):
        if not dep.startswith("src/"):
            continue
        path = root / dep
        if path.is_dir():
            files.extend(sorted(f for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts))
        elif path.is_file():
            files.append(path)
        else:
            raise PipelineError(f"{dvc_yaml}: stage {stage!r} depends on {dep}, which does not exist")
    return files


def code_hashes(stage: str, dvc_yaml: Path = DVC_YAML) -> dict[str, str]:
    """sha256 of each code file `stage` depends on, by its path relative to the project root."""
    base = Path(dvc_yaml).resolve().parent if stages(dvc_yaml) is not None else PACKAGE.parent
    return {f.relative_to(base).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest() for f in code_files(stage, dvc_yaml)}


def stage_writing(path: Path, dvc_yaml: Path = DVC_YAML) -> str | None:
    """The stage whose `outs`, `metrics` or `plots` hold `path` (a file, or one inside an output
    folder), matched by the path's trailing parts, so a path relative to any working copy works."""
    all_stages = stages(dvc_yaml)
    if not all_stages:
        return None
    parts = Path(path).parts
    best: tuple[int, str] | None = None
    for name, stage in all_stages.items():
        for key in ("outs", "metrics", "plots"):
            for out in _entries(stage.get(key)):
                out_parts = Path(out).parts
                # `out` must appear in `path` as whole parts, where `path` ends or inside it
                for i in range(len(parts) - len(out_parts) + 1):
                    if parts[i : i + len(out_parts)] == out_parts and (best is None or len(out_parts) > best[0]):
                        best = (len(out_parts), name)
    return best[1] if best else None


def rerun_hint(path: Path) -> str:
    """'written by stage X: rerun it with `dvc repro -f X`', or '' where no stage writes `path`."""
    stage = stage_writing(path)
    return f"written by stage {stage}: rerun it with `dvc repro -f {stage}`" if stage else ""
