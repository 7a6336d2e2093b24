"""GAN losses: WGAN-GP (Gulrajani et al. 2017), hinge (Miyato et al. 2018) and the
non-saturating loss (Goodfellow et al. 2014), plus the gradient penalty.

The blog post 互怼的艺术：从零直达WGAN-GP derives the WGAN critic from a Lipschitz constraint and the
penalty (||grad D(x_hat)|| - 1)^2 on points x_hat between real and fake images.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

LOSSES = ("wgan-gp", "hinge", "ns")


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Mean of (||grad critic(x_hat)||_2 - 1)^2 over x_hat = eps * real + (1 - eps) * fake, eps ~ U(0, 1)
    per sample. The graph is kept (create_graph), so the penalty trains the critic."""
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    x_hat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def critic_loss(kind: str, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """What the critic minimises, given its scores on real and generated images (penalty not included)."""
    if kind == "wgan-gp":
        return d_fake.mean() - d_real.mean()
    if kind == "hinge":
        return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
    if kind == "ns":
        return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
    raise ValueError(f"unknown GAN loss {kind!r}; expected one of {LOSSES}")


def generator_loss(kind: str, d_fake: torch.Tensor) -> torch.Tensor:
    """What the generator minimises, given the critic's scores on its images."""
    if kind in ("wgan-gp", "hinge"):
        return -d_fake.mean()
    if kind == "ns":
        return F.softplus(-d_fake).mean()
    raise ValueError(f"unknown GAN loss {kind!r}; expected one of {LOSSES}")
