"""Chinese word vectors trained by us (skip-gram / CBOW with negative sampling, as a Lightning
module), compared side by side with gensim's Word2Vec on the same corpus (the blog's
【不可思议的Word2Vec】6. Keras版的Word2Vec).

Stages: download -> preprocess -> train (ours, then gensim's) -> evaluate.
"""

from kexue.tasks.word2vec.data import download, preprocess
from kexue.tasks.word2vec.evaluate import evaluate
from kexue.tasks.word2vec.params import Word2VecParams as Params
from kexue.tasks.word2vec.train import train

__all__ = ["Params", "download", "preprocess", "train", "evaluate"]
