"""Word vectors learnt without labels as the starting word embeddings of a text model.

Two sources: the word2vec task's vectors file (cloze and sentiment, `model.pretrained: word2vec`),
or skip-gram vectors learnt here, by gensim, on the task's own training text just before the model
trains (sentiment, `model.pretrained: reviews`). A vocabulary's words that have a vector start from
it, scaled to the spread of the embedding's random init so that found and unfound words start on the
same footing; the others (and <pad>, <unk>) keep their random init.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from kexue.params import ParamsError
from kexue.text.vectors import load_text, stable_hash
from kexue.text.vocab import Vocab

log = logging.getLogger(__name__)


def read_vectors(path: Path, vocab: Vocab, dim: int, key: str) -> tuple[np.ndarray, np.ndarray]:
    """The vectors in `path` (word2vec text format) for the words of `vocab`: a (len(vocab), dim)
    float32 array and a mask of the words found. `key` is the params key of `dim`, for the error."""
    task = key.split(".")[0]
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: missing; run the word2vec-train stage first (or set {task}.model.pretrained: none)")
    vectors = load_text(path)
    if vectors.matrix.shape[1] != dim:
        have = vectors.matrix.shape[1]
        raise ParamsError(f"{key} is {dim} but the vectors in {path} have {have} numbers; set {key}: {have} to start from them")
    return vocab_table(vectors.words, vectors.matrix, vocab)


def vocab_table(words: Sequence[str], matrix: np.ndarray, vocab: Vocab) -> tuple[np.ndarray, np.ndarray]:
    """`matrix` (one row per word of `words`) reordered to `vocab`: a (len(vocab), dim) float32
    array, zero where a vocabulary word has no vector, and the mask of the words found."""
    out = np.zeros((len(vocab), matrix.shape[1]), dtype=np.float32)
    found = np.zeros(len(vocab), dtype=bool)
    for word, row in zip(words, matrix):
        i = vocab.stoi.get(word)
        if i is not None:
            out[i], found[i] = row, True
    return out, found


def learn_vectors(
    sentences: Sequence[Sequence[str]], dim: int, seed: int, *, window: int, negative: int, sample: float,
    epochs: int, min_count: int,
) -> tuple[list[str], np.ndarray]:
    """Skip-gram vectors of size `dim` (gensim's Word2Vec, negative sampling) for the words seen at
    least `min_count` times in `sentences`: (words, float32 matrix).

    gensim rather than the word2vec task's own model: that one trains on its prepared corpus format,
    and gensim is its reference, already a dependency. One worker thread and a fixed string hash, so
    the same sentences and seed give the same vectors."""
    from gensim.models import Word2Vec

    model = Word2Vec(
        [list(s) for s in sentences], vector_size=dim, window=window, negative=negative, sample=sample, sg=1, hs=0,
        min_count=min_count, epochs=epochs, workers=1, seed=seed, hashfxn=stable_hash,
    )
    return list(model.wv.index_to_key), model.wv.vectors.astype(np.float32)


@torch.no_grad()
def init_embedding(weight: torch.Tensor, table: np.ndarray, found: np.ndarray, first_word: int = 2) -> None:
    """Copy the found rows of `table` into `weight` (an embedding's randomly initialised weight),
    scaled so their spread equals that of the random rows from `first_word` on (after <pad>, <unk>)."""
    if not found.any():
        return
    scale = float(weight[first_word:].std()) / max(float(table[found].std()), 1e-8)
    weight[torch.from_numpy(found)] = torch.from_numpy(table[found] * scale).to(weight.dtype)


def start_from_vectors(embedding: torch.nn.Embedding, path: Path, vocab: Vocab, key: str) -> dict[str, int]:
    """Start `embedding` (one row per word of `vocab`) from the vectors in `path`; `key` is the
    params key of the embedding size. Returns what a run summary records: words found, vocabulary size."""
    table, found = read_vectors(path, vocab, embedding.embedding_dim, key)
    init_embedding(embedding.weight, table, found)
    log.info("word vectors for %d of %d words from %s", found.sum(), len(vocab), path)
    return {"pretrained_words": int(found.sum()), "vocab_size": len(vocab)}


def start_from_text(
    embedding: torch.nn.Embedding, sentences: Sequence[Sequence[str]], vocab: Vocab, seed: int, **settings
) -> dict[str, float]:
    """Start `embedding` from skip-gram vectors learnt on `sentences` (`learn_vectors`, its size the
    embedding's; `settings` are that function's keywords). Returns what a run summary records."""
    start = time.perf_counter()
    words, matrix = learn_vectors(sentences, embedding.embedding_dim, seed, **settings)
    seconds = time.perf_counter() - start
    table, found = vocab_table(words, matrix, vocab)
    init_embedding(embedding.weight, table, found)
    log.info("word vectors for %d of %d words learnt on %d texts in %.1f s", found.sum(), len(vocab), len(sentences), seconds)
    return {"pretrained_words": int(found.sum()), "vocab_size": len(vocab), "vectors_wall_time_s": round(seconds, 1)}
