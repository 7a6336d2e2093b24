"""Segment text from stdin with the trained model, one line in, one line of words out (two spaces
between words, the SIGHAN format):

    echo "共同创造美好的新世纪" | python -m kexue.tasks.cws.segment
    python -m kexue.tasks.cws.segment --models models/cws < input.txt > output.txt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from kexue.tasks.cws.evaluate import load_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kexue.tasks.cws.segment", description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=Path("models/cws"), help="the cws-train output (default: models/cws)")
    parser.add_argument("--batch-size", type=int, default=256, help="lines per batch (default: 256)")
    args = parser.parse_args(argv)
    try:
        module = load_model(args.models, torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    lines: list[str] = []
    for line in sys.stdin:
        lines.append(line.rstrip("\r\n"))
        if len(lines) == 4096:
            _write(module.segment(lines, args.batch_size))
            lines = []
    _write(module.segment(lines, args.batch_size))
    return 0


def _write(segmented: list[list[str]]) -> None:
    for words in segmented:
        sys.stdout.write("  ".join(words) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
