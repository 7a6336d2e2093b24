"""Word vectors in word2vec's text format, their nearest neighbours, and the string hash that makes
gensim's training reproducible.

The word2vec task writes its vectors in this format; cloze and sentiment read them (a DVC data
file, `data/word2vec/vectors.txt`, not an import of the word2vec task).

The format (word2vec.c `-binary 0`; gensim's `KeyedVectors.load_word2vec_format(path)` reads it):
a first line `<words> <dim>`, then one line per word, the word and its `dim` numbers separated by
single spaces, UTF-8. Each float32 is written with 9 significant digits, enough to read back the
very same float32.

Ours rather than gensim's writer and reader: gensim is the word2vec task's reference and benchmark
dependency; the vectors, and the neighbours command, stand without it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kexue import files
from kexue.errors import DataFormatError, InputError


def stable_hash(word: str) -> int:
    """gensim seeds each word's initial vector with hash(word + seed); Python's str hash changes
    from process to process, so a fixed one keeps gensim's run reproducible (`Word2Vec(hashfxn=)`)."""
    return zlib.crc32(word.encode("utf-8"))


def save_text(path: Path, words: list[str], matrix: np.ndarray) -> None:
    """Write `matrix` (one row per word) atomically in word2vec's text format."""
    path, matrix = Path(path), np.asarray(matrix, dtype=np.float32)
    if matrix.shape[0] != len(words):
        raise ValueError(f"{len(words)} words but {matrix.shape[0]} vectors")
    bad = [w for w in words if not w or any(c.isspace() for c in w)]
    if bad:
        raise ValueError(f"words the text format cannot hold (empty or with spaces): {bad[:5]}")
    lines = [f"{matrix.shape[0]} {matrix.shape[1]}"]
    lines += [word + " " + " ".join(f"{x:.9g}" for x in row) for word, row in zip(words, matrix)]
    files.write_text(path, "\n".join(lines) + "\n")


@dataclass
class Vectors:
    words: list[str]
    matrix: np.ndarray  # (words, dim) float32

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.words)}
        norms = np.linalg.norm(self.matrix, axis=1, keepdims=True)
        self.unit = self.matrix / np.maximum(norms, 1e-12)

    def neighbours(self, word: str, topn: int = 10) -> list[tuple[str, float]]:
        """The `topn` words of highest cosine similarity to `word` (itself left out)."""
        if word not in self.index:
            raise InputError(f"{word!r} is not in the vocabulary ({len(self.words)} words; "
                             "words seen fewer than min_count times in the corpus have no vector)")
        sims = self.unit @ self.unit[self.index[word]]
        sims[self.index[word]] = -np.inf
        top = np.argpartition(-sims, min(topn, len(sims) - 1))[:topn]
        top = top[np.argsort(-sims[top])]
        return [(self.words[i], float(sims[i])) for i in top if np.isfinite(sims[i])]


def load_text(path: Path) -> Vectors:
    """Read a word2vec text file (as written by `save_text`, word2vec.c or gensim)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run the word2vec-train stage first")
    with open(path, encoding="utf-8") as f:
        try:
            n, dim = (int(x) for x in f.readline().split())
        except ValueError:
            raise DataFormatError(f"{path}:1: expected `<words> <dim>`, the word2vec text format's header") from None
        words, rows = [], []
        for k, line in enumerate(f, 2):
            parts = line.rstrip().split(" ")  # gensim and word2vec.c may end a line with a space
            if len(parts) != dim + 1:
                raise DataFormatError(f"{path}:{k}: expected a word and {dim} numbers, got {len(parts)} fields")
            words.append(parts[0])
            rows.append(parts[1:])
    if len(words) != n:
        raise DataFormatError(f"{path}: the header promises {n} words, the file holds {len(words)}")
    return Vectors(words, np.asarray(rows, dtype=np.float32).reshape(len(words), dim))
