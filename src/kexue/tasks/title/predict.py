"""Abstract in, title out: `python -m kexue.tasks.title.predict [--models models/title] [ABSTRACT ...]`.

Each ABSTRACT argument, or else each non-blank line of standard input, gets one title line on standard
output. Beam width and length default to params.yaml's `title.decode` (`--params`), `--beam`/`--max-len`
override them. The checkpoint holds the vocabulary and the model settings: nothing else is read.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from kexue import params as params_mod
from kexue import tasks
from kexue.errors import EXPECTED_ERRORS
from kexue.tasks.title.evaluate import load_model
from kexue.tasks.title.params import TitleParams


def predict(models: Path, abstracts: list[str], beam: int, max_len: int) -> list[str]:
    """A title for each abstract, by the best checkpoint in `models`, on the CPU."""
    import torch

    return load_model(models, torch.device("cpu")).write_titles(abstracts, beam, max_len)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kexue.tasks.title.predict", description=__doc__.strip().splitlines()[0])
    parser.add_argument("abstracts", nargs="*", help="abstracts (default: one a line on standard input)")
    parser.add_argument("--models", type=Path, default=Path("models/title"), help="folder of best.ckpt (default: models/title)")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file for title.decode (default: params.yaml)")
    parser.add_argument("--beam", type=int, help="beam width, 1 = greedy (default: title.decode.beam)")
    parser.add_argument("--max-len", type=int, help="most characters a title has (default: title.decode.max_len)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        decode = TitleParams().decode
        if args.params.is_file():
            decode = params_mod.load(args.params, "title", TitleParams, known_tasks=tasks.TASKS)[1].decode
        decode = decode.model_validate({**decode.model_dump(), **{k: v for k, v in (("beam", args.beam), ("max_len", args.max_len)) if v is not None}})
    except params_mod.ParamsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ValueError as err:  # pydantic's ValidationError of --beam / --max-len
        print(f"error: --beam / --max-len: {err}", file=sys.stderr)
        return 2
    abstracts = args.abstracts or [line.strip() for line in sys.stdin if line.strip()]
    try:
        for title in predict(args.models, abstracts, decode.beam, decode.max_len):
            print(title)
    except EXPECTED_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
