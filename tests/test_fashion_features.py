"""`python -m kexue.tasks.fashion.features`: a layer's activations by a forward hook, on a tiny checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kexue.tasks.fashion import train
from kexue.tasks.fashion.data import load_split, to_input
from kexue.tasks.fashion.features import main
from kexue.tasks.fashion.model import FashionClassifier
from tests.conftest import cpu_run, tiny_params


@pytest.fixture
def models(prepared_dir, tmp_path):
    out = tmp_path / "models"
    train(tiny_params(epochs=1), cpu_run(), prepared_dir, out, tmp_path / "live")
    return out


def test_features_of_the_first_block_and_a_bad_layer_name(models, prepared_dir, tmp_path, capsys):
    out = tmp_path / "features"
    args = ["--models", str(models), "--prepared", str(prepared_dir), "--out", str(out), "--images", "3", "--maps", "4"]
    assert main(args) == 0
    z = np.load(out / "features.3.npz")
    module = FashionClassifier.load_from_checkpoint(models / "best.ckpt", map_location="cpu").eval()
    x, y = load_split(prepared_dir, "test")
    with torch.no_grad():
        expected = module.net.features[:4](to_input(x[:3], module.channels_last))
    assert z["activations"].shape == tuple(expected.shape) and z["activations"].shape[:2] == (3, 16)
    np.testing.assert_allclose(z["activations"], expected.numpy(), atol=1e-5)
    assert np.array_equal(z["images"], x[:3].numpy()) and np.array_equal(z["labels"], y[:3].numpy())
    assert (out / "features.3.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # a layer inside a block, before an in-place ReLU: the hook's copy is the BatchNorm output (negatives kept)
    assert main([*args, "--layer", "features.3.1"]) == 0
    assert (np.load(out / "features.3.1.npz")["activations"] < 0).any()
    assert main([*args, "--layer", "classifier"]) == 0 and np.load(out / "classifier.npz")["activations"].shape == (3, 10)

    assert main([*args, "--layer", "features.99"]) == 1
    err = capsys.readouterr().err
    assert "features.99" in err and "valid layers:" in err and "features.3" in err and "classifier" in err
