"""Bad input and failed writes: a truncated or corrupt .npz or .ckpt in a stage's input is reported
as `DataFormatError` naming the file and the stage that writes it, before the stage writes anything;
a write that fails midway (metrics, arrays, checkpoints) leaves the previous file as it was."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from kexue import files
from kexue.__main__ import main
from kexue.errors import DataFormatError
from kexue.fashion_mnist import FILES
from kexue.loading import load_checkpoint, load_npz
from kexue.tasks.fashion import evaluate, preprocess, train
from kexue.tasks.fashion.model import FashionClassifier
from tests.conftest import cpu_run, params_file, synthetic_images, tiny_params, write_idx

# --- making files bad -------------------------------------------------------------------------------


def truncate(path: Path) -> None:
    """Cut `path` to half its bytes, as a killed copy or a full disk leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def garble(path: Path) -> None:
    path.write_bytes(b"this is not what the stage wrote\n" * 40)


def empty(path: Path) -> None:
    path.write_bytes(b"")


SPOIL = {"truncated": truncate, "garbage": garble, "empty": empty}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- one tiny fashion pipeline, laid out as dvc.yaml lays it out -------------------------------------


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    """data/fashion/{raw,prepared}, models/fashion (1 epoch) and metrics/fashion/live under one root."""
    root = tmp_path_factory.mktemp("pipeline")
    raw = root / "data/fashion/raw"
    raw.mkdir(parents=True)
    for split, n, seed in (("train", 400, 0), ("test", 100, 1)):
        images_file, _, labels_file, _ = FILES[split]
        x, y = synthetic_images(n, seed)
        write_idx(raw / images_file, x)
        write_idx(raw / labels_file, y)
    p, run = tiny_params(), cpu_run()
    preprocess(p, run, raw, root / "data/fashion/prepared")
    train(p, run, root / "data/fashion/prepared", root / "models/fashion", root / "metrics/fashion/live")
    return root


@pytest.fixture
def work(pipeline: Path, tmp_path: Path) -> Path:
    """A copy of the pipeline's files that a test may spoil, with a metrics file from an earlier run."""
    for sub in ("data/fashion/prepared", "models/fashion", "metrics/fashion/live"):
        shutil.copytree(pipeline / sub, tmp_path / sub)
    files.write_json(tmp_path / "metrics/fashion.json", {"test_acc": 0.5, "from": "an earlier run"})
    return tmp_path


def run_evaluate(root: Path) -> None:
    evaluate(tiny_params(), cpu_run(), root / "data/fashion/prepared", root / "models/fashion",
             root / "metrics/fashion/live", root / "metrics/fashion.json", root / "metrics/fashion/eval")


def assert_nothing_written(root: Path, metrics_before: str) -> None:
    assert digest(root / "metrics/fashion.json") == metrics_before
    assert not (root / "metrics/fashion/eval").exists()
    assert not [f for f in root.rglob(".*.tmp*")], "a temporary file was left behind"


# --- bad .npz and .ckpt inputs ----------------------------------------------------------------------


# the input evaluate reads, what the error says it expected, the stage that writes it
EVALUATE_INPUTS = {
    "npz": ("data/fashion/prepared/test.npz", "truncated or corrupt .npz, expected arrays x, y", "fashion-preprocess"),
    "ckpt": ("models/fashion/best.ckpt", "truncated or corrupt checkpoint, expected a FashionClassifier checkpoint",
             "fashion-train"),
}


@pytest.mark.parametrize("spoil", SPOIL)
@pytest.mark.parametrize("which", EVALUATE_INPUTS)
def test_evaluate_with_a_bad_input_names_the_file_and_its_stage(work, which, spoil):
    name, expected, stage = EVALUATE_INPUTS[which]
    bad = work / name
    SPOIL[spoil](bad)
    before = digest(work / "metrics/fashion.json")
    with pytest.raises(DataFormatError) as err:
        run_evaluate(work)
    message = str(err.value)
    assert message.startswith(f"{bad}: {expected}"), message
    assert f"written by stage {stage}: rerun it with `dvc repro -f {stage}`" in message
    assert_nothing_written(work, before)


def test_train_with_a_truncated_npz_names_the_file_and_writes_no_checkpoint(pipeline, tmp_path):
    prepared = tmp_path / "data/fashion/prepared"
    shutil.copytree(pipeline / "data/fashion/prepared", prepared)
    truncate(prepared / "train.npz")
    models = tmp_path / "models/fashion"
    with pytest.raises(DataFormatError, match=r"prepared/train\.npz: truncated or corrupt .npz.*fashion-preprocess"):
        train(tiny_params(), cpu_run(), prepared, models, tmp_path / "metrics/fashion/live")
    assert not list(models.glob("*.ckpt"))


def test_a_file_outside_the_pipeline_layout_still_names_its_stage(pipeline, tmp_path):
    """Where dvc.yaml does not know the path, the reader's own stage name is the hint."""
    from kexue.tasks.fashion.data import load_split

    shutil.copytree(pipeline / "data/fashion/prepared", tmp_path / "prepared")
    truncate(tmp_path / "prepared/val.npz")
    with pytest.raises(DataFormatError, match=r"prepared/val\.npz: .*written by stage fashion-preprocess"):
        load_split(tmp_path / "prepared", "val")


def test_an_npz_without_an_expected_array_names_what_it_holds(tmp_path):
    path = tmp_path / "data/fashion/prepared/test.npz"
    files.save_npz(path, x=np.zeros((2, 28, 28), np.uint8), labels=np.zeros(2, np.int64))
    with pytest.raises(DataFormatError, match=r"test\.npz: no array y \(it holds x, labels\), expected arrays x, y; written by stage fashion-preprocess"):
        load_npz(path, ("x", "y"))


def test_a_single_npy_where_an_npz_belongs(tmp_path):
    path = tmp_path / "data/cws/prepared/bigrams.npz"
    path.parent.mkdir(parents=True)
    with open(path, "wb") as f:
        np.save(f, np.arange(3))
    with pytest.raises(DataFormatError, match=r"bigrams\.npz: a single \.npy array, expected an \.npz archive.*cws-preprocess"):
        load_npz(path, ("keys",))


def test_a_missing_npz_keeps_file_not_found_and_names_the_stage(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data/sentiment/prepared/val\.npz: missing; run the sentiment-preprocess stage first"):
        load_npz(tmp_path / "data/sentiment/prepared/val.npz", ("ids",))


def test_a_corrupt_member_is_caught_when_it_is_read(tmp_path):
    """The zip directory intact, an array's bytes damaged: zipfile's CRC check, read eagerly here."""
    path = tmp_path / "data/gan/prepared/train.npz"
    files.save_npz(path, x=np.arange(20000, dtype=np.uint8), y=np.arange(10))
    data = bytearray(path.read_bytes())
    data[5000:5010] = b"\xff" * 10
    path.write_bytes(bytes(data))
    with pytest.raises(DataFormatError, match=r"train\.npz: truncated or corrupt .npz.*CRC.*gan-preprocess"):
        load_npz(path, ("x", "y"))


def _fashion(prepared):
    from kexue.tasks.fashion.data import load_split

    load_split(prepared, "train")


def _gan(prepared):
    from kexue.tasks.gan.data import load_images

    load_images(prepared, "train")


def _captcha(prepared):
    from kexue.tasks.captcha.data import load_split

    load_split(prepared, "train")


def _cloze(prepared):
    from kexue.tasks.cloze.data import load_split

    load_split(prepared, "train")


def _sentiment(prepared):
    from kexue.tasks.sentiment.data import load_split

    load_split(prepared, "train")


def _cws(prepared):
    from kexue.tasks.cws.data import load_split

    load_split(prepared, "train")


def _cws_bigrams(prepared):
    from kexue.tasks.cws.data import load_bigrams

    load_bigrams(prepared)


def _word2vec(prepared):
    from kexue.tasks.word2vec.data import Corpus

    Corpus(prepared)


# reader, the file it reads under data/<task>/prepared, the stage that writes it
READERS = {
    "fashion": (_fashion, "fashion", "train.npz"),
    "gan": (_gan, "gan", "train.npz"),
    "captcha": (_captcha, "captcha", "train.npz"),
    "cloze": (_cloze, "cloze", "train.npz"),
    "sentiment": (_sentiment, "sentiment", "train.npz"),
    "cws": (_cws, "cws", "train.npz"),
    "cws-bigrams": (_cws_bigrams, "cws", "bigrams.npz"),
    "word2vec": (_word2vec, "word2vec", "corpus.npz"),
}


@pytest.mark.parametrize("reader", READERS)
def test_every_npz_reader_reports_a_truncated_file_with_its_stage(tmp_path, reader):
    read, task, name = READERS[reader]
    path = tmp_path / f"data/{task}/prepared/{name}"
    files.save_npz(path, x=np.arange(4000, dtype=np.int64), y=np.arange(4000))
    truncate(path)
    with pytest.raises(DataFormatError) as err:
        read(path.parent)
    assert f"{path}: truncated or corrupt .npz" in str(err.value)
    assert f"written by stage {task}-preprocess" in str(err.value)


def test_captcha_preprocess_with_a_truncated_download_writes_nothing(tmp_path):
    from kexue.tasks import captcha
    from tests.test_captcha import tiny_captcha_params

    raw, prepared = tmp_path / "data/captcha/raw", tmp_path / "data/captcha/prepared"
    files.save_npz(raw / "train.npz", compressed=True, x=np.zeros((3, 60, 160), np.uint8), text=np.array(["ABCD"] * 3))
    truncate(raw / "train.npz")
    with pytest.raises(DataFormatError, match=r"raw/train\.npz: truncated or corrupt .npz, expected arrays x, text.*captcha-download"):
        captcha.preprocess(tiny_captcha_params(), cpu_run(), raw, prepared)
    assert not prepared.exists() or not list(prepared.iterdir())


# --- .ckpt inputs -------------------------------------------------------------------------------------


def test_the_command_line_reports_a_truncated_checkpoint_in_one_line(work, capsys):
    truncate(work / "models/fashion/best.ckpt")
    params = params_file(work, lambda d: None)
    code = main(["fashion", "evaluate", "--params", str(params),
                 "--prepared", str(work / "data/fashion/prepared"), "--models", str(work / "models/fashion"),
                 "--live", str(work / "metrics/fashion/live"), "--metrics", str(work / "metrics/fashion.json"),
                 "--plots-dir", str(work / "metrics/fashion/eval")])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    line = [l for l in err.splitlines() if l.startswith("error:")]
    assert len(line) == 1 and "best.ckpt: truncated or corrupt checkpoint" in line[0] and "fashion-train" in line[0]


def test_a_torch_file_that_is_no_lightning_checkpoint_is_bad_input(tmp_path):
    path = tmp_path / "models/captcha/best.ckpt"
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": {"w": torch.zeros(3)}}, path)
    with pytest.raises(DataFormatError, match=r"best\.ckpt: .*expected a FashionClassifier checkpoint.*KeyError.*captcha-train"):
        load_checkpoint(path, FashionClassifier)


def test_a_truncated_generator_snapshot_names_gan_train(tmp_path):
    path = tmp_path / "models/gan/snapshots/epoch_3.pt"
    path.parent.mkdir(parents=True)
    torch.save({"epoch": 3, "state_dict": {"w": torch.zeros(100)}}, path)
    assert load_checkpoint(path)["epoch"] == 3
    truncate(path)
    with pytest.raises(DataFormatError, match=r"epoch_3\.pt: truncated or corrupt checkpoint, expected a torch checkpoint.*gan-train"):
        load_checkpoint(path)


def test_a_missing_checkpoint_keeps_file_not_found_and_names_the_stage(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"models/cws/best\.ckpt: no checkpoint; run the cws-train stage first"):
        load_checkpoint(tmp_path / "models/cws/best.ckpt", FashionClassifier)


# --- writes that fail midway ------------------------------------------------------------------------


def _raise(exc: BaseException):
    def fail(*args, **kwargs):
        raise exc

    return fail


def _jsonl_rows():
    yield {"a": 1}
    raise OSError(errno.ENOSPC, "No space left on device")


def _failing_savez(tmp, **arrays):
    Path(tmp).write_bytes(b"PK\x03\x04 half an archive")
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("writer", ["json", "text", "jsonl", "csv", "npz"])
def test_a_write_failing_midway_keeps_the_previous_file_and_no_temporary(tmp_path, monkeypatch, writer):
    import pandas as pd

    path = tmp_path / f"out.{writer}"
    path.write_text("the previous file\n")
    if writer == "json":
        # the temporary file is complete, the rename fails
        monkeypatch.setattr(files.os, "replace", _raise(OSError(errno.EIO, "I/O error")))
        call = lambda: files.write_json(path, {"a": 1})  # noqa: E731
    elif writer == "text":
        monkeypatch.setattr(files.os, "replace", _raise(KeyboardInterrupt()))
        call = lambda: files.write_text(path, "new")  # noqa: E731
    elif writer == "jsonl":
        call = lambda: files.write_jsonl(path, _jsonl_rows())  # noqa: E731
    elif writer == "csv":
        monkeypatch.setattr(pd.DataFrame, "to_csv", lambda self, p, **kw: (Path(p).write_text("a\n1"), 1 / 0))
        call = lambda: files.write_csv(pd.DataFrame({"a": [1]}), path)  # noqa: E731
    else:
        monkeypatch.setattr(files.np, "savez", _failing_savez)
        call = lambda: files.save_npz(path, x=np.arange(3))  # noqa: E731
    with pytest.raises((OSError, KeyboardInterrupt, ZeroDivisionError)):
        call()
    assert path.read_text() == "the previous file\n"
    assert sorted(f.name for f in tmp_path.iterdir()) == [path.name]


def test_evaluate_whose_metrics_write_fails_keeps_the_previous_metrics(work, monkeypatch):
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst).name == "fashion.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", replace)
    before = digest(work / "metrics/fashion.json")
    with pytest.raises(OSError, match="No space left"):
        run_evaluate(work)
    assert digest(work / "metrics/fashion.json") == before
    assert not (work / "metrics/.fashion.tmp.json").exists()


# --- checkpoint writes: Lightning's save over an existing good checkpoint ------------------------------


@pytest.fixture(scope="module")
def fitted(pipeline, tmp_path_factory):
    """A Trainer from the project's `build_trainer`, fitted for one step, that can save checkpoints."""
    from kexue.tasks.fashion.data import FashionDataModule
    from kexue.training import build_trainer

    p = tiny_params()
    module = FashionClassifier(p.model.model_dump(), p.train.model_dump())
    trainer, _ = build_trainer(
        cpu_run().trainer, max_epochs=1, ckpt_dir=tmp_path_factory.mktemp("ckpts"), live_dir=None, resume=False,
        monitor="val/acc", limit_train_batches=1, limit_val_batches=1, num_sanity_val_steps=0,
    )
    trainer.fit(module, datamodule=FashionDataModule(pipeline / "data/fashion/prepared", p.train.batch_size, 64))
    return trainer


@pytest.fixture
def good_ckpt(pipeline, tmp_path) -> Path:
    path = tmp_path / "models/fashion/best.ckpt"
    path.parent.mkdir(parents=True)
    shutil.copy(pipeline / "models/fashion/best.ckpt", path)
    return path


def assert_still_the_good_checkpoint(path: Path, pipeline: Path) -> None:
    assert path.read_bytes() == (pipeline / "models/fashion/best.ckpt").read_bytes()
    assert isinstance(load_checkpoint(path, FashionClassifier), FashionClassifier)


def test_checkpoint_write_failing_midway_keeps_the_previous_checkpoint(fitted, good_ckpt, pipeline, monkeypatch):
    """training.AtomicCheckpointIO writes a temporary file beside the target: half of it written, then
    the disk is full -> the old checkpoint stands and the temporary file is gone."""
    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        real_save({"half": torch.zeros(10)}, f)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(OSError, match="No space left"):
        fitted.save_checkpoint(good_ckpt)
    assert_still_the_good_checkpoint(good_ckpt, pipeline)
    assert sorted(f.name for f in good_ckpt.parent.iterdir()) == ["best.ckpt"]


def test_checkpoint_is_renamed_into_place_never_copied_across_filesystems(fitted, good_ckpt, pipeline, monkeypatch):
    """Lightning's own writer (fsspec) puts its temporary file in $TMPDIR and, where that is another
    filesystem, copies it onto the target in place: cut short, that left half a checkpoint. Ours
    renames a file from the same folder, so neither a rename across devices nor a copy is needed."""

    def cross_device_rename(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link", src, None, dst)

    def copyfile_cut_short(src, dst, *, follow_symlinks=True):
        data = Path(src).read_bytes()
        Path(dst).write_bytes(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "rename", cross_device_rename)
    monkeypatch.setattr(shutil, "copyfile", copyfile_cut_short)
    fitted.save_checkpoint(good_ckpt)
    monkeypatch.undo()
    assert good_ckpt.read_bytes() != (pipeline / "models/fashion/best.ckpt").read_bytes()  # the new one
    assert isinstance(load_checkpoint(good_ckpt, FashionClassifier), FashionClassifier)
    assert sorted(f.name for f in good_ckpt.parent.iterdir()) == ["best.ckpt"]


def test_a_truncated_last_checkpoint_is_not_resumed(tmp_path):
    """A `last.ckpt` that is no checkpoint archive (a kill on a filesystem without atomic renames)
    starts a fresh run instead of failing inside Lightning."""
    from kexue.training import prepare_checkpoint_dir

    config = {"x": 1}
    assert prepare_checkpoint_dir(tmp_path / "m", config) is None
    (tmp_path / "m/last.ckpt").write_bytes(b"PK\x03\x04 cut short")
    assert prepare_checkpoint_dir(tmp_path / "m", config) is None
    assert not (tmp_path / "m/last.ckpt").exists()
