"""Prove a refactor changed no stage's outputs: run the tasks on tiny params twice and compare every output.

    python benchmarks/refactor_check.py TASK [TASK ...] [--base REV] [--keep DIR] [--json OUT]

Builds two copies of the repo in a temporary folder: `base/` (`git archive REV`, default HEAD) and
`work/` (the working tree's files, `git ls-files -co --exclude-standard`), each without `metrics/`,
`tests/` and `dvc.lock`, and with its own `params.yaml` merged with the working tree's
`tests/tiny_params.yaml`. In each it runs `dvc repro <task>-evaluate` (upstream stages of other tasks
come along: gan needs fashion's) with `PYTHONPATH=<copy>/src`, so each copy runs its own code. Then it
compares every `outs`/`metrics`/`plots` entry of every stage that completed in both copies:

- `.npz`: same keys, dtypes and shapes; integers, booleans and strings equal; floats within 1e-6.
- `.ckpt`/`.pt`: loaded with torch and compared recursively (tensors within 1e-6), ignoring Lightning's
  Timer callback state and keys named `time_elapsed`, `train_wall_time_s`, `train_time_s`, `wall`, `timestamp`.
- `.json`: compared recursively (floats within 1e-6), ignoring keys containing `time`, `wall`, `second`,
  `_per_s`, `_per_cpu_s` or `speed` and keys named `device`: wall-clock, CPU-time and speed numbers
  differ from run to run.
- `.tsv`/`.csv`: read with pandas, without columns named `timestamp` or containing `time` or `_per_s`.
- `.png`/`.jpg`: decoded pixels equal (matplotlib's metadata may differ).
- anything else: bytes equal.

`fingerprint.json` (a training's resume fingerprint) is skipped: it holds the hashes of the stage's code
files, so it differs after every code edit by design. In every file the copies' absolute paths are
replaced by a placeholder before comparing (Lightning's ModelCheckpoint records its `dirpath`).

Prints a table (stage: proved unchanged / CHANGED / not proved / not run), writes it as JSON with
`--json`, and ends with the `dvc commit` line the proved stages allow; its commit message names this
check. Exits 0 only if every stage of the named tasks was proved unchanged.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
ATOL = 1e-6
MAX_DIFFS = 5
SKIPPED_FILES = {"fingerprint.json": "resume fingerprint: holds the code's hashes, differs after any code edit"}
CKPT_VOLATILE = {"time_elapsed", "train_wall_time_s", "train_time_s", "wall", "timestamp"}
JSON_VOLATILE = ("time", "wall", "second", "_per_s", "_per_cpu_s", "speed")
log = logging.getLogger("refactor_check")


def ckpt_volatile(key: str) -> bool:
    return "Timer" in key or key in CKPT_VOLATILE


def json_volatile(key: str) -> bool:
    return key == "device" or any(word in key for word in JSON_VOLATILE)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _norm(text: str, roots: tuple[str, ...]) -> str:
    for root in sorted(roots, key=len, reverse=True):  # a resolved path may extend the unresolved one
        text = text.replace(root, "<copy>")
    return text


def compare_values(a: Any, b: Any, ignore: Callable[[str], bool], roots: tuple[str, ...] = (),
                   path: str = "") -> list[str]:
    """The key paths (at most MAX_DIFFS) where `a` and `b` differ beyond ATOL, skipping keys `ignore` names."""
    where = path or "<root>"
    if isinstance(a, dict) and isinstance(b, dict):
        ka = {_norm(str(k), roots): v for k, v in a.items() if not ignore(str(k))}
        kb = {_norm(str(k), roots): v for k, v in b.items() if not ignore(str(k))}
        diffs = [] if ka.keys() == kb.keys() else [f"{where}: keys only in base {sorted(ka.keys() - kb.keys())[:3]}"
                                                   f", only in work {sorted(kb.keys() - ka.keys())[:3]}"]
        pairs = [(f"{path}/{k}", ka[k], kb[k]) for k in ka if k in kb]  # the shared keys: is the rest the same?
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{where}: length {len(a)} != {len(b)}"]
        diffs, pairs = [], [(f"{path}[{i}]", x, y) for i, (x, y) in enumerate(zip(a, b))]
    else:
        return compare_leaves(a, b, roots, where)
    for sub, x, y in pairs:
        diffs += compare_values(x, y, ignore, roots, sub)
        if len(diffs) >= MAX_DIFFS:
            break
    return diffs[:MAX_DIFFS]


def compare_leaves(a: Any, b: Any, roots: tuple[str, ...], where: str) -> list[str]:
    import torch

    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.dtype != b.dtype or a.shape != b.shape:
            return [f"{where}: dtype/shape {a.dtype}{tuple(a.shape)} != {b.dtype}{tuple(b.shape)}"]
        a, b = (t.detach().cpu().float().numpy() if t.dtype == torch.bfloat16 else t.detach().cpu().numpy()
                for t in (a, b))
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return [] if (msg := compare_arrays(a, b)) is None else [f"{where}: {msg}"]
    if _is_number(a) and _is_number(b) and (isinstance(a, float) or isinstance(b, float)):
        same = math.isclose(a, b, rel_tol=0, abs_tol=ATOL) or (math.isnan(a) and math.isnan(b))
        return [] if same else [f"{where}: {a!r} != {b!r}"]
    if isinstance(a, str) and isinstance(b, str):
        return [] if _norm(a, roots) == _norm(b, roots) else [f"{where}: {a[:60]!r} != {b[:60]!r}"]
    if type(a) is not type(b):
        return [f"{where}: type {type(a).__name__} != {type(b).__name__}"]
    try:
        same = bool(np.all(a == b))
    except Exception as exc:  # an object without a usable ==
        return [f"{where}: cannot compare {type(a).__name__} ({exc})"]
    return [] if same else [f"{where}: {str(a)[:60]!r} != {str(b)[:60]!r}"]


def compare_arrays(a: np.ndarray, b: np.ndarray) -> str | None:
    if a.dtype != b.dtype or a.shape != b.shape:
        return f"dtype/shape {a.dtype}{a.shape} != {b.dtype}{b.shape}"
    if a.dtype.kind in "fc":
        if np.allclose(a, b, rtol=0, atol=ATOL, equal_nan=True):
            return None
        return f"max abs difference {np.nanmax(np.abs(a - b)):.3g} > {ATOL}"
    return None if np.array_equal(a, b) else f"{int(np.sum(a != b))} of {a.size} elements differ"


def compare_npz(a: Path, b: Path) -> list[str]:
    with np.load(a, allow_pickle=False) as za, np.load(b, allow_pickle=False) as zb:
        if set(za.files) != set(zb.files):
            return [f"keys {sorted(za.files)} != {sorted(zb.files)}"]
        return [f"{k}: {msg}" for k in za.files if (msg := compare_arrays(za[k], zb[k])) is not None][:MAX_DIFFS]


def compare_table(a: Path, b: Path, roots: tuple[str, ...] = ()) -> list[str]:
    import pandas as pd

    def read(path: Path) -> pd.DataFrame:
        frame = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")
        return frame.drop(columns=[c for c in frame.columns
                                   if c == "timestamp" or "time" in str(c) or "_per_s" in str(c)])
    fa, fb = read(a), read(b)
    if list(fa.columns) != list(fb.columns) or fa.shape != fb.shape:
        return [f"columns/shape {list(fa.columns)}{fa.shape} != {list(fb.columns)}{fb.shape}"]
    diffs = []
    for col in fa.columns:
        x, y = fa[col], fb[col]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            same = np.allclose(x.to_numpy(float), y.to_numpy(float), rtol=0, atol=ATOL, equal_nan=True)
        else:
            same = [_norm(str(v), roots) for v in x] == [_norm(str(v), roots) for v in y]
        if not same:
            diffs.append(f"column {col!r} differs")
    return diffs[:MAX_DIFFS]


def compare_image(a: Path, b: Path) -> list[str]:
    from PIL import Image

    with Image.open(a) as ia, Image.open(b) as ib:
        if ia.mode != ib.mode or ia.size != ib.size:
            return [f"mode/size {ia.mode}{ia.size} != {ib.mode}{ib.size}"]
        pa, pb = np.asarray(ia), np.asarray(ib)
    return [] if np.array_equal(pa, pb) else [f"{int(np.any(pa != pb, axis=-1).sum())} pixels differ"]


def compare_file(a: Path, b: Path, roots: tuple[str, ...] = ()) -> list[str]:
    """Why `a` and `b` differ (empty: the same by the rules in the module docstring)."""
    if a.read_bytes() == b.read_bytes():
        return []
    suffix = a.suffix.lower()
    try:
        if suffix == ".npz":
            return compare_npz(a, b)
        if suffix in (".ckpt", ".pt"):
            import torch
            load = lambda p: torch.load(p, map_location="cpu", weights_only=False)  # noqa: E731
            return compare_values(load(a), load(b), ckpt_volatile, roots)
        if suffix == ".json":
            return compare_values(json.loads(a.read_text()), json.loads(b.read_text()), json_volatile, roots)
        if suffix in (".tsv", ".csv"):
            return compare_table(a, b, roots)
        if suffix in (".png", ".jpg", ".jpeg"):
            return compare_image(a, b)
        if _norm(a.read_text(), roots) == _norm(b.read_text(), roots):
            return []
    except Exception as exc:  # unreadable or not text: the bytes differ and nothing more can be said
        return [f"bytes differ; could not compare contents ({type(exc).__name__}: {exc})"]
    return ["bytes differ"]


def compare_output(base: Path, work: Path, roots: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(differences, notes) between one output, a file or a folder, of the two copies."""
    if not base.exists() or not work.exists():
        return [f"missing in {'base' if not base.exists() else 'work'}"], []
    files_a = {p.relative_to(base) for p in base.rglob("*") if p.is_file()} if base.is_dir() else {Path()}
    files_b = {p.relative_to(work) for p in work.rglob("*") if p.is_file()} if work.is_dir() else {Path()}
    diffs, notes = [], []
    if files_a != files_b:
        diffs.append(f"files only in base {sorted(map(str, files_a - files_b))[:3]}, "
                     f"only in work {sorted(map(str, files_b - files_a))[:3]}")
    for rel in sorted(files_a & files_b):
        name = (base / rel).name
        if name in SKIPPED_FILES:
            notes.append(f"{name} ignored ({SKIPPED_FILES[name]})")
            continue
        if why := compare_file(base / rel, work / rel, roots):
            diffs.append(f"{rel}: {'; '.join(why)}" if str(rel) != "." else "; ".join(why))
    return diffs, notes


def stage_outputs(stage: dict) -> list[str]:
    entries = [e for key in ("outs", "metrics", "plots") for e in stage.get(key, [])]
    return [e if isinstance(e, str) else next(iter(e)) for e in entries]


def upstream(stages: dict[str, dict], targets: list[str]) -> list[str]:
    """`targets` and every stage they depend on through outputs, in dvc.yaml's order."""
    def produces(out: str, dep: str) -> bool:
        return dep == out or dep.startswith(out + "/") or out.startswith(dep + "/")
    needed, todo = set(), list(targets)
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        deps = [d if isinstance(d, str) else next(iter(d)) for d in stages[name].get("deps", [])]
        todo += [s for s, st in stages.items() if any(produces(o, d) for o in stage_outputs(st) for d in deps)]
    return [s for s in stages if s in needed]


def merge(base: dict, override: dict) -> dict:
    for k, v in override.items():
        base[k] = merge(base[k] if isinstance(base.get(k), dict) else {}, v) if isinstance(v, dict) else v
    return base


def make_copy(dest: Path, rev: str | None, env: dict[str, str]) -> None:
    """`rev`'s files (None: the working tree's), as a fresh git repo with tiny params."""
    skip = lambda rel: rel.startswith(("metrics/", "tests/")) or rel == "dvc.lock"  # noqa: E731
    dest.mkdir(parents=True)
    if rev is None:
        listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=REPO,
                                capture_output=True, check=True).stdout.decode().split("\0")
        for rel in filter(None, listed):
            if not skip(rel) and (REPO / rel).is_file():
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / rel, dest / rel)
    else:
        archive = subprocess.run(["git", "archive", rev], cwd=REPO, capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(dest, members=[m for m in tar.getmembers() if not skip(m.name)])
    tiny = yaml.safe_load((REPO / "tests" / "tiny_params.yaml").read_text())
    params = merge(yaml.safe_load((dest / "params.yaml").read_text()), tiny)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        subprocess.run(cmd, cwd=dest, env=env, check=True, capture_output=True)


def run_copy(root: Path, tasks: list[str], env: dict[str, str]) -> dict[str, str]:
    """`dvc repro <task>-evaluate` for each task in `root`; returns task -> why it failed."""
    env = {**env, "PYTHONPATH": str(root / "src")}
    where = subprocess.run([sys.executable, "-c", "import kexue; print(kexue.__file__)"], cwd=root, env=env,
                           capture_output=True, text=True).stdout.strip()
    if not where.startswith(str(root)):
        raise SystemExit(f"{root.name}: kexue imports from {where!r}, not from the copy")
    failures, logfile = {}, root.parent / f"{root.name}.log"
    for task in tasks:
        start = time.perf_counter()
        log.info("%s: dvc repro %s-evaluate (log: %s)", root.name, task, logfile)
        with logfile.open("a") as out:
            proc = subprocess.run(["dvc", "repro", f"{task}-evaluate"], cwd=root, env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
        log.info("%s: %s done in %.0f s (exit %d)", root.name, task, time.perf_counter() - start, proc.returncode)
        if proc.returncode != 0:
            tail = logfile.read_text().splitlines()[-30:]
            log.error("%s: dvc repro %s-evaluate failed; log tail:\n%s", root.name, task, "\n".join(tail))
            failures[task] = next((ln for ln in reversed(tail) if "ERROR" in ln or "Error" in ln), tail[-1])[:200]
    return failures


def judge(base: Path, work: Path, tasks: list[str], failed: dict[str, dict[str, str]]) -> dict[str, dict]:
    """stage -> {status, details} for every stage the tasks ran or own (work's dvc.yaml)."""
    stages = yaml.safe_load((work / "dvc.yaml").read_text())["stages"]
    mine = [s for s in stages if s.split("-")[0] in tasks]
    # dvc.lock gains a stage's entry once the stage has run: a failed repro leaves the stages before it
    done = {copy: set((yaml.safe_load(lock.read_text()) or {}).get("stages", {})) if lock.exists() else set()
            for copy, lock in (("base", base / "dvc.lock"), ("work", work / "dvc.lock"))}
    roots = tuple(str(p) for p in (base.resolve(), work.resolve(), base, work))
    report: dict[str, dict[str, Any]] = {}
    for stage in dict.fromkeys(upstream(stages, [f"{t}-evaluate" for t in tasks]) + mine):
        if stage not in done["base"] or stage not in done["work"]:
            why = [f"{copy} run failed: {failed[copy][t]}" for copy in ("base", "work") for t in failed[copy]
                   if stage not in done[copy] and stage in upstream(stages, [f"{t}-evaluate"])]
            report[stage] = {"status": "not proved" if why else "not run", "details": why}
            continue
        diffs, notes = [], []
        for out in stage_outputs(stages[stage]):
            d, n = compare_output(base / out, work / out, roots)
            diffs += [f"{out}: {x}" for x in d]
            notes += n
        report[stage] = {"status": "CHANGED" if diffs else "proved unchanged",
                         "details": diffs[:MAX_DIFFS] + sorted(set(notes))}
    return report


def main() -> int:
    from kexue.tasks import TASKS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="+", metavar="TASK")
    parser.add_argument("--base", default="HEAD", help="git revision to compare with (default HEAD)")
    parser.add_argument("--keep", type=Path, help="build the copies in this (new or empty) folder and keep them")
    parser.add_argument("--json", type=Path, help="write stage -> {status, details} here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if unknown := [t for t in args.tasks if t not in TASKS]:
        parser.error(f"unknown task(s) {', '.join(unknown)}; known tasks: {', '.join(TASKS)}")
    rev = subprocess.run(["git", "rev-parse", "--verify", f"{args.base}^{{commit}}"], cwd=REPO,
                         capture_output=True, text=True)
    if rev.returncode != 0:
        parser.error(f"--base {args.base}: not a git revision")
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep}: not empty")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "KEXUE_DATA_MIRROR": os.environ.get("KEXUE_DATA_MIRROR", str(REPO.parent / "shared" / "datasets")),
           "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    top = (args.keep or Path(tempfile.mkdtemp(prefix="refactor_check_"))).absolute()
    start = time.perf_counter()
    try:
        base, work = top / "base", top / "work"
        make_copy(base, rev.stdout.strip(), env)
        make_copy(work, None, env)
        log.info("copies in %s: base = %s (%s), work = working tree", top, args.base, rev.stdout[:10])
        failed = {"base": run_copy(base, args.tasks, env), "work": run_copy(work, args.tasks, env)}
        report = judge(base, work, args.tasks, failed)
    finally:
        if args.keep is None:
            shutil.rmtree(top, ignore_errors=True)
    width = max(map(len, report))
    print(f"\nrefactor check: {args.base} vs working tree, tasks {' '.join(args.tasks)}, "
          f"{time.perf_counter() - start:.0f} s")
    for stage, entry in report.items():
        print(f"{stage:<{width}}  {entry['status']}")
        for line in entry["details"]:
            print(f"{'':<{width}}    {line}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if proved := [s for s, e in report.items() if e["status"] == "proved unchanged"]:
        print(f"\nAllowed (-f: commit without asking, the outputs are proved unchanged):\n"
              f"    dvc commit -f {' '.join(proved)}\n"
              f"The commit message must name this check: `benchmarks/refactor_check.py {' '.join(args.tasks)}`.")
    mine = [e["status"] for s, e in report.items() if s.split("-")[0] in args.tasks]
    return 0 if all(status == "proved unchanged" for status in mine) else 1


if __name__ == "__main__":
    sys.exit(main())
