"""Chinese review sentiment with an LSTM, and which words decided it (saliency).

Stages: download -> preprocess (train, evaluate: to come).
"""

from kexue.tasks.sentiment.data import download, preprocess
from kexue.tasks.sentiment.params import SentimentParams as Params

__all__ = ["Params", "download", "preprocess"]
