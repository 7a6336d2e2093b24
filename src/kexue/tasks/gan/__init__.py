"""A GAN on Fashion-MNIST, scored by FID, precision and recall in its own feature classifier's features.

Stages: preprocess -> features -> train -> evaluate (the images come from fashion-download's files;
`features` trains the frozen classifier the scores are measured in).
"""

from kexue.tasks.gan.data import preprocess
from kexue.tasks.gan.evaluate import evaluate
from kexue.tasks.gan.feature_net import features
from kexue.tasks.gan.params import GanParams as Params
from kexue.tasks.gan.train import train

# The stages in pipeline order: the task has no download, and one stage the others lack.
STAGES = ("preprocess", "features", "train", "evaluate")

__all__ = ["Params", "STAGES", "preprocess", "features", "train", "evaluate"]
