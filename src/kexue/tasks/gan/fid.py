"""FID in the feature space of our own Fashion-MNIST classifier, and class coverage.

No pretrained hub model (Inception) is used: the features are the penultimate layer (global average
pool) of the foundation task's MobileNet, so FID here measures how far generated images are from
real ones in what that classifier looks at. torchmetrics' FrechetInceptionDistance accepts any
feature module; it keeps running sums in float64 and computes the closed-form distance
||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance

from kexue.inference import in_batches
from kexue.tasks.fashion.data import to_input
from kexue.tasks.fashion.model import FashionClassifier


class ClassifierFeatures(nn.Module):
    """uint8 images (N, 28, 28) -> the classifier's penultimate features (N, feature_dim)."""

    def __init__(self, classifier: FashionClassifier) -> None:
        super().__init__()
        self.classifier = classifier.eval()
        self.num_features = classifier.net.feature_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier.net.embed(to_input(x, self.classifier.channels_last))


def fid_metric(features: nn.Module) -> FrechetInceptionDistance:
    """A FID metric whose real-image statistics survive reset(): add the real set once, then for
    each candidate set reset(), add it as fake, compute()."""
    return FrechetInceptionDistance(feature=features, reset_real_features=False).eval()


@torch.inference_mode()
def add_images(metric: FrechetInceptionDistance, images: torch.Tensor, real: bool, batch_size: int) -> None:
    device = next(metric.parameters(), torch.empty(0)).device
    for i in range(0, len(images), batch_size):
        metric.update(images[i : i + batch_size].to(device), real=real)


def fid_against_real(metric: FrechetInceptionDistance, images: torch.Tensor, batch_size: int) -> float:
    metric.reset()
    add_images(metric, images, real=False, batch_size=batch_size)
    return float(metric.compute())


def predicted_classes(classifier: FashionClassifier, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    device = next(classifier.parameters()).device
    return in_batches(lambda x: classifier(x).argmax(1), images, batch_size, device)


def class_histogram(pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Fraction of images predicted as each class."""
    return torch.bincount(pred, minlength=num_classes).double() / max(len(pred), 1)


def entropy_bits(fractions: torch.Tensor) -> float:
    """Shannon entropy in bits: log2(10) = 3.32 when all ten classes are equally frequent, 0 when
    every sample is one class (complete mode collapse)."""
    p = fractions[fractions > 0]
    return float(-(p * torch.log2(p)).sum()) if len(p) else 0.0


MAX_ENTROPY_10 = math.log2(10)
