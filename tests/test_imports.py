"""The dependency picture: tasks import shared code, shared code imports no task, and no task imports
another. What one task takes from another is data (gan reads fashion-download's idx files; cloze and
sentiment read word2vec-train's vectors file), a DVC dependency in dvc.yaml, never an import.

Not counted as importing a task: `kexue.tasks` itself (the package's `__init__`, the registry that
loads a task by name) and `kexue.__main__` (the command line, `python -m kexue <task> <stage>`).
No exception otherwise.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

SRC = REPO / "src"
TASKS = "kexue.tasks"
DISPATCHERS = {"kexue.tasks", "kexue.__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted((SRC / "kexue").rglob("*.py"))}


def task_of(module: str) -> str | None:
    """`word2vec` for `kexue.tasks.word2vec.data`; None for shared code and for `kexue.tasks` itself."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["kexue", "tasks"] else None


def imported_modules(source: str, where: str = "<source>") -> set[str]:
    """Every `kexue...` module `source` imports, wherever the import stands (in a function too): the
    module of `from m import n` and, where n is itself a module of the package, `m.n`."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "kexue")
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            raise AssertionError(f"{where}: a relative import; the package imports by absolute name")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "kexue":
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES)
    return found


def violations(sources: dict[str, str]) -> list[str]:
    """The imports of a task by shared code, or of a task by another, in `sources` (module: its text)."""
    out = []
    for module, source in sources.items():
        if module in DISPATCHERS:
            continue
        own = task_of(module)
        for imported in sorted(imported_modules(source, module)):
            other = task_of(imported)
            if own is None and (other is not None or imported == TASKS):
                out.append(f"{module} (shared) imports {imported}")
            elif other is not None and other != own:
                out.append(f"{module} (task {own}) imports {imported} (task {other})")
    return out


def test_shared_code_imports_no_task_and_no_task_imports_another():
    bad = violations({m: p.read_text(encoding="utf-8") for m, p in MODULES.items()})
    assert not bad, "move what both need into shared code (src/kexue/, src/kexue/text/):\n" + "\n".join(bad)


def test_the_walk_finds_the_modules_and_their_imports():
    assert {"kexue.tasks.gan.data", "kexue.fashion_mnist", "kexue.text.corpora", "kexue.text.vectors"} <= set(MODULES)
    assert "kexue.fashion_mnist" in imported_modules(MODULES["kexue.tasks.gan.data"].read_text(encoding="utf-8"))
    assert task_of("kexue.tasks.word2vec.data") == "word2vec" and task_of("kexue.tasks") is None
    assert task_of("kexue.text.vectors") is None


@pytest.mark.parametrize("module, source, expected", [
    ("kexue.text.x", "from kexue.tasks.word2vec.data import is_punctuation\n",
     ["kexue.text.x (shared) imports kexue.tasks.word2vec.data"]),
    ("kexue.text.x", "def f():\n    from kexue.tasks.word2vec import reference\n",
     ["kexue.text.x (shared) imports kexue.tasks.word2vec", "kexue.text.x (shared) imports kexue.tasks.word2vec.reference"]),
    ("kexue.x", "import kexue.tasks.fashion.data\n", ["kexue.x (shared) imports kexue.tasks.fashion.data"]),
    ("kexue.x", "from kexue import tasks\n", ["kexue.x (shared) imports kexue.tasks"]),
    ("kexue.text.x", "from kexue.text import vocab\nfrom kexue.fashion_mnist import CLASSES\n", []),
    ("kexue.tasks.gan.x", "from kexue.tasks.fashion.data import load_split\nfrom kexue.tasks.gan.data import load_images\n",
     ["kexue.tasks.gan.x (task gan) imports kexue.tasks.fashion.data (task fashion)"]),
    ("kexue.tasks.sentiment.x", "from kexue.tasks import TASKS\n", []),  # a task may read the registry
])
def test_what_the_check_catches(module, source, expected):
    assert violations({module: source}) == expected
