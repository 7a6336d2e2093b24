"""Parameters of the word2vec task (section `word2vec:` of params.yaml).

Names and defaults follow word2vec/gensim where they have one (`window`, `negative`, `sample`,
`alpha`, `min_alpha`, `min_count`, `ns_exponent`, `cbow_mean`); both our model and gensim's read
the same values, so every comparison is at equal hyperparameters.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from kexue.params import Strict


class DataParams(Strict):
    min_count: int = Field(5, ge=1)  # words seen fewer times are dropped from the stream (as word2vec does)
    keep_punctuation: bool = False  # punctuation tokens stay in the sentences (sentences are split at them either way)
    max_chars: int = Field(0, ge=0)  # read only the first N characters of each of the five texts (0 = all)


class ModelParams(Strict):
    arch: Literal["sg", "cbow"] = "sg"  # skip-gram or continuous bag of words
    dim: int = Field(100, ge=1)
    window: int = Field(5, ge=1)  # maximum distance; each centre draws its own window 1..window, as word2vec
    negative: int = Field(5, ge=1)  # noise words per positive pair
    ns_exponent: float = 0.75  # noise distribution: unigram count ** ns_exponent
    sample: float = Field(1e-3, ge=0)  # subsampling threshold of frequent words (0 = off)
    cbow_mean: bool = True  # CBOW: average (true) or sum (false) the context vectors
    # skip-gram: the context words of one centre share its noise words (true; ~1.8x faster here, same
    # quality: README) or each (context, centre) pair draws its own, as word2vec.c (false)
    shared_noise: bool = True


class TrainParams(Strict):
    epochs: int = Field(10, ge=1)
    alpha: float = Field(0.025, gt=0)  # learning rate at the start, decayed linearly ...
    min_alpha: float = Field(1e-4, ge=0)  # ... to this at the last word of the last epoch
    batch_words: int = Field(500, ge=1)  # stream words (before subsampling) per update: small stays in the CPU's cache
    updates_per_step: int = Field(20, ge=1)  # updates per Lightning step: fewer steps, less per-step overhead
    threads: int = Field(1, ge=1)  # CPU threads for ours (torch) and for gensim (workers): the same for both
    # how our updates run: torch (model.py: each update batched, its words' changes summed) or triton
    # (hogwild.py, GPU: `parallel` programs side by side, each training `batch_words` words one pair after
    # another, as word2vec.c's threads); auto = triton for skip-gram on a CUDA device where Triton is installed
    kernel: Literal["auto", "torch", "triton"] = "auto"
    parallel: int = Field(1024, ge=1)  # triton: programs side by side per Lightning step (updates_per_step is torch's)
    gensim: bool = True  # also train gensim's Word2Vec on the same tokens (the reference)

    @model_validator(mode="after")
    def _decays(self) -> "TrainParams":
        if self.min_alpha > self.alpha:
            raise ValueError("min_alpha must not exceed alpha (the learning rate decays from alpha to min_alpha)")
        return self


class EvaluateParams(Strict):
    topn: int = Field(10, ge=1)  # neighbours compared between the two models, and for alias retrieval
    overlap_words: int = Field(500, ge=1)  # the most frequent words whose neighbours are compared
    pca_words: int = Field(250, ge=2)  # frequent words drawn in the 2-D projection
    pca_skip: int = Field(50, ge=0)  # ... after skipping the most frequent ones (function words crowd the middle)


class Word2VecParams(Strict):
    data: DataParams = DataParams()
    model: ModelParams = ModelParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
