"""preprocess: real-format idx files in, compact arrays out; malformed files rejected clearly."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from kexue.fashion_mnist import FILES, IdxFormatError, read_idx
from kexue.params import ParamsError
from kexue.tasks.fashion.data import load_split, preprocess
from tests.conftest import cpu_run, tiny_params, write_idx


def test_preprocess_splits_and_dtypes(raw_dir, tmp_path):
    out = tmp_path / "prepared"
    preprocess(tiny_params(), cpu_run(), raw_dir, out)
    x_tr, y_tr = load_split(out, "train")
    x_va, y_va = load_split(out, "val")
    x_te, y_te = load_split(out, "test")
    assert (len(x_tr), len(x_va), len(x_te)) == (300, 100, 100)
    assert x_tr.dtype == x_va.dtype == x_te.dtype == torch.uint8
    assert y_tr.dtype == y_va.dtype == y_te.dtype == torch.int64 and tuple(x_tr.shape[1:]) == (28, 28)
    # val is carved from train, disjoint, and together they are the original 400 images
    original = read_idx(raw_dir / FILES["train"][0], 3)
    joined = np.concatenate([x_tr.numpy(), x_va.numpy()]).reshape(400, -1)
    assert sorted(map(bytes, joined)) == sorted(map(bytes, original.reshape(400, -1)))
    # test is untouched, in order
    assert np.array_equal(x_te.numpy(), read_idx(raw_dir / FILES["test"][0], 3))
    assert sorted(p.name for p in out.iterdir()) == ["test.npz", "train.npz", "val.npz"]


def test_split_is_seeded(raw_dir, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    preprocess(tiny_params(), cpu_run(), raw_dir, a)
    preprocess(tiny_params(), cpu_run(), raw_dir, b)
    other = cpu_run().model_copy(update={"seed": 1})
    preprocess(tiny_params(), other, raw_dir, c)
    assert (a / "val.npz").read_bytes() == (b / "val.npz").read_bytes()
    assert (a / "val.npz").read_bytes() != (c / "val.npz").read_bytes()


def test_bad_magic_number(raw_dir, tmp_path):
    path = raw_dir / FILES["train"][0]
    write_idx(path, np.zeros((400, 28, 28)), magic=0x0801)
    with pytest.raises(IdxFormatError, match=r"train-images-idx3-ubyte\.gz: bad magic number 0x00000801, expected 0x00000803"):
        preprocess(tiny_params(), cpu_run(), raw_dir, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_truncated_file(raw_dir, tmp_path):
    path = raw_dir / FILES["test"][2]
    blob = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(blob[:-7]))
    with pytest.raises(IdxFormatError, match=r"t10k-labels-idx1-ubyte\.gz: header says shape \(100,\).*has 93"):
        read_idx(path, 1)


def test_not_gzip(raw_dir):
    path = raw_dir / FILES["test"][0]
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(IdxFormatError, match="not a readable gzip file"):
        read_idx(path, 3)


def test_image_label_count_mismatch(raw_dir, tmp_path):
    write_idx(raw_dir / FILES["train"][2], np.zeros(399))
    with pytest.raises(IdxFormatError, match="400 images .* but 399 labels"):
        preprocess(tiny_params(), cpu_run(), raw_dir, tmp_path / "out")


def test_val_size_too_large(raw_dir, tmp_path):
    p = tiny_params().model_copy(update={"data": tiny_params().data.model_copy(update={"val_size": 400})})
    with pytest.raises(ParamsError, match="fashion.data.val_size=400"):
        preprocess(p, cpu_run(), raw_dir, tmp_path / "out")
