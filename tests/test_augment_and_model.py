"""Batch augmentations and MobileNet shapes."""

from __future__ import annotations

import pytest
import torch

from kexue import augment
from kexue.nn.mobilenet import MobileNetV1


def test_parse():
    assert augment.parse("none") == () and augment.parse("flip+shift") == ("flip", "shift")
    with pytest.raises(ValueError, match="rotate"):
        augment.parse("flip+rotate")


def test_flip_mirrors_some_images_exactly():
    torch.manual_seed(0)
    x = torch.rand(64, 1, 28, 28)
    out = augment.random_hflip(x)
    same = (out == x).flatten(1).all(1)
    mirrored = (out == x.flip(-1)).flatten(1).all(1)
    assert bool((same | mirrored).all()) and 10 < int(mirrored.sum()) < 54


def test_shift_is_an_integer_translation_with_zero_fill():
    torch.manual_seed(0)
    x = torch.zeros(200, 1, 9, 9)
    x[:, :, 4, 4] = 1.0
    out = augment.random_shift(x, max_shift=2)
    assert torch.equal(out.flatten(1).sum(1), torch.ones(200))  # the dot moved, nothing blurred or lost
    rows, cols = (out[:, 0] == 1).nonzero()[:, 1:].T
    assert set(rows.tolist()) == set(range(2, 7)) and set(cols.tolist()) == set(range(2, 7))


def test_erase_blanks_one_rectangle():
    torch.manual_seed(0)
    out = augment.random_erase(torch.ones(50, 1, 28, 28), p=1.0)
    for img in out[:, 0]:
        r, c = (img == 0).nonzero().T
        assert len(r) == (r.max() - r.min() + 1) * (c.max() - c.min() + 1)  # a full rectangle


def test_mixup_mixes_pairs():
    torch.manual_seed(0)
    x, y = torch.rand(8, 1, 4, 4), torch.arange(8)
    mixed, y_a, y_b, lam = augment.mixup(x, y, alpha=0.4)
    perm = y_b  # labels are the indices, so y_b is the permutation
    assert 0 <= lam <= 1 and torch.equal(y_a, y)
    assert torch.allclose(mixed, lam * x + (1 - lam) * x[perm])


@pytest.mark.parametrize("width", [0.25, 1.0])
def test_mobilenet_shapes(width):
    net = MobileNetV1(width=width).eval()
    x = torch.rand(3, 1, 28, 28)
    assert net(x).shape == (3, 10) and net.embed(x).shape == (3, net.feature_dim)
    cl = net.to(memory_format=torch.channels_last)
    assert torch.allclose(cl(x.contiguous(memory_format=torch.channels_last)), net(x), atol=1e-5)
