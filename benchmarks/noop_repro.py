"""Wall time of a `dvc repro` that has nothing to do (the pipeline must be up to date).

    python benchmarks/noop_repro.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        proc = subprocess.run(["dvc", "repro"], capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0 or "Running stage" in proc.stdout:
            sys.exit(f"dvc repro was not a no-op (bring the pipeline up to date first):\n{proc.stdout}{proc.stderr}")
    print(json.dumps({"noop_dvc_repro_s": round(statistics.median(times), 2), "runs": [round(t, 2) for t in times]}))


if __name__ == "__main__":
    main()
