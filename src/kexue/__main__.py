"""Command line: `python -m kexue <task> <stage> [--params params.yaml] --<path-arg> PATH ...`.

It only parses arguments, loads and validates the task's params and calls the stage function; the
path arguments are the stage function's own `Path` parameters, so dvc.yaml names every input and
output once, on the command line.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import sys
from pathlib import Path

from kexue import params as params_mod
from kexue import report, tasks
from kexue.errors import EXPECTED_ERRORS


def _path_args(fn) -> list[str]:
    return [name for name, prm in inspect.signature(fn).parameters.items() if prm.annotation in (Path, "Path")]


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0].replace("%", "%%") if doc and doc.strip() else ""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kexue", description=_first_line(__doc__))
    sub = parser.add_subparsers(dest="task", required=True)
    for task in tasks.TASKS:
        module = tasks.get(task)
        task_parser = sub.add_parser(task, help=_first_line(module.__doc__))
        stages = task_parser.add_subparsers(dest="stage", required=True)
        for stage in tasks.stages(task):
            fn = getattr(module, stage)
            sp = stages.add_parser(stage, help=_first_line(fn.__doc__))
            sp.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: params.yaml)")
            for name in _path_args(fn):
                sp.add_argument(f"--{name.replace('_', '-')}", dest=name, type=Path, required=True)
    report.add_parser(sub)  # `python -m kexue report`: not a task, the tables and page from metrics/
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.task == "report":
        return report.main(args)
    module = tasks.get(args.task)
    fn = getattr(module, args.stage)
    wanted = inspect.signature(fn).parameters
    kwargs = {name: getattr(args, name) for name in _path_args(fn)}
    if "p" in wanted or "run" in wanted:
        try:
            run, p = params_mod.load(args.params, args.task, module.Params, known_tasks=tasks.TASKS)
        except params_mod.ParamsError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        if "p" in wanted:
            kwargs["p"] = p
        if "run" in wanted:
            kwargs["run"] = run
    try:
        fn(**kwargs)
    except EXPECTED_ERRORS as err:
        # Bad input, not a bug: the message names the file, key or value; a traceback adds nothing.
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
