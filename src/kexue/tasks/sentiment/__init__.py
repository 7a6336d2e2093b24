"""Chinese review sentiment with an LSTM, and which words decided it (saliency).

Stages: download -> preprocess -> train -> evaluate.
"""

from kexue.tasks.sentiment.data import download, preprocess
from kexue.tasks.sentiment.evaluate import evaluate
from kexue.tasks.sentiment.params import SentimentParams as Params
from kexue.tasks.sentiment.train import train

__all__ = ["Params", "download", "preprocess", "train", "evaluate"]
