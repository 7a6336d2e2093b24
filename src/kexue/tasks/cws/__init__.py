"""Chinese word segmentation with a CRF, scored the SIGHAN way, against jieba.

Stages: download -> preprocess -> train -> evaluate.
"""

from kexue.tasks.cws.data import download, preprocess
from kexue.tasks.cws.evaluate import evaluate
from kexue.tasks.cws.params import CwsParams as Params
from kexue.tasks.cws.train import train

__all__ = ["Params", "download", "preprocess", "train", "evaluate"]
