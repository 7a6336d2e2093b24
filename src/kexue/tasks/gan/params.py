"""Parameters of the gan task (section `gan:` of params.yaml)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kexue.params import EmaDecay, Strict


class DataParams(Strict):
    # Drop repeated training images, and test images identical to a training image, so the FID
    # floor (train vs test) compares two disjoint sets.
    dedupe: bool = True


class FeaturesParams(Strict):
    """The feature classifier FID, precision and recall are measured in (stage gan-features)."""

    width: int = Field(32, ge=1)  # conv channels w -> 2w -> 4w at 28 -> 14 -> 7 pixels
    dim: int = Field(128, ge=2)  # the features: a linear layer (+ ReLU) on the flattened 7x7 map
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(2e-3, gt=0)  # Adam, cosine decay to 0 over the run
    train_limit: int = Field(0, ge=0)  # use only the first N training images (0 = all)
    # Its own seed, not the run's `seed`: every run, whatever its seed, is scored in the same network.
    seed: int = Field(42, ge=0)


class ModelParams(Strict):
    z_dim: int = Field(128, ge=1)
    g_channels: int = Field(16, ge=1)  # generator width: 4c -> 2c -> c channels at 7 -> 14 -> 28 pixels
    d_channels: int = Field(16, ge=1)  # critic width: c -> 2c -> 4c channels at 28 -> 14 -> 7 pixels
    generator: Literal["dcgan", "resnet", "selfmod"] = "dcgan"  # nn/dcgan.py, nn/gan_resnet.py, nn/selfmod.py
    critic: Literal["dcgan", "resnet"] = "dcgan"
    # nearest: upsampling + conv, issue 38's best (docs/gan.md); transposed: DCGAN's own;
    # auto: the generator's own (dcgan: transposed; resnet, selfmod: nearest upsampling + conv)
    upsample: Literal["auto", "transposed", "nearest"] = "nearest"
    selfmod_hidden: int = Field(32, ge=1)  # hidden units of each self-modulation MLP
    spectral_norm: bool = False  # on every critic layer


class TrainParams(Strict):
    loss: Literal["wgan-gp", "hinge", "ns"] = "wgan-gp"
    gp_weight: float = Field(10.0, ge=0)  # gradient penalty lambda, added to any loss when > 0
    n_critic: int = Field(5, ge=1)  # critic updates per generator update
    epochs: int = Field(60, ge=1)  # passes over the training images (each image feeds one critic update)
    batch_size: int = Field(64, ge=1)  # images per critic update and per generator update
    lr_g: float = Field(2e-4, gt=0)
    lr_d: float = Field(2e-4, gt=0)
    beta1: float = Field(0.5, ge=0, lt=1)  # Adam betas
    beta2: float = Field(0.9, ge=0, lt=1)
    ema_decay: EmaDecay = 0.0  # EMA decay of the generator weights (torch's AveragedModel); 0 = off (issue 38: the raw generator scored better)
    snapshots: int = Field(6, ge=1)  # generator snapshots kept for the FID-over-training curve
    train_limit: int = Field(0, ge=0)  # use only the first N training images (0 = all)
    # Stop when training has taken this many minutes (a resumed run counts its earlier time); 0 = off.
    # With a budget the snapshots are spread over the budget's time instead of the epochs.
    time_budget_min: float = Field(0.0, ge=0)


class EvaluateParams(Strict):
    samples: int = Field(10000, ge=2)  # generated images for FID and class coverage
    floor_images: int = Field(10000, ge=2)  # training images for the floor FID (train vs test)
    batch_size: int = Field(500, ge=1)
    grid: int = Field(10, ge=1)  # the sample grid is grid x grid images from fixed noise
    pr_k: int = Field(3, ge=1)  # precision and recall (Kynkaenniemi et al. 2019): k-th nearest neighbour radii


class GanParams(Strict):
    data: DataParams = DataParams()
    features: FeaturesParams = FeaturesParams()
    model: ModelParams = ModelParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
