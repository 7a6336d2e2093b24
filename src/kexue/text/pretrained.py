"""The word2vec task's vectors as the starting word embeddings of a text model.

A vocabulary's words found in the vectors file start from their vectors, scaled to the spread of
the embedding's random init so that found and unfound words start on the same footing; the others
(and <pad>, <unk>) keep their random init. Used by cloze and sentiment (`model.pretrained: word2vec`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from kexue.params import ParamsError
from kexue.tasks.word2vec.vectors import load_text
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
    out = np.zeros((len(vocab), dim), dtype=np.float32)
    found = np.zeros(len(vocab), dtype=bool)
    for word, row in zip(vectors.words, vectors.matrix):
        i = vocab.stoi.get(word)
        if i is not None:
            out[i], found[i] = row, True
    return out, found


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
