"""Batch image augmentations that run on the training device, and mixup.

Written here because torchvision (which has them) cannot be installed on our machines. Each works
on a whole (N, C, H, W) float batch with per-sample randomness drawn from torch's global RNG, so
`seed_everything` makes a run repeatable, and nothing is done per image in Python.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

KINDS = ("flip", "shift", "erase")


def parse(spec: str) -> tuple[str, ...]:
    """'flip+shift' -> ('flip', 'shift'); 'none' or '' -> ()."""
    if spec.strip().lower() in ("", "none"):
        return ()
    kinds = tuple(k.strip() for k in spec.split("+"))
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ValueError(f"unknown augmentation {bad} in {spec!r}; use 'none' or a '+'-joined subset of {KINDS}")
    return kinds


def random_hflip(x: torch.Tensor, p: float = 0.5) -> torch.Tensor:
    flip = torch.rand(x.shape[0], device=x.device) < p
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def random_shift(x: torch.Tensor, max_shift: int = 2) -> torch.Tensor:
    """Translate each image by a whole number of pixels in [-max_shift, max_shift], zero-filled
    (the same as pad-and-random-crop)."""
    n, _, h, w = x.shape
    shift = torch.randint(-max_shift, max_shift + 1, (n, 2), device=x.device).to(x.dtype)
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = 1
    theta[:, 1, 1] = 1
    theta[:, 0, 2] = -2 * shift[:, 0] / w  # affine_grid's units: the image spans [-1, 1]
    theta[:, 1, 2] = -2 * shift[:, 1] / h
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def random_erase(x: torch.Tensor, p: float = 0.5, max_frac: float = 0.4) -> torch.Tensor:
    """Random erasing (Zhong et al. 2017): blank a random rectangle (sides up to max_frac of the
    image) in a fraction p of the images."""
    n, _, h, w = x.shape
    dev = x.device
    eh = (torch.rand(n, device=dev) * max_frac * h).long() + 1
    ew = (torch.rand(n, device=dev) * max_frac * w).long() + 1
    top = (torch.rand(n, device=dev) * (h - eh + 1)).long()
    left = (torch.rand(n, device=dev) * (w - ew + 1)).long()
    rows = torch.arange(h, device=dev)[None, :]
    cols = torch.arange(w, device=dev)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < (top + eh)[:, None])
    in_cols = (cols >= left[:, None]) & (cols < (left + ew)[:, None])
    box = in_rows[:, :, None] & in_cols[:, None, :]
    box &= (torch.rand(n, device=dev) < p)[:, None, None]
    return x.masked_fill(box[:, None], 0.0)


def apply(x: torch.Tensor, kinds: tuple[str, ...]) -> torch.Tensor:
    if "flip" in kinds:
        x = random_hflip(x)
    if "shift" in kinds:
        x = random_shift(x)
    if "erase" in kinds:
        x = random_erase(x)
    return x


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Mixup (Zhang et al. 2018): returns (mixed x, y, y of the partner, lambda).

    The loss is lam * CE(out, y) + (1 - lam) * CE(out, y_partner).
    """
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(x.shape[0], device=x.device)
    return lam * x + (1 - lam) * x[perm], y, y[perm], lam
