"""CMRC2017 Chinese cloze: an attention-sum reader trained on generated questions, evaluated on
the official validation sets.

Stages: download -> preprocess -> train -> evaluate.
"""

from kexue.tasks.cloze.data import download, preprocess
from kexue.tasks.cloze.evaluate import evaluate
from kexue.tasks.cloze.params import ClozeParams as Params
from kexue.tasks.cloze.train import train

__all__ = ["Params", "download", "preprocess", "train", "evaluate"]
