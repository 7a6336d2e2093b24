"""Fashion-MNIST classification with MobileNet v1 (the blog's 95% baseline with random flips).

Stages: download -> preprocess -> train -> evaluate, one function each.
"""

from kexue.tasks.fashion.data import download, preprocess
from kexue.tasks.fashion.evaluate import evaluate
from kexue.tasks.fashion.params import FashionParams as Params
from kexue.tasks.fashion.train import train

__all__ = ["Params", "download", "preprocess", "train", "evaluate"]
