"""Issue 37's tricks for fashion: each key validated, off by default, and doing what it says (tiny data)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from kexue import tasks
from kexue.nn.mobilenet import ACTIVATIONS, MobileNetV1
from kexue.params import ParamsError, load
from kexue.tasks.fashion import evaluate, train
from kexue.tasks.fashion.data import to_input
from kexue.tasks.fashion.evaluate import noise_key, with_noise
from kexue.tasks.fashion.model import (
    FashionClassifier,
    SpectralPenalty,
    clip_per_param,
    layer_blocks,
    sample_pairing,
    weight_matrix,
)
from kexue.tasks.fashion.params import ACTIVATION_CHOICES, FashionParams
from tests.conftest import cpu_run, params_file, tiny_params

# training_step called by hand, outside a Trainer: its self.log calls only warn
no_trainer = pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")

ALL_TRICKS = dict(
    mixup_alpha=0.2, sample_pairing=0.5, ema_decay=0.9, lr_layer_decay=0.7, grad_clip=1.0,
    grad_clip_algorithm="value", grad_clip_per_param=0.5, spectral_reg=1e-3, label_smoothing=0.1, center_loss=0.01,
)


def module_with(model: dict | None = None, **train: object) -> FashionClassifier:
    p = tiny_params(**train)
    return FashionClassifier({**p.model.model_dump(), **(model or {})}, p.train.model_dump())


@pytest.mark.parametrize(
    ("section", "key", "value", "why"),
    [
        ("model", "activation", "swish", "'relu', 'leaky_relu'"),
        ("model", "dropout_kind", "spatial", "'element' or 'channel'"),
        ("model", "spectral_norm", "maybe", "valid boolean"),
        ("train", "sample_pairing", 1.5, "less than or equal to 1"),
        ("train", "lr_layer_decay", 0, "greater than 0"),
        ("train", "lr_layer_decay", 1.2, "less than or equal to 1"),
        ("train", "grad_clip", -1, "greater than or equal to 0"),
        ("train", "grad_clip_algorithm", "norm2", "'norm' or 'value'"),
        ("train", "grad_clip_per_param", -0.1, "greater than or equal to 0"),
        ("train", "spectral_reg", -1e-3, "greater than or equal to 0"),
        ("train", "center_loss", "lots", "valid number"),
        ("evaluate", "train_subset", -1, "greater than or equal to 0"),
        ("evaluate", "noise_sigmas", [0.1, 0], "greater than 0"),
    ],
)
def test_bad_trick_params_name_the_key(tmp_path, section, key, value, why):
    with pytest.raises(ParamsError) as err:
        load(params_file(tmp_path, lambda d: d["fashion"][section].update({key: value})), "fashion", FashionParams,
             known_tasks=tasks.TASKS)
    assert f"  fashion.{section}.{key}" in str(err.value) and why in str(err.value), str(err.value)


def test_tricks_are_off_by_default_and_old_checkpoints_hparams_still_build():
    p = FashionParams()
    assert (p.model.activation, p.model.dropout, p.model.dropout_kind, p.model.spectral_norm) == ("relu", 0.0, "element", False)
    t = p.train
    assert (t.mixup_alpha, t.sample_pairing, t.lr_layer_decay, t.grad_clip, t.grad_clip_per_param, t.spectral_reg,
            t.center_loss) == (0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0)
    # a checkpoint written before these keys existed holds only the old ones: the rest default to off
    old_model = {"width": 0.25, "dropout": 0.0}
    old_train = {k: v for k, v in tiny_params().train.model_dump().items()
                 if k not in ("sample_pairing", "lr_layer_decay", "grad_clip", "grad_clip_algorithm",
                              "grad_clip_per_param", "spectral_reg", "center_loss")}
    m = FashionClassifier(old_model, old_train)
    assert m.spectral is None and m.center_loss is None and not any(parametrize.is_parametrized(x) for x in m.modules())
    assert ACTIVATION_CHOICES == tuple(ACTIVATIONS)


@pytest.mark.parametrize("name", ACTIVATION_CHOICES)
def test_the_activation_reaches_every_block(name):
    net = module_with({"activation": name}).net
    kinds = {type(m) for m in net.modules() if type(m) in {type(f()) for f in ACTIVATIONS.values()}}
    assert kinds == {type(ACTIVATIONS[name]())}
    assert net(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_channel_dropout_zeroes_whole_feature_maps_and_element_dropout_stays_before_the_classifier():
    torch.manual_seed(0)
    net = MobileNetV1(width=0.25, dropout=0.5, dropout_kind="channel").train()
    drops = [m for m in net.modules() if isinstance(m, nn.Dropout2d)]
    assert len(drops) == 8 and net.dropout.p == 0.0
    block = net.features[3]
    z = nn.Sequential(*list(block)[:6])(torch.rand(4, 8, 28, 28))
    out = block[6](z)
    zeroed = (out == 0).flatten(2).all(2)  # (N, C): the whole map is zero
    assert 0 < zeroed.float().mean() < 1
    assert torch.allclose(out[~zeroed], 2 * z[~zeroed])  # the kept maps, scaled by 1 / (1 - p)
    element = MobileNetV1(width=0.25, dropout=0.5)
    assert element.dropout.p == 0.5 and not any(isinstance(m, nn.Dropout2d) for m in element.modules())


@no_trainer
def test_sample_pairing_averages_with_a_partner_and_keeps_the_first_label():
    x = torch.arange(6, dtype=torch.float32).view(6, 1, 1, 1).expand(6, 1, 2, 2)
    torch.manual_seed(0)
    out = sample_pairing(x, 1.0)[:, 0, 0, 0]
    partners = 2 * out - torch.arange(6)
    assert sorted(partners.tolist()) == list(range(6))  # each averaged with one image, a permutation
    assert torch.equal(sample_pairing(x, 0.0), x)
    # in training the loss is against each image's own label
    m = module_with(sample_pairing=1.0, augment="none", label_smoothing=0.0)
    images, y = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8), torch.arange(8) % 10
    torch.manual_seed(1)
    loss = m.training_step((images, y), 0)
    torch.manual_seed(1)
    expected = F.cross_entropy(m.net(sample_pairing(to_input(images), 1.0)), y)
    assert torch.allclose(loss, expected)


def test_lr_layer_decay_sets_each_blocks_learning_rate():
    m = module_with(lr_layer_decay=0.5, lr=0.1)
    blocks = layer_blocks(m.net)
    assert len(blocks) == 10  # stem, 8 depthwise-separable blocks, classifier
    groups = m.param_groups()
    assert len(groups) == 20
    for depth in range(10):
        for g in groups[2 * depth : 2 * depth + 2]:
            assert math.isclose(g["lr"], 0.1 * 0.5 ** (9 - depth))
    assert groups[-2]["params"][0] is m.net.classifier.weight
    seen = [id(p) for g in groups for p in g["params"]]
    assert sorted(seen) == sorted(id(p) for p in m.parameters())  # every parameter, once


def test_without_layer_decay_the_groups_are_as_before():
    m = module_with()
    groups = m.param_groups()
    assert [g["weight_decay"] for g in groups] == [m.tp.weight_decay, 0.0] and all(g["lr"] == m.tp.lr for g in groups)
    assert [id(p) for p in groups[0]["params"]] == [id(p) for p in m.parameters() if p.ndim > 1]
    assert [id(p) for p in groups[1]["params"]] == [id(p) for p in m.parameters() if p.ndim <= 1]


def test_per_param_clipping_bounds_each_gradient():
    params = [nn.Parameter(torch.zeros(5, 5)), nn.Parameter(torch.zeros(3)), nn.Parameter(torch.zeros(2))]
    params[0].grad, params[1].grad, params[2].grad = torch.full((5, 5), 10.0), torch.full((3,), 0.01), None
    small = params[1].grad.clone()
    clip_per_param(params, 0.5)
    assert math.isclose(float(params[0].grad.norm()), 0.5, rel_tol=1e-4)
    assert torch.allclose(params[0].grad, torch.full((5, 5), 0.1), rtol=1e-4)  # direction kept
    assert torch.equal(params[1].grad, small) and params[2].grad is None


def test_clipping_hook_hands_lightning_the_configured_clip():
    m = module_with(grad_clip=2.0, grad_clip_algorithm="value", grad_clip_per_param=1e-3)
    for p in m.parameters():
        p.grad = torch.ones_like(p)
    calls = []
    m.clip_gradients = lambda opt, val, algo: calls.append((val, algo))
    m.configure_gradient_clipping(None)
    assert calls == [(2.0, "value")]
    assert all(float(p.grad.norm()) <= 1e-3 + 1e-6 for p in m.parameters())
    off = module_with()
    off.clip_gradients = lambda opt, val, algo: calls.append((val, algo))
    off.configure_gradient_clipping(None)
    assert calls[-1] == (None, None)  # Lightning's defaults: no clipping


def test_spectral_penalty_power_iteration_finds_the_largest_singular_value():
    torch.manual_seed(0)
    net = MobileNetV1(width=0.25)
    exact = torch.stack([torch.linalg.matrix_norm(weight_matrix(m.weight), ord=2)
                         for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))])
    assert torch.allclose(SpectralPenalty(net, iterations=100)(net), exact, rtol=1e-3)
    # one step a call, carried over from call to call, converges too
    penalty = SpectralPenalty(net)
    for _ in range(100):
        sigmas = penalty(net)
    assert torch.allclose(sigmas, exact, rtol=1e-3)
    sigmas.pow(2).sum().backward()
    assert net.classifier.weight.grad is not None and float(net.classifier.weight.grad.norm()) > 0


def test_spectral_norm_parametrizes_every_conv_and_linear_weight():
    torch.manual_seed(0)
    m = module_with({"spectral_norm": True})
    layers = [x for x in m.net.modules() if isinstance(x, (nn.Conv2d, nn.Linear))]
    assert layers and all(parametrize.is_parametrized(x, "weight") for x in layers)
    m.train()
    for _ in range(30):  # power iteration runs in training forward passes
        m.net(torch.rand(2, 1, 28, 28))
    sigma = torch.linalg.matrix_norm(weight_matrix(m.net.classifier.weight.detach()), ord=2)
    assert math.isclose(float(sigma), 1.0, rel_tol=1e-2)


@no_trainer
def test_center_loss_centres_receive_gradients():
    m = module_with(center_loss=0.1, augment="none")
    assert m.center_loss.centers.shape == (10, m.net.feature_dim)
    x, y = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    m.training_step((x, y), 0).backward()
    grad = m.center_loss.centers.grad
    assert grad is not None and float(grad[:4].abs().sum()) > 0 and float(grad[4:].abs().sum()) == 0  # only seen classes
    # centres are learnt without weight decay
    assert any(p is m.center_loss.centers for g in m.param_groups() if g["weight_decay"] == 0 for p in g["params"])


def test_noise_is_seeded_clipped_and_named_without_dots():
    x = torch.full((2, 28, 28), 250, dtype=torch.uint8)
    a, b = with_noise(x, 0.2), with_noise(x, 0.2)
    assert torch.equal(a, b) and a.dtype == torch.uint8 and not torch.equal(a, x)
    assert noise_key(0.1) == "test_acc_noise_sigma0_1" and noise_key(0.25) == "test_acc_noise_sigma0_25"


def test_tiny_training_with_every_trick_on(prepared_dir, tmp_path):
    p = FashionParams.model_validate({**tiny_params(epochs=2, **ALL_TRICKS).model_dump(),
                                      "model": {"width": 0.25, "activation": "mish", "dropout": 0.1,
                                                "dropout_kind": "channel", "spectral_norm": True},
                                      "evaluate": {"batch_size": 64, "train_subset": 50, "noise_sigmas": [0.1, 0.2]}})
    run, models, live = cpu_run(), tmp_path / "models", tmp_path / "live"
    train(p, run, prepared_dir, models, live)
    losses = pd.read_csv(live / "plots/metrics/train/loss.tsv", sep="\t")["loss"]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    for name in ("center_loss", "spectral_penalty"):
        assert all(math.isfinite(v) for v in pd.read_csv(live / f"plots/metrics/train/{name}.tsv", sep="\t")[name])
    metrics = tmp_path / "fashion.json"
    evaluate(p, run, prepared_dir, models, live, metrics, tmp_path / "plots")
    m = json.loads(metrics.read_text())
    assert m["train_subset_images"] == 50 and 0 <= m["train_acc_subset"] <= 1
    assert math.isclose(m["generalisation_gap"], m["train_acc_subset"] - m["test_acc_single_view"], abs_tol=1e-4)
    assert 0 <= m["test_acc_noise_sigma0_1"] <= 1 and 0 <= m["test_acc_noise_sigma0_2"] <= 1
