"""ResNet-style generator and critic for 28x28 grey images (Gulrajani et al. 2017's WGAN-GP ResNet,
Miyato et al. 2018's SN-GAN), the second step of the post 从DCGAN到SELF-MOD.

What they fix, in the post's line (as issue 38 sums it up): DCGAN's transposed convolutions print a
checkerboard, and its few plain layers limit how deep the networks can go. The ResNet models upsample
and then convolve (no transposed convolution, see `dcgan.up_conv`), and build both networks from
residual blocks, x + F(x), whose identity path carries the gradient through every block, so deeper
networks still train (He et al. 2016; the WGAN-GP paper's CIFAR-10 models are of this kind).

Generator: z -> linear -> (4c, 7, 7) -> up-block 4c -> 2c (7 -> 14) -> up-block 2c -> c (14 -> 28)
-> BatchNorm, ReLU, 3x3 conv -> tanh. An up-block is BN, ReLU, 2x upsample + conv, BN, ReLU, conv,
added to a shortcut (nearest upsample + 1x1 conv). The normalisation is a factory, `norm(channels)`,
whose modules are called as `norm(h, z)`: plain BatchNorm ignores z, self-modulated BatchNorm
(`selfmod.py`) computes its scale and shift from it.

Critic: down-block 1 -> c (28 -> 14) -> down-block c -> 2c (14 -> 7) -> block 2c -> 4c (7) -> ReLU,
global sum pool -> linear score. A down-block is (ReLU,) conv, ReLU, conv, 2x2 average pool, added to
a shortcut (1x1 conv + average pool); no BatchNorm (the gradient penalty is per sample), spectral
normalisation on every layer as a switch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from kexue.nn.dcgan import Upsample, maybe_sn, up_conv


class BatchNorm2d(nn.BatchNorm2d):
    """Plain BatchNorm with the generator blocks' call signature `norm(h, z)`; z is ignored."""

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:  # noqa: ARG002
        return super().forward(x)


Norm = Callable[[int], nn.Module]


class UpBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, norm: Norm, upsample: Upsample) -> None:
        super().__init__()
        self.norm1 = norm(c_in)
        self.conv1 = up_conv(c_in, c_out, upsample)
        self.norm2 = norm(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.relu(self.norm1(x, z)))
        h = self.conv2(F.relu(self.norm2(h, z)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResNetGenerator(nn.Module):
    def __init__(self, z_dim: int = 128, channels: int = 16, upsample: Upsample = "nearest", norm: Norm = BatchNorm2d) -> None:
        super().__init__()
        self.z_dim = z_dim
        c = self._c = channels
        self.project = nn.Linear(z_dim, 4 * c * 7 * 7)
        self.blocks = nn.ModuleList([UpBlock(4 * c, 2 * c, norm, upsample), UpBlock(2 * c, c, norm, upsample)])
        self.norm = norm(c)
        self.out = nn.Conv2d(c, 1, 3, 1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1], shape (N, 1, 28, 28)."""
        h = self.project(z).view(-1, 4 * self._c, 7, 7)
        for block in self.blocks:
            h = block(h, z)
        return torch.tanh(self.out(F.relu(self.norm(h, z))))


class DownBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, wrap, down: bool, first: bool = False) -> None:
        super().__init__()
        self.first, self.down = first, down
        self.conv1 = wrap(nn.Conv2d(c_in, c_out, 3, 1, 1))
        self.conv2 = wrap(nn.Conv2d(c_out, c_out, 3, 1, 1))
        self.shortcut = wrap(nn.Conv2d(c_in, c_out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The first block sees the image itself: no ReLU in front (SN-GAN's "optimised" block).
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        s = self.shortcut(x)
        if self.down:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return h + s


class ResNetCritic(nn.Module):
    def __init__(self, channels: int = 16, spectral_norm: bool = False) -> None:
        super().__init__()
        c = channels
        wrap = maybe_sn(spectral_norm)
        self.blocks = nn.Sequential(
            DownBlock(1, c, wrap, down=True, first=True),  # 28 -> 14
            DownBlock(c, 2 * c, wrap, down=True),  # 14 -> 7
            DownBlock(2 * c, 4 * c, wrap, down=False),
        )
        self.head = wrap(nn.Linear(4 * c, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One unbounded score per image, shape (N,)."""
        return self.head(F.relu(self.blocks(x)).sum((2, 3))).squeeze(1)
