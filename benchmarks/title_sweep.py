"""The title task's sweep with DVC's own machinery: the post's prior on and off, over three seeds, each
scored at beam widths 1, 3 and 5; mean ± std per variant beside the lead and oracle baselines.

    python benchmarks/title_sweep.py --dry-run        # print the dvc commands, run nothing
    python benchmarks/title_sweep.py                  # queue, run (`dvc queue start -j 1`), wait, collect
    python benchmarks/title_sweep.py --collect-only   # only collect what `dvc exp show` already holds

1. `dvc exp run --queue -n title-prior{0,1}-seed{S} -S title.model.prior=... -S seed=S title-evaluate`
   for each seed: six trainings (~10 minutes each on 2 CPU cores).
2. The beam widths come from each experiment's own evaluate stage (`title.evaluate.beams`, metrics
   `by_beam.beam{B}`), not from experiments of their own: beam search is an evaluate-time param, but DVC's
   run cache does not restore `persist: true` outputs (dvc/stage/cache.py `_can_hash`), and `models/title`
   must persist to resume a killed training, so an experiment `-S title.decode.beam=B` at another seed
   than the committed one would train again. `--beam-exps` still queues `title-beam{B}` experiments at
   the committed seed and prior: those find the trained model in `dvc.lock` and run only title-evaluate,
   a cross-check that `-S title.decode.beam=B` scores what `by_beam` says.
   `--post-seeds S ...` also queues `title-pointer0-seed{S}`: the post's model (`title.model.pointer=false`,
   no pointer-generator gate), scored in its own rows.
3. `dvc queue start -j 1`, then wait until the queue holds nothing queued or running.
4. `dvc exp show --json` -> `benchmarks/results/title/experiments.json` (the title experiments'
   params and metrics) and `benchmarks/results/title/sweep.md` (the table, generated).

Queued experiments start from the last commit plus the workspace's changes to tracked files: commit the
title task first, or its new files are missing in the experiments' copies.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("title_sweep")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "title"
SEEDS = (1, 2, 3)
BEAMS = (1, 3, 5)
KEYS = ("rouge1", "rouge2", "rougeL")
TARGET = "title-evaluate"


def exp_name(prior: bool, seed: int) -> str:
    return f"title-prior{int(prior)}-seed{seed}"


def queue_commands(seeds: tuple[int, ...], beam_exps: bool, post_seeds: tuple[int, ...] = ()) -> list[list[str]]:
    cmds = []
    for prior in (True, False):
        for seed in seeds:
            cmds.append(["dvc", "exp", "run", "--queue", "-n", exp_name(prior, seed),
                         "-S", f"title.model.prior={'true' if prior else 'false'}", "-S", f"seed={seed}", TARGET])
    for seed in post_seeds:  # the post's model: no pointer-generator gate
        cmds.append(["dvc", "exp", "run", "--queue", "-n", f"title-pointer0-seed{seed}",
                     "-S", "title.model.pointer=false", "-S", f"seed={seed}", TARGET])
    if beam_exps:
        for beam in BEAMS:
            cmds.append(["dvc", "exp", "run", "--queue", "-n", f"title-beam{beam}", "-S", f"title.decode.beam={beam}", TARGET])
    return cmds


def run(cmd: list[str], dry_run: bool) -> str:
    print("$ " + shlex.join(cmd), flush=True)
    if dry_run:
        return ""
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def wait_for_queue(poll_s: float) -> None:
    """Until `dvc queue status` lists no queued or running experiment."""
    while True:
        out = subprocess.run(["dvc", "queue", "status"], cwd=ROOT, capture_output=True, text=True).stdout
        busy = [line for line in out.splitlines() if any(w in line for w in (" Queued", " Running"))]
        if not busy:
            return
        log.info("%d experiments queued or running", len(busy))
        time.sleep(poll_s)


# --- collecting ------------------------------------------------------------------------------------------

def _records(node: object):
    """Every experiment record (a dict with `data` holding `params` and `metrics`) in `dvc exp show --json`."""
    if isinstance(node, list):
        for item in node:
            yield from _records(item)
    elif isinstance(node, dict):
        data = node.get("data")
        if isinstance(data, dict) and "params" in data:
            yield node
        for value in node.values():
            if isinstance(value, (list, dict)):
                yield from _records(value)


def _file_data(section: dict | None, name: str) -> dict:
    for path, entry in (section or {}).items():
        if path.endswith(name) and isinstance(entry, dict):
            return entry.get("data") or {}
    return {}


def title_runs(shown: object) -> list[dict]:
    """One row per experiment that has title metrics: its name, prior, seed, beam and metrics."""
    rows, seen = [], set()
    for rec in _records(shown):
        data = rec["data"]
        params = _file_data(data.get("params"), "params.yaml")
        metrics = _file_data(data.get("metrics"), "metrics/title.json")
        rev = data.get("rev") or rec.get("rev")
        if not metrics or rev in seen:
            continue
        seen.add(rev)
        title = params.get("title", {})
        rows.append({
            "name": rec.get("name") or data.get("name") or rev,
            "rev": rev,
            "seed": params.get("seed"),
            "profile": params.get("profile"),
            "prior": title.get("model", {}).get("prior"),
            "pointer": title.get("model", {}).get("pointer"),
            "decode_beam": title.get("decode", {}).get("beam"),
            "metrics": metrics,
        })
    return rows


def _mean_std(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def table(rows: list[dict], seeds: tuple[int, ...]) -> str:
    """Markdown: mean ± std over seeds of each (prior, beam), then the baselines (the same test split)."""
    sweep = [r for r in rows if r["name"] in {exp_name(p, s) for p in (True, False) for s in seeds}]
    lines = [
        "# title: prior on/off × beam width, over seeds",
        "",
        "Generated by `benchmarks/title_sweep.py` from `dvc exp show --json` (experiments "
        f"`title-prior{{0,1}}-seed{{{','.join(map(str, seeds))}}}`); ROUGE F1 on characters, test split, mean ± sample std over seeds.",
        "",
        "| variant | runs | ROUGE-1 | ROUGE-2 | ROUGE-L |",
        "|---|---|---|---|---|",
    ]
    for prior in (True, False):
        runs = [r for r in sweep if r["prior"] is prior]
        for beam in BEAMS:
            per = [r["metrics"].get("by_beam", {}).get(f"beam{beam}") for r in runs]
            per = [x for x in per if x]
            cells = [_mean_std([x[k] for x in per]) for k in KEYS]
            lines.append(f"| prior {'on' if prior else 'off'}, beam {beam}{' (greedy)' if beam == 1 else ''} | {len(per)} | "
                         + " | ".join(cells) + " |")
    post = [r for r in rows if r["name"].startswith("title-pointer0-")]
    for beam in BEAMS if post else ():
        per = [x for x in (r["metrics"].get("by_beam", {}).get(f"beam{beam}") for r in post) if x]
        lines.append(f"| the post's model (pointer off, prior on), beam {beam} | {len(per)} | "
                     + " | ".join(_mean_std([x[k] for x in per]) for k in KEYS) + " |")
    for name in ("lead", "oracle"):
        per = [r["metrics"][name] for r in sweep if name in r["metrics"]]
        lines.append(f"| {name} baseline | {len(per)} | " + " | ".join(_mean_std([x[k] for x in per]) for k in KEYS) + " |")
    beam_rows = [r for r in rows if r["name"].startswith("title-beam")]
    if beam_rows:
        lines += ["", "Cross-check, experiments `-S title.decode.beam=B` on the committed model:", "",
                  "| experiment | beam | ROUGE-L (model) |", "|---|---|---|"]
        lines += [f"| {r['name']} | {r['decode_beam']} | {r['metrics']['model']['rougeL']:.4f} |" for r in beam_rows]
    return "\n".join(lines) + "\n"


def collect(out: Path, seeds: tuple[int, ...]) -> None:
    shown = json.loads(subprocess.run(["dvc", "exp", "show", "--json"], cwd=ROOT, capture_output=True, text=True,
                                      check=True).stdout)
    rows = title_runs(shown)
    out.mkdir(parents=True, exist_ok=True)
    for path, text in ((out / "experiments.json", json.dumps(rows, indent=2, ensure_ascii=False) + "\n"),
                       (out / "sweep.md", table(rows, seeds))):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    log.info("%d experiments with title metrics -> %s", len(rows), out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--jobs", type=int, default=1, help="dvc queue start -j (default 1: 2 CPU cores)")
    parser.add_argument("--post-seeds", type=int, nargs="*", default=[],
                        help="also queue the post's model (title.model.pointer=false) at these seeds")
    parser.add_argument("--beam-exps", action="store_true", help="also queue -S title.decode.beam=B experiments (see 2.)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("--collect-only", action="store_true", help="skip queueing and running")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--poll", type=float, default=60.0, help="seconds between queue checks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    seeds = tuple(args.seeds)
    if not args.collect_only:
        for cmd in queue_commands(seeds, args.beam_exps, tuple(args.post_seeds)):
            run(cmd, args.dry_run)
        run(["dvc", "queue", "start", "-j", str(args.jobs)], args.dry_run)
        if args.dry_run:
            print(f"# then: wait for `dvc queue status`, collect `dvc exp show --json` into {args.out}")
            return 0
        wait_for_queue(args.poll)
    collect(args.out, seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
