"""The reference: gensim's Word2Vec on the very tokens and hyperparameters our model trains on.

gensim reads the prepared stream as sentences of words; words under min_count are already gone
from it, so gensim's vocabulary is ours word for word. Only `model.train` is timed, as only our
training epochs are: building either vocabulary is not part of words/s.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from kexue.tasks.word2vec.data import Corpus
from kexue.tasks.word2vec.params import Word2VecParams
from kexue.text.vectors import stable_hash

log = logging.getLogger(__name__)
logging.getLogger("gensim").setLevel(logging.WARNING)  # its per-epoch chatter; our own line sums it up


@dataclass
class Reference:
    words: list[str]
    matrix: np.ndarray
    seconds: float  # wall time of gensim's training epochs
    cpu_seconds: float  # CPU time of the process (all its threads) over the same
    words_trained: int  # stream words over all epochs, counted before subsampling, as ours
    version: str


def train_gensim(p: Word2VecParams, corpus: Corpus, seed: int) -> Reference:
    from gensim import __version__
    from gensim.models import Word2Vec

    m, t = p.model, p.train
    sentences = list(corpus.sentences())
    model = Word2Vec(
        vector_size=m.dim, window=m.window, min_count=p.data.min_count, sample=m.sample, negative=m.negative,
        ns_exponent=m.ns_exponent, sg=int(m.arch == "sg"), hs=0, cbow_mean=int(m.cbow_mean),
        alpha=t.alpha, min_alpha=t.min_alpha, epochs=t.epochs, workers=t.threads, seed=seed, hashfxn=stable_hash,
    )
    model.build_vocab(sentences)
    if len(model.wv) != len(corpus.words()):
        raise RuntimeError(f"gensim's vocabulary has {len(model.wv)} words, ours {len(corpus.words())}: not the same corpus")
    start, cpu_start = time.perf_counter(), time.process_time()
    # total_words, not total_examples: gensim then decays alpha by words, as word2vec.c and ours do
    model.train(sentences, total_words=len(corpus), epochs=t.epochs)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    words = list(model.wv.index_to_key)
    log.info("gensim %s: %d epochs in %.1f s (%.0f words/s)", __version__, t.epochs, seconds, len(corpus) * t.epochs / seconds)
    return Reference(words, model.wv.vectors.copy(), seconds, cpu_seconds, len(corpus) * t.epochs, __version__)
