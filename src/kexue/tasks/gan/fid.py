"""FID, precision and recall in the feature space of the GAN's own classifier (stage gan-features),
and class coverage.

No pretrained hub model (Inception) is used: the features are the penultimate layer of a small CNN
trained on Fashion-MNIST and then frozen (`feature_net.py`), so these numbers measure how far
generated images are from real ones in what that classifier looks at. Features are computed once per
image set; torchmetrics' FrechetInceptionDistance then reads them through `PassThrough`, keeping
running sums in float64 and computing the closed form ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)).

Precision and recall (Kynkaenniemi et al. 2019, "Improved Precision and Recall Metric for Assessing
Generative Models"): each real sample's k-th nearest real neighbour sets the radius of a ball around
it, and the union of those balls estimates the real manifold; precision is the fraction of generated
samples inside it (are the samples realistic?). Recall swaps the roles: the fraction of real samples
inside the generated samples' balls (is all of the real data covered?). A collapsed generator has
high precision and low recall.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance

from kexue.inference import in_batches


class PassThrough(nn.Module):
    """The "feature extractor" of a FID metric fed precomputed features (N, dim)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.double()


def fid_metric(features: nn.Module) -> FrechetInceptionDistance:
    """A FID metric whose real-image statistics survive reset(): add the real set once, then for
    each candidate set reset(), add it as fake, compute()."""
    return FrechetInceptionDistance(feature=features, reset_real_features=False).eval()


@torch.inference_mode()
def add_images(metric: FrechetInceptionDistance, images: torch.Tensor, real: bool, batch_size: int) -> None:
    """Feed `images` (or, with `PassThrough`, features) to the metric as the real or the fake set."""
    device = next(metric.parameters(), torch.empty(0)).device
    for i in range(0, len(images), batch_size):
        metric.update(images[i : i + batch_size].to(device), real=real)


def fid_against_real(metric: FrechetInceptionDistance, images: torch.Tensor, batch_size: int) -> float:
    metric.reset()
    add_images(metric, images, real=False, batch_size=batch_size)
    return float(metric.compute())


def fid_metric_with_real(real_features: torch.Tensor, batch_size: int = 10000) -> FrechetInceptionDistance:
    """A FID metric on precomputed features, its real statistics from `real_features`."""
    metric = fid_metric(PassThrough(real_features.shape[1]))
    add_images(metric, real_features, real=True, batch_size=batch_size)
    return metric


def kth_neighbour_radii(x: torch.Tensor, k: int, chunk: int = 1000) -> torch.Tensor:
    """Distance of each row of `x` to its k-th nearest other row (the row itself not counted)."""
    if len(x) <= k:
        raise ValueError(f"{len(x)} samples: k = {k} nearest neighbours need at least {k + 1}")
    # The k+1 smallest distances of a row include its distance to itself, 0.
    return torch.cat([torch.cdist(x[i : i + chunk], x).topk(k + 1, dim=1, largest=False).values[:, k]
                      for i in range(0, len(x), chunk)])


def inside_fraction(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int = 1000) -> float:
    """Fraction of `points` within radius[j] of some centres[j]."""
    inside = [(torch.cdist(points[i : i + chunk], centres) <= radii[None, :]).any(1) for i in range(0, len(points), chunk)]
    return float(torch.cat(inside).double().mean())


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3, chunk: int = 1000) -> tuple[float, float]:
    """(precision, recall) of the `fake` features against the `real` ones, k-NN balls (float32, in chunks:
    10k against 10k 128-d features take seconds on a CPU)."""
    real, fake = real.float(), fake.float()
    precision = inside_fraction(fake, real, kth_neighbour_radii(real, k, chunk), chunk)
    recall = inside_fraction(real, fake, kth_neighbour_radii(fake, k, chunk), chunk)
    return precision, recall


def embed(net: nn.Module, images: torch.Tensor, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The feature net's penultimate features of uint8 images, float32 on the CPU."""
    return in_batches(net.embed, images, batch_size, torch.device(device))


def predicted_classes(net: nn.Module, images: torch.Tensor, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    return in_batches(lambda x: net(x).argmax(1), images, batch_size, torch.device(device))


def class_histogram(pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Fraction of images predicted as each class."""
    return torch.bincount(pred, minlength=num_classes).double() / max(len(pred), 1)


def entropy_bits(fractions: torch.Tensor) -> float:
    """Shannon entropy in bits: log2(10) = 3.32 when all ten classes are equally frequent, 0 when
    every sample is one class (complete mode collapse)."""
    p = fractions[fractions > 0]
    return float(-(p * torch.log2(p)).sum()) if len(p) else 0.0


MAX_ENTROPY_10 = math.log2(10)
