"""The tasks: each a module with `Params` and its stage functions, of download, preprocess, train,
evaluate (a task that reuses another's files, like gan, has no download of its own)."""

from __future__ import annotations

import importlib
from types import ModuleType

TASKS = ("fashion", "gan", "sentiment", "captcha", "cws", "word2vec", "cloze", "title")

STAGES = ("download", "preprocess", "train", "evaluate")


def get(task: str) -> ModuleType:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(TASKS)}")
    return importlib.import_module(f"kexue.tasks.{task}")


def stages(task: str) -> tuple[str, ...]:
    """The stages `task` has, in pipeline order: its own `STAGES` where it lists them (gan's
    `features`), else those of `STAGES` it defines."""
    module = get(task)
    return tuple(s for s in getattr(module, "STAGES", STAGES) if callable(getattr(module, s, None)))
