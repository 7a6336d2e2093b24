"""Titles from abstracts: the post's character seq2seq (BiLSTM encoder, attention LSTM decoder, the
prior of the abstract's characters, beam search), scored with ROUGE against extractive baselines.

Stages: download -> preprocess -> train -> evaluate; `python -m kexue.tasks.title.predict` writes titles.
"""

from kexue.tasks.title.data import download, preprocess
from kexue.tasks.title.evaluate import evaluate
from kexue.tasks.title.params import TitleParams as Params
from kexue.tasks.title.train import train

__all__ = ["Params", "download", "preprocess", "train", "evaluate"]
