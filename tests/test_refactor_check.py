"""benchmarks/refactor_check.py's comparison rules, on small files (no dvc runs)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import REPO

_spec = importlib.util.spec_from_file_location("refactor_check", REPO / "benchmarks" / "refactor_check.py")
rc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rc)


def test_npz_floats_within_tolerance_are_the_same_beyond_it_differ(tmp_path: Path):
    w = np.linspace(0, 1, 100, dtype=np.float32)
    labels = np.arange(100, dtype=np.int64)
    np.savez(tmp_path / "a.npz", w=w, labels=labels)
    np.savez(tmp_path / "near.npz", w=w + 5e-7, labels=labels)
    np.savez(tmp_path / "far.npz", w=w + 1e-4, labels=labels)
    np.savez(tmp_path / "label.npz", w=w, labels=np.where(labels == 7, 8, labels))
    np.savez(tmp_path / "dtype.npz", w=w.astype(np.float64), labels=labels)
    assert rc.compare_file(tmp_path / "a.npz", tmp_path / "near.npz") == []
    assert "w: max abs difference" in rc.compare_file(tmp_path / "a.npz", tmp_path / "far.npz")[0]
    assert rc.compare_file(tmp_path / "a.npz", tmp_path / "label.npz") == ["labels: 1 of 100 elements differ"]
    assert "dtype/shape" in rc.compare_file(tmp_path / "a.npz", tmp_path / "dtype.npz")[0]


def _ckpt(path: Path, weight: torch.Tensor, elapsed: float, root: str) -> Path:
    torch.save({
        "state_dict": {"layer.weight": weight},
        "callbacks": {
            "Timer": {"time_elapsed": {"train": elapsed}},
            "ModelCheckpoint{'monitor': 'val_acc'}": {"dirpath": f"{root}/models/fashion", "best_model_score":
                                                     torch.tensor(0.5)},
        },
        "epoch": 1,
    }, path)
    return path


def test_ckpt_ignores_the_timer_and_the_copy_root_not_a_weight(tmp_path: Path):
    w = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    roots = ("/tmp/x/base", "/tmp/x/work")
    a = _ckpt(tmp_path / "a.ckpt", w, 12.5, roots[0])
    timer = _ckpt(tmp_path / "timer.ckpt", w, 99.0, roots[1])
    weight = _ckpt(tmp_path / "weight.ckpt", w + torch.eye(4, 3) * 1e-3, 12.5, roots[0])
    assert rc.compare_file(a, timer, roots) == []
    assert rc.compare_file(a, timer) == [  # without the roots the paths differ
        "/callbacks/ModelCheckpoint{'monitor': 'val_acc'}/dirpath: '/tmp/x/base/models/fashion' != "
        "'/tmp/x/work/models/fashion'"]
    diffs = rc.compare_file(a, weight, roots)
    assert len(diffs) == 1 and diffs[0].startswith("/state_dict/layer.weight: max abs difference 0.001")


def test_json_ignores_wall_time_not_accuracy(tmp_path: Path):
    def write(name: str, **values) -> Path:
        metrics = {"test_acc": 0.8125, "per_class": {"Coat": 0.5}, "train_wall_time_s": 30.7, "device": "cpu",
                   "words_per_s": 1000.0}
        (tmp_path / name).write_text(json.dumps({**metrics, **values}))
        return tmp_path / name
    a = write("a.json")
    assert rc.compare_file(a, write("wall.json", train_wall_time_s=41.2, device="cuda", words_per_s=5.0)) == []
    # CPU-time and per-CPU-second speeds (word2vec's summary) are as volatile as wall time
    assert rc.compare_file(a, write("cpu.json", train_seconds=1.65, cpu_seconds=0.13, words_per_cpu_s="388637")) == []
    assert rc.compare_file(a, write("near.json", test_acc=0.8125 + 1e-7)) == []
    assert rc.compare_file(a, write("acc.json", test_acc=0.8126)) == ["/test_acc: 0.8125 != 0.8126"]
    assert rc.compare_file(a, write("class.json", per_class={"Coat": 0.6})) == ["/per_class/Coat: 0.5 != 0.6"]


def test_tsv_drops_the_timestamp_column_not_the_values(tmp_path: Path):
    def write(name: str, stamp: int, loss: float) -> Path:
        (tmp_path / name).write_text(f"timestamp\tstep\tloss\n{stamp}\t0\t{loss}\n{stamp + 7}\t1\t0.25\n")
        return tmp_path / name
    a = write("a.tsv", 1700000000000, 0.5)
    assert rc.compare_file(a, write("later.tsv", 1700000999000, 0.5)) == []
    assert rc.compare_file(a, write("loss.tsv", 1700000000000, 0.51)) == ["column 'loss' differs"]


def test_png_compares_pixels_not_metadata(tmp_path: Path):
    pixels = np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    Image.fromarray(pixels).save(tmp_path / "b.png", pnginfo=_info("Software", "matplotlib 9.9"))
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "b.png").read_bytes()
    assert rc.compare_file(tmp_path / "a.png", tmp_path / "b.png") == []
    pixels[3, 4] += 1
    Image.fromarray(pixels).save(tmp_path / "c.png")
    assert rc.compare_file(tmp_path / "a.png", tmp_path / "c.png") == ["1 pixels differ"]


def _info(key: str, value: str):
    from PIL.PngImagePlugin import PngInfo
    info = PngInfo()
    info.add_text(key, value)
    return info


def test_folders_skip_the_fingerprint_and_need_the_same_files(tmp_path: Path):
    for copy, code in (("base", "aaa"), ("work", "bbb")):
        (tmp_path / copy).mkdir()
        (tmp_path / copy / "fingerprint.json").write_text(json.dumps({"code": code}))
        (tmp_path / copy / "notes.txt").write_text("same")
    diffs, notes = rc.compare_output(tmp_path / "base", tmp_path / "work", ())
    assert diffs == [] and "fingerprint.json ignored" in notes[0]
    (tmp_path / "work" / "extra.txt").write_text("new")
    diffs, _ = rc.compare_output(tmp_path / "base", tmp_path / "work", ())
    assert diffs == ["files only in base [], only in work ['extra.txt']"]


@pytest.mark.parametrize("name, volatile", [("Timer", True), ("train_wall_time_s", True), ("state_dict", False)])
def test_ckpt_volatile_keys(name: str, volatile: bool):
    assert rc.ckpt_volatile(name) is volatile


def test_upstream_follows_outputs_across_tasks():
    stages = {
        "fashion-download": {"outs": ["data/fashion/raw"]},
        "fashion-train": {"deps": ["data/fashion/raw"], "outs": [{"models/fashion": {"persist": True}}]},
        "fashion-evaluate": {"deps": ["models/fashion"], "metrics": [{"metrics/fashion.json": {}}]},
        "gan-train": {"deps": ["data/fashion/raw/train.gz", "models/fashion/best.ckpt"], "outs": ["models/gan"]},
        "gan-evaluate": {"deps": ["models/gan"]},
    }
    assert rc.upstream(stages, ["gan-evaluate"]) == ["fashion-download", "fashion-train", "gan-train",
                                                     "gan-evaluate"]
    assert rc.stage_outputs(stages["fashion-evaluate"]) == ["metrics/fashion.json"]


def test_judge_proves_changes_and_blames_a_failed_run(tmp_path: Path):
    import yaml

    pipeline = {"stages": {
        "fashion-download": {"outs": ["raw.txt"]},
        "fashion-train": {"deps": ["raw.txt"], "outs": [{"models": {"persist": True}}]},
        "fashion-evaluate": {"deps": ["models"], "metrics": [{"metrics.json": {"cache": False}}]},
    }}
    for copy, acc, ran in (("base", 0.5, ["fashion-download", "fashion-train"]),
                           ("work", 0.75, ["fashion-download", "fashion-train", "fashion-evaluate"])):
        root = tmp_path / copy
        (root / "models").mkdir(parents=True)
        (root / "dvc.yaml").write_text(yaml.safe_dump(pipeline))
        (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {s: {} for s in ran}}))
        (root / "raw.txt").write_text("data")
        (root / "models" / "summary.json").write_text(json.dumps({"best_val_acc": acc}))
    failed = {"base": {"fashion": "ERROR: failed to reproduce 'fashion-evaluate'"}, "work": {}}
    report = rc.judge(tmp_path / "base", tmp_path / "work", ["fashion"], failed)
    assert {s: e["status"] for s, e in report.items()} == {
        "fashion-download": "proved unchanged", "fashion-train": "CHANGED", "fashion-evaluate": "not proved"}
    assert report["fashion-train"]["details"] == ["models: summary.json: /best_val_acc: 0.5 != 0.75"]
    assert report["fashion-evaluate"]["details"] == [
        "base run failed: ERROR: failed to reproduce 'fashion-evaluate'"]
