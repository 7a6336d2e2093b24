"""DCGAN-style generator and critic for 28x28 grey images (Radford et al. 2015, as in the blog's
WGAN-GP and Fashion-MNIST GAN posts).

Generator: z -> linear -> (4c, 7, 7) -> two 2x upsamplings 7 -> 14 -> 28, BatchNorm + ReLU, tanh out.
Critic: strided convs 28 -> 14 -> 7 with LeakyReLU -> linear score. The critic has no BatchNorm:
the gradient penalty is defined per sample, and batch statistics would couple the samples; spectral
normalisation (Miyato et al. 2018, `torch.nn.utils.parametrizations.spectral_norm`) is a switch.

Upsampling (`up_conv`): DCGAN's transposed convolution (4x4, stride 2) or nearest-neighbour
upsampling followed by a 3x3 convolution, what the ResNet models of the post 从DCGAN到SELF-MOD do
instead, for the checkerboard effect it names as DCGAN's weakness. In a stride-2
transposed convolution each output pixel gathers a different subset of the kernel's taps depending on
the parity of its position; unless those subsets sum alike, the image carries a period-2 grid, the
checkerboard effect (Odena et al. 2016, "Deconvolution and Checkerboard Artifacts"). Upsampling first
and then convolving gives every output pixel all the taps, so the layer itself cannot print that grid.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _sn

Upsample = Literal["transposed", "nearest"]


def up_conv(c_in: int, c_out: int, mode: Upsample, bias: bool = False) -> nn.Module:
    """A learned 2x upsampling: a 4x4 stride-2 transposed convolution, or nearest upsampling + 3x3 conv."""
    if mode == "transposed":
        return nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias)
    if mode == "nearest":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=bias))
    raise ValueError(f"unknown upsampling {mode!r}; expected 'transposed' or 'nearest'")


def maybe_sn(on: bool):
    """`spectral_norm` as a wrapper when `on`, else the identity."""
    return _sn if on else (lambda m: m)


class Generator(nn.Module):
    def __init__(self, z_dim: int = 128, channels: int = 64, upsample: Upsample = "transposed") -> None:
        super().__init__()
        self.z_dim = z_dim
        c = channels
        self.project = nn.Sequential(nn.Linear(z_dim, 4 * c * 7 * 7, bias=False), nn.BatchNorm1d(4 * c * 7 * 7), nn.ReLU(True))
        self.body = nn.Sequential(
            up_conv(4 * c, 2 * c, upsample),  # 7 -> 14
            nn.BatchNorm2d(2 * c),
            nn.ReLU(True),
            up_conv(2 * c, c, upsample),  # 14 -> 28
            nn.BatchNorm2d(c),
            nn.ReLU(True),
            nn.Conv2d(c, 1, 3, 1, 1),
            nn.Tanh(),
        )
        self._c = c

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1], shape (N, 1, 28, 28)."""
        return self.body(self.project(z).view(-1, 4 * self._c, 7, 7))


class Critic(nn.Module):
    def __init__(self, channels: int = 64, spectral_norm: bool = False) -> None:
        super().__init__()
        c = channels
        wrap = maybe_sn(spectral_norm)
        self.body = nn.Sequential(
            wrap(nn.Conv2d(1, c, 3, 1, 1)),
            nn.LeakyReLU(0.2, True),
            wrap(nn.Conv2d(c, 2 * c, 4, 2, 1)),  # 28 -> 14
            nn.LeakyReLU(0.2, True),
            wrap(nn.Conv2d(2 * c, 4 * c, 4, 2, 1)),  # 14 -> 7
            nn.LeakyReLU(0.2, True),
        )
        self.head = wrap(nn.Linear(4 * c * 7 * 7, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One unbounded score per image, shape (N,)."""
        return self.head(self.body(x).flatten(1)).squeeze(1)
