"""What dvc.yaml says, as the code reads it: each training's code deps (its resume fingerprint) and
which stage writes a file (the stage an error about a bad input names)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kexue import pipeline, tasks
from kexue.training import fingerprint, run_config
from tests.conftest import REPO, cpu_run


@pytest.mark.parametrize("task", tasks.TASKS)
def test_every_training_fingerprints_its_own_code_as_dvc_yaml_lists_it(task):
    code = pipeline.code_hashes(f"{task}-train")
    for shared in ("src/kexue/training.py", "src/kexue/params.py", "src/kexue/pipeline.py", f"src/kexue/tasks/{task}/train.py",
                   f"src/kexue/tasks/{task}/params.py", f"src/kexue/tasks/{task}/model.py"):
        assert shared in code, shared
    # and the train stage really names itself so (a typo would raise PipelineError at run time)
    assert f'"{task}-train"' in (REPO / f"src/kexue/tasks/{task}/train.py").read_text()


def test_every_stage_lists_the_params_modules():
    for name, stage in pipeline.stages().items():
        task = name.split("-")[0]
        deps = pipeline._entries(stage.get("deps"))
        assert "src/kexue/params.py" in deps and f"src/kexue/tasks/{task}/params.py" in deps, name


def test_a_code_edit_changes_the_fingerprint_and_a_data_edit_too(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy2(REPO / "dvc.yaml", root / "dvc.yaml")
    data = tmp_path / "prepared"
    data.mkdir()
    (data / "train.npz").write_bytes(b"one")
    dvc_yaml = root / "dvc.yaml"

    def fp() -> str:
        config = run_config("fashion-train", cpu_run(), {"train": {"lr": 0.1}}, [data / "train.npz"])
        config["code"] = pipeline.code_hashes("fashion-train", dvc_yaml)  # the copy's code
        return fingerprint(config)

    first = fp()
    assert fp() == first
    with open(root / "src/kexue/tasks/fashion/model.py", "a") as f:
        f.write("# edited\n")
    second = fp()
    assert second != first
    (data / "train.npz").write_bytes(b"two")
    assert fp() != second


def test_a_missing_stage_or_dep_is_named(tmp_path):
    with pytest.raises(pipeline.PipelineError, match="no stage 'fashion-tran'"):
        pipeline.code_files("fashion-tran")
    bad = tmp_path / "dvc.yaml"
    bad.write_text("stages:\n  x-train:\n    cmd: echo\n    deps:\n      - src/kexue/gone.py\n")
    with pytest.raises(pipeline.PipelineError, match="src/kexue/gone.py, which does not exist"):
        pipeline.code_files("x-train", bad)


@pytest.mark.parametrize("path, stage", [
    ("data/fashion/prepared/train.npz", "fashion-preprocess"),
    ("/somewhere/else/repo/models/fashion/best.ckpt", "fashion-train"),
    ("metrics/fashion/live/metrics.json", "fashion-train"),
    ("metrics/fashion.json", "fashion-evaluate"),
    ("data/word2vec/vectors.txt", "word2vec-train"),
    ("/tmp/pytest-1/prepared/train.npz", None),
])
def test_the_stage_that_writes_a_file(path, stage):
    assert pipeline.stage_writing(Path(path)) == stage


def _kexue_imports(path: Path) -> set[str]:
    """The project modules a file imports by name (`from kexue.x import y`, `import kexue.x`), as paths."""
    import ast

    def as_file(module: str) -> str | None:
        f = REPO / "src" / Path(*module.split("."))
        return f.with_suffix(".py").relative_to(REPO).as_posix() if f.with_suffix(".py").is_file() else None

    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("kexue"):
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("kexue")]
        found.update(f for f in map(as_file, names) if f)
    return found


@pytest.mark.parametrize("name", sorted(pipeline.stages()))
def test_a_stages_code_deps_hold_every_project_module_they_import(name):
    """What a stage runs is what dvc.yaml lists: an import of an unlisted module fails here, since an
    edit of it would neither rerun the stage nor change a training's fingerprint."""
    deps = {d for d in pipeline._entries(pipeline.stages()[name].get("deps")) if d.startswith("src/") and d.endswith(".py")}
    missing = {m for d in deps for m in _kexue_imports(REPO / d)} - deps
    assert not missing, f"{name}: add to its deps in dvc.yaml: {sorted(missing)}"
