"""gan (issue 38): each generator and critic's output shape, self-modulation depending on z, the
default model as it was, precision and recall on hand-made point clouds, and the time budget."""

from __future__ import annotations

import json

import pytest
import torch

from kexue.nn.dcgan import Critic, Generator
from kexue.nn.gan_resnet import ResNetGenerator
from kexue.nn.selfmod import SelfModGenerator, SelfModulatedBatchNorm2d
from kexue.tasks import gan
from kexue.tasks.gan import fid as fidlib
from kexue.tasks.gan.model import GAN, build_critic, build_generator
from kexue.tasks.gan.params import ModelParams
from tests.conftest import cpu_run
from tests.test_gan import baseline_file, feature_net, gan_prepared, tiny_gan_params  # noqa: F401  (fixtures)

# --- architectures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("generator", ["dcgan", "resnet", "selfmod"])
@pytest.mark.parametrize("upsample", ["auto", "transposed", "nearest"])
def test_every_generator_makes_28x28_images_in_range(generator, upsample):
    g = build_generator(ModelParams(z_dim=8, g_channels=4, generator=generator, upsample=upsample))
    x = g(torch.randn(5, 8))
    assert x.shape == (5, 1, 28, 28) and x.abs().max() <= 1
    ups = [m for m in g.modules() if isinstance(m, (torch.nn.ConvTranspose2d, torch.nn.Upsample))]
    own = "transposed" if generator == "dcgan" else "nearest"
    kind = torch.nn.ConvTranspose2d if (own if upsample == "auto" else upsample) == "transposed" else torch.nn.Upsample
    assert len(ups) == 2 and all(isinstance(m, kind) for m in ups)


@pytest.mark.parametrize("critic", ["dcgan", "resnet"])
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_every_critic_scores_each_image(critic, spectral_norm):
    d = build_critic(ModelParams(d_channels=4, critic=critic, spectral_norm=spectral_norm))
    assert d(torch.randn(6, 1, 28, 28)).shape == (6,)
    parametrized = [m for m in d.modules() if hasattr(m, "parametrizations")]
    weighted = [m for m in d.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(parametrized) == (len(weighted) if spectral_norm else 0)


def test_self_modulation_depends_on_z():
    g = SelfModGenerator(z_dim=8, channels=4)
    norms = [m for m in g.modules() if isinstance(m, SelfModulatedBatchNorm2d)]
    # every BatchNorm of the resnet generator (two per block, one before the output) is modulated
    assert len(norms) == 5 and not any(type(m) is torch.nn.BatchNorm2d for m in g.modules() if m not in [n.bn for n in norms])
    z = torch.randn(2, 8)
    for norm in norms:
        gamma, beta = norm.scale_shift(z)
        assert gamma.shape == beta.shape == (2, norm.bn.num_features)
        assert not torch.allclose(gamma[0], gamma[1]) and not torch.allclose(beta[0], beta[1])
    # and the same feature map, normalised, comes out differently for different z
    h = torch.randn(2, 4, 7, 7)
    same = torch.cat([h[:1], h[:1]])
    out = norms[-1].eval()(same, z)
    assert not torch.allclose(out[0], out[1])


def test_plain_resnet_batchnorm_ignores_z():
    g = ResNetGenerator(z_dim=8, channels=4).eval()
    z = torch.randn(3, 8)
    block = g.blocks[0]
    h = torch.randn(3, 16, 7, 7)
    assert torch.equal(block.norm1(h, z), block.norm1(h, torch.zeros_like(z)))


def test_auto_upsampling_builds_the_dcgan_of_before_the_new_keys():
    """`upsample: auto` and the other defaults build the same modules, keys, shapes and initial weights
    as the DCGAN of before issue 38's keys (whose default is now `nearest`)."""
    mp = ModelParams(upsample="auto")
    torch.manual_seed(0)
    built = GAN(mp.model_dump(), tiny_gan_params().train.model_dump())
    torch.manual_seed(0)
    g, d = Generator(mp.z_dim, mp.g_channels), Critic(mp.d_channels)
    expected = {**{f"generator.{k}": v for k, v in g.state_dict().items()}, **{f"critic.{k}": v for k, v in d.state_dict().items()}}
    got = {k: v for k, v in built.state_dict().items() if not k.startswith("g_ema.")}
    assert list(got) == list(expected) and all(torch.equal(got[k], expected[k]) for k in got)
    assert isinstance(built.generator.body[0], torch.nn.ConvTranspose2d)


# --- precision and recall ----------------------------------------------------------------------------


def test_kth_neighbour_radii_on_a_line():
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert fidlib.kth_neighbour_radii(x, 1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert fidlib.kth_neighbour_radii(x, 3).tolist() == [7.0, 6.0, 4.0, 7.0]
    with pytest.raises(ValueError, match="at least 4"):
        fidlib.kth_neighbour_radii(x[:3], 3)


def test_precision_recall_of_identical_sets_is_one():
    real = torch.randn(500, 8, generator=torch.Generator().manual_seed(0))
    assert fidlib.precision_recall(real, real.clone(), k=3, chunk=128) == (1.0, 1.0)


def test_a_collapsed_generator_has_high_precision_and_low_recall():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(1000, 2, generator=g)
    # every sample a tiny jitter of one of five real points: realistic, but covering almost nothing
    fake = real[:5].repeat(200, 1) + 1e-3 * torch.randn(1000, 2, generator=g)
    precision, recall = fidlib.precision_recall(real, fake, k=3, chunk=300)
    assert precision == 1.0 and recall < 0.05
    # far away: nothing realistic, nothing covered
    assert fidlib.precision_recall(real, real + 100, k=3) == (0.0, 0.0)


# --- time budget -------------------------------------------------------------------------------------


def test_time_budget_stops_training_records_the_steps_and_a_resume_adds_none(gan_prepared, feature_net, tmp_path):  # noqa: F811
    p, run = tiny_gan_params(epochs=500, time_budget_min=0.01, snapshots=3), cpu_run()  # 0.6 s of 500 epochs
    models, live = tmp_path / "models", tmp_path / "live"
    gan.train(p, run, gan_prepared, models, live)
    summary = json.loads((models / "summary.json").read_text())
    assert summary["stopped_by_budget"] is True and summary["time_budget_min"] == 0.01
    assert 0 < summary["generator_steps"] < 500 * (400 // 32) and summary["train_wall_time_s"] >= 0.6
    # snapshots by time: two on the way (at 1/3 and 2/3 of the budget), the last at the stop
    snaps = sorted((models / "snapshots").iterdir())
    assert [f.name for f in snaps] == ["time_01.pt", "time_02.pt", "time_03.pt"]
    states = [torch.load(f, weights_only=False) for f in snaps]
    assert [s["train_time_s"] >= t for s, t in zip(states, (0.2, 0.4, 0.6))] == [True] * 3
    assert states[-1]["generator_steps"] == summary["generator_steps"]
    ckpt = torch.load(models / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == summary["global_step"]

    # Rerun: resumed from last.ckpt, whose Timer state already holds the budget: not one step more.
    gan.train(p, run, gan_prepared, models, live)
    assert json.loads((models / "summary.json").read_text())["generator_steps"] == summary["generator_steps"]

    # gan-evaluate: FID over training time, the last point the checkpoint's own FID, and the budget's record
    metrics = tmp_path / "gan.json"
    gan.evaluate(p, run, gan_prepared, models, feature_net, baseline_file(feature_net, tmp_path), live, metrics, tmp_path / "plots")
    m = json.loads(metrics.read_text())
    times = [r["train_time_s"] for r in m["fid_curve"]]
    assert len(times) == 3 and times == sorted(times) and m["fid_curve"][-1]["fid"] == m["fid"]
    assert m["stopped_by_budget"] is True and m["generator_steps"] == summary["generator_steps"] and m["time_budget_min"] == 0.01
