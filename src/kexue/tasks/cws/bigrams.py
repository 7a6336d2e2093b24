"""Character-pair (bigram) features: each character also sees the embeddings of the pairs
(previous, this) and (this, next), the usual strongest single addition to a character tagger for
segmentation (Pei et al. 2014; Chen et al. 2015).

A pair of character ids (a, b) is keyed a * V + b, V the character vocabulary size; the sentence
boundaries are the padding id 0, so (last character, padding) is the end-of-sentence pair whether the
batch is padded there or not. The pairs kept (seen `min_count` times in training) are a sorted key
array; the model finds a pair's row by binary search (`torch.searchsorted`), on any device, and
everything else falls on row 0, "unknown pair".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import nn

PAD_ID = 0


def count_pairs(sequences: Iterable[Sequence[int]], vocab_size: int, min_count: int) -> np.ndarray:
    """Sorted int64 keys of the pairs (boundaries included) seen at least `min_count` times."""
    counts: Counter[int] = Counter()
    for seq in sequences:
        s = np.asarray([PAD_ID, *seq, PAD_ID], dtype=np.int64)
        counts.update((s[:-1] * vocab_size + s[1:]).tolist())
    return np.array(sorted(k for k, n in counts.items() if n >= min_count), dtype=np.int64)


class BigramEmbedding(nn.Module):
    """(N, T) character ids, padded with 0 -> (N, T, 2 * dim): embeddings of (previous, this) and
    (this, next). `keys` (a buffer, saved in the checkpoint) is filled by `set_keys` before training."""

    def __init__(self, vocab_size: int, n_pairs: int, dim: int, dropout: float = 0.0) -> None:
        """`dropout`: in training, each pair is read as the unknown pair with this probability, so the
        model also learns to segment from the characters alone, as it must for pairs it never saw."""
        super().__init__()
        self.vocab_size = vocab_size
        self.dropout = dropout
        self.register_buffer("keys", torch.zeros(n_pairs, dtype=torch.long))
        self.embed = nn.Embedding(n_pairs + 1, dim)

    def set_keys(self, keys: np.ndarray) -> None:
        keys = torch.as_tensor(keys, dtype=torch.long)
        if keys.shape != self.keys.shape:
            raise ValueError(f"expected {self.keys.numel()} pair keys, got {keys.numel()}")
        if keys.numel() > 1 and not bool((keys[1:] > keys[:-1]).all()):
            raise ValueError("pair keys must be sorted and unique")
        self.keys.copy_(keys)

    def rows(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Embedding rows of the (previous, this) and (this, next) pairs of each position."""
        padded = nn.functional.pad(ids.long(), (1, 1), value=PAD_ID)
        pair = padded[:, :-1] * self.vocab_size + padded[:, 1:]  # (N, T + 1): pair j = (char j-1, char j)
        if self.keys.numel() == 0:
            found = torch.zeros_like(pair)
        else:
            at = torch.searchsorted(self.keys, pair).clamp(max=self.keys.numel() - 1)
            found = torch.where(self.keys[at] == pair, at + 1, 0)
        return found[:, :-1], found[:, 1:]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        left, right = self.rows(ids)
        if self.training and self.dropout > 0:
            left = left.masked_fill(torch.rand(left.shape, device=left.device) < self.dropout, 0)
            right = right.masked_fill(torch.rand(right.shape, device=right.device) < self.dropout, 0)
        return torch.cat([self.embed(left), self.embed(right)], dim=-1)
