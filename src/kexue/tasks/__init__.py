"""The tasks: each a module with `Params` and the stage functions download, preprocess, train, evaluate."""

from __future__ import annotations

import importlib
from types import ModuleType

TASKS = ("fashion",)
STAGES = ("download", "preprocess", "train", "evaluate")


def get(task: str) -> ModuleType:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    return importlib.import_module(f"kexue.tasks.{task}")
