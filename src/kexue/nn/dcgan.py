"""DCGAN-style generator and critic for 28x28 grey images (Radford et al. 2015, as in the blog's
WGAN-GP and Fashion-MNIST GAN posts).

Generator: z -> linear -> (4c, 7, 7) -> transposed convs 7 -> 14 -> 28, BatchNorm + ReLU, tanh out.
Critic: strided convs 28 -> 14 -> 7 with LeakyReLU -> linear score. The critic has no BatchNorm:
the gradient penalty is defined per sample, and batch statistics would couple the samples; spectral
normalisation (Miyato et al. 2018, `torch.nn.utils.parametrizations.spectral_norm`) is a switch.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _sn


class Generator(nn.Module):
    def __init__(self, z_dim: int = 128, channels: int = 64) -> None:
        super().__init__()
        self.z_dim = z_dim
        c = channels
        self.project = nn.Sequential(nn.Linear(z_dim, 4 * c * 7 * 7, bias=False), nn.BatchNorm1d(4 * c * 7 * 7), nn.ReLU(True))
        self.body = nn.Sequential(
            nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1, bias=False),  # 7 -> 14
            nn.BatchNorm2d(2 * c),
            nn.ReLU(True),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False),  # 14 -> 28
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
        wrap = _sn if spectral_norm else (lambda m: m)
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
