"""What the sweeps run with DVC's own machinery share (`title_sweep.py`, `tricks.py`, `gan_arch.py`):
queue each experiment with `dvc exp run --queue`, `dvc queue start -j N`, wait until the queue holds
nothing queued or running, then read the experiments back from `dvc exp show --json`.

A sweep script defines its experiments (the `dvc exp run --queue` commands), its table and plots. It
builds its command line with `parser()`, its own options (`add_stage_options()` for a short and a long
stage) and `parse_args()`, and hands the commands and its collector to `sweep()`: `queue_and_wait()`
runs them (with --dry-run, prints them). Its collector walks `experiments(exp_show(), "metrics/<task>.json")`
and hands its rows, tables and plots to `write_results()`. Not a benchmark of its own: nothing to run here.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kexue import files

log = logging.getLogger("exp_queue")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


# --- running ---------------------------------------------------------------------------------------------

def run(cmd: list[str], dry_run: bool) -> str:
    """Print `$ cmd`; unless `dry_run`, run it in the repository and return its stdout (exit if it fails)."""
    print("$ " + shlex.join(cmd), flush=True)
    if dry_run:
        return ""
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def queue_counts() -> tuple[int, int]:
    """(queued, running) experiments in the repository's queue, read from DVC's own files. Not `dvc queue
    status`: its worker query (celery's `inspect`) writes a broker message that a running worker can read
    half-written and die of, leaving the rest of the queue unrun (treeverse/dvc-task#73; it stopped a
    sweep here on 2026-12-07)."""
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        queue = repo.experiments.celery_queue
        return sum(1 for _ in queue.iter_queued()), sum(1 for _ in queue.iter_active())


def wait_for_queue(poll_s: float, jobs: int, counts: Callable[[], tuple[int, int]] = queue_counts) -> None:
    """Until the queue holds nothing queued or running. Where experiments stay queued with none running
    over two checks, the worker has died: `dvc queue start -j jobs` again (the finished ones are kept)."""
    stalled = 0
    while True:
        queued, running = counts()
        if not queued and not running:
            return
        stalled = stalled + 1 if queued and not running else 0
        if stalled >= 2:
            log.warning("%d experiments queued and none running for %.0f s: the worker died; starting it again",
                        queued, poll_s)
            run(["dvc", "queue", "start", "-j", str(jobs)], dry_run=False)
            stalled = 0
        log.info("%d experiments queued, %d running", queued, running)
        time.sleep(poll_s)


def queue_and_wait(cmds: list[list[str]], args: argparse.Namespace, minutes_per_run: float | None = None) -> bool:
    """Queue `cmds`, `dvc queue start -j args.jobs`, wait until the queue is empty. With `args.dry_run`
    only print the commands and what would follow (with `minutes_per_run`, the hours it would take on
    2 CPU cores) and return True: nothing to collect."""
    for cmd in cmds:
        run(cmd, args.dry_run)
    run(["dvc", "queue", "start", "-j", str(args.jobs)], args.dry_run)
    if args.dry_run:
        then = ("then: wait until nothing is queued or running (not by polling `dvc queue status`: it can kill "
                f"the worker, see exp_queue.queue_counts), collect `dvc exp show --json` into {args.out}")
        if minutes_per_run is None:
            print(f"# {then}")
        else:
            hours = len(cmds) * minutes_per_run / 60 / args.jobs
            print(f"# {len(cmds)} experiments, about {hours:.1f} h at -j {args.jobs} on 2 CPU cores (estimate); {then}")
        return True
    wait_for_queue(args.poll, args.jobs)
    return False


def not_collected(cmds: list[list[str]], args: argparse.Namespace, counts: Callable[[dict], bool] | None = None) -> list[list[str]]:
    """`cmds` less those whose experiment (`-n NAME`) is already in `args.out/experiments.json`, the
    committed collect of an earlier chunk, so a sweep that spans sessions queues only what is left;
    `args.rerun` keeps them all. `counts(row)`: whether a collected row counts as done (default: all)."""
    if args.rerun:
        return cmds
    done = {r.get("name") for r in collected(args.out) if counts is None or counts(r)}
    kept = [c for c in cmds if "-n" not in c or c[c.index("-n") + 1] not in done]
    if len(kept) < len(cmds):
        log.info("%d of %d experiments already collected in %s: not queued again (--rerun queues them)",
                 len(cmds) - len(kept), len(cmds), args.out / "experiments.json")
    return kept


def sweep(args: argparse.Namespace, commands: Callable[[], list[list[str]]], collect: Callable[[Path], object],
          minutes_per_run: float | None = None, counts: Callable[[dict], bool] | None = None) -> int:
    """A sweep script's main once its options are parsed: unless --collect-only, queue `commands()` but
    those collected already (`not_collected`, `counts`) and wait for them (--dry-run: print them and
    stop); then `collect(args.out)`."""
    if not args.collect_only and queue_and_wait(not_collected(commands(), args, counts), args, minutes_per_run):
        return 0  # a dry run: nothing to collect
    collect(args.out)
    return 0


def hydra_value(value: object) -> str:
    """`value` as the right-hand side of a `-S key=value` override (Hydra syntax: true/false, [a,b])."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(map(hydra_value, value)) + "]"
    return str(value)


# --- command line ----------------------------------------------------------------------------------------

def parser(doc: str) -> argparse.ArgumentParser:
    """A sweep script's parser: its docstring's first line as the description, the whole as the epilog."""
    return argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter, epilog=doc)


def add_stage_options(parser: argparse.ArgumentParser, seeds: tuple[int, ...], top_help: str, winners_help: str,
                      **winners: object) -> argparse.ArgumentParser:
    """A two-stage sweep's options (a short stage of everything, a long one of the short stage's best):
    --stage, --seeds, --top and --winners (`winners`: more `add_argument` keywords, e.g. choices or type)."""
    parser.add_argument("--stage", choices=("short", "long"), default="short")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(seeds))
    parser.add_argument("--top", type=int, default=2, help=top_help)
    parser.add_argument("--winners", nargs="+", help=winners_help, **winners)
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None, out: Path,
               jobs_help: str = "dvc queue start -j (default 1: 2 CPU cores)") -> argparse.Namespace:
    """Add the options every sweep has (--jobs, --dry-run, --collect-only, --out with default `out`,
    --poll), parse `argv` and log INFO with times."""
    parser.add_argument("--jobs", type=int, default=1, help=jobs_help)
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("--collect-only", action="store_true", help="skip queueing and running")
    parser.add_argument("--rerun", action="store_true", help="queue even the experiments already collected in --out")
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--poll", type=float, default=60.0, help="seconds between queue checks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    return args


# --- collecting ------------------------------------------------------------------------------------------

def baselines(listing: str) -> list[str]:
    """The commits that experiments were run from, in `dvc exp list --all-commits` output (a line
    `<rev>:` opens each commit's experiments)."""
    return [line[:-1].strip() for line in listing.splitlines() if line.strip() and not line[0].isspace()
            and line.rstrip().endswith(":")]


def exp_show() -> object:
    """`dvc exp show --json` of every commit that has experiments, parsed: a sweep's experiments stay
    collectable after new commits move HEAD past the commit they were queued from."""
    def dvc(*args: str) -> str:
        return subprocess.run(["dvc", "exp", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout

    revs = baselines(dvc("list", "--all-commits"))
    return json.loads(dvc("show", "--json", *(a for rev in revs for a in ("--rev", rev))))


def records(node: object) -> Iterator[dict]:
    """Every experiment record (a dict with `data` holding `params` and `metrics`) in `dvc exp show --json`."""
    if isinstance(node, list):
        for item in node:
            yield from records(item)
    elif isinstance(node, dict):
        data = node.get("data")
        if isinstance(data, dict) and "params" in data:
            yield node
        for value in node.values():
            if isinstance(value, (list, dict)):
                yield from records(value)


def file_data(section: dict | None, name: str) -> dict:
    """The data of the file whose path ends with `name` in a record's `params` or `metrics` ({} if none)."""
    for path, entry in (section or {}).items():
        if path.endswith(name) and isinstance(entry, dict):
            return entry.get("data") or {}
    return {}


@dataclass
class Experiment:
    name: str | None
    rev: str | None
    params: dict  # params.yaml's data
    metrics: dict  # the metrics file's data


def experiments(shown: object, metrics_file: str, name: re.Pattern | None = None) -> Iterator[Experiment]:
    """Each experiment of `dvc exp show --json` that has data in `metrics_file` (and, with `name`, a name
    it matches), once per revision: the first record of a revision counts."""
    seen = set()
    for rec in records(shown):
        data = rec["data"]
        exp = rec.get("name") or data.get("name")
        metrics = file_data(data.get("metrics"), metrics_file)
        rev = data.get("rev") or rec.get("rev")
        if (name is not None and not name.match(exp or "")) or not metrics or rev in seen:
            continue
        seen.add(rev)
        yield Experiment(exp, rev, file_data(data.get("params"), "params.yaml"), metrics)


def collected(out: Path) -> list[dict]:
    """The rows of `out/experiments.json`, an earlier collect (committed); none if there is no file."""
    path = out / "experiments.json"
    return [r for r in json.loads(path.read_text()) if isinstance(r, dict)] if path.is_file() else []


def with_earlier(out: Path, rows: list[dict]) -> list[dict]:
    """`rows` plus the rows of `out/experiments.json` (an earlier collect, committed) whose experiment
    `name` is not among them: experiments run on another machine or in an earlier session are not in
    this repo's `dvc exp show`, and a sweep that spans sessions must not lose them. Sorted by name."""
    names = {r.get("name") for r in rows}
    kept = [r for r in collected(out) if r.get("name") not in names]
    if kept:
        log.info("kept %d earlier rows of %s not in this repo's dvc exp show", len(kept), out / "experiments.json")
    return sorted(rows + kept, key=lambda r: r.get("name") or "")


def write_results(out: Path, rows: list[dict], what: str, texts: dict[str, str],
                  figures: dict[str, Callable[[Path], None]] | None = None) -> None:
    """`rows` to `out/experiments.json`, each of `texts` (its tables) to `out/<name>` and each of
    `figures` drawn to `out/<name>`, every file written atomically (`kexue.files`); logs how many `what`."""
    out.mkdir(parents=True, exist_ok=True)
    files.write_json(out / "experiments.json", rows)
    for name, text in texts.items():
        files.write_text(out / name, text)
    for name, draw in (figures or {}).items():
        draw(out / name)
    log.info("%d %s -> %s", len(rows), what, out)


def long_winners(args: argparse.Namespace, pick: Callable[[list[dict], int], list]) -> list | None:
    """A two-stage sweep's winners: None in the short stage; in the long one `--winners`, else
    `pick(rows, args.top)` on the rows the short stage's collect wrote to `args.out/experiments.json`
    (exit if there are none)."""
    if args.stage != "long":
        return None
    if args.winners is not None:
        return args.winners
    path = args.out / "experiments.json"
    if not path.is_file():
        sys.exit(f"no short-stage results in {path}: run --stage short first, or pass --winners")
    return pick(json.loads(path.read_text()), args.top)
