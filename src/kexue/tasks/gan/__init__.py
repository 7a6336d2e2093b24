"""WGAN-GP on Fashion-MNIST, scored by FID in our own classifier's feature space.

Stages: preprocess -> train -> evaluate (the images come from fashion-download's files).
"""

from kexue.tasks.gan.data import preprocess
from kexue.tasks.gan.evaluate import evaluate
from kexue.tasks.gan.params import GanParams as Params
from kexue.tasks.gan.train import train

__all__ = ["Params", "preprocess", "train", "evaluate"]
