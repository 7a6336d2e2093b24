"""Self-modulated BatchNorm (Chen et al. 2019, "On Self Modulation for Generative Adversarial
Networks"), the last step of the post 从DCGAN到SELF-MOD.

What it fixes (the paper's argument; issue 38: "every BatchNorm's scale and shift computed from z by
a small MLP"): in a plain generator z enters once, at the first layer, and every later layer sees it
only through the features above it. Self-modulation lets z steer every layer: each BatchNorm's scale
and shift are no longer learned constants but functions of z, computed by a small MLP per layer,

    h' = gamma(z) * (h - mean) / std + beta(z),   gamma(z) = 1 + MLP_g(z),  beta(z) = MLP_b(z),

like a conditional BatchNorm whose condition is the noise itself: no labels needed, a few thousand
parameters more, and (in the paper) a better FID for most architectures and losses.

`SelfModGenerator` is `gan_resnet.ResNetGenerator` with every BatchNorm replaced by this one.
"""

from __future__ import annotations

import torch
from torch import nn

from kexue.nn.dcgan import Upsample
from kexue.nn.gan_resnet import ResNetGenerator


class SelfModulatedBatchNorm2d(nn.Module):
    def __init__(self, channels: int, z_dim: int, hidden: int = 32) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gamma = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(True), nn.Linear(hidden, channels))
        self.beta = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(True), nn.Linear(hidden, channels))

    def scale_shift(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The per-sample scale and shift, each (N, channels)."""
        return 1 + self.gamma(z), self.beta(z)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.scale_shift(z)
        return self.bn(x) * gamma[:, :, None, None] + beta[:, :, None, None]


class SelfModGenerator(ResNetGenerator):
    def __init__(self, z_dim: int = 128, channels: int = 16, upsample: Upsample = "nearest", hidden: int = 32) -> None:
        super().__init__(z_dim, channels, upsample, norm=lambda c: SelfModulatedBatchNorm2d(c, z_dim, hidden))
