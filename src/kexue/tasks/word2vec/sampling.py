"""The sampling of the word2vec recipe, batched: subsampling of frequent words, the noise
distribution for negative sampling, and the (centre, context) windows of skip-gram and CBOW.

Each function follows word2vec.c (and gensim, which copies it):
- a word of corpus frequency f = count / total is kept with probability
  (sqrt(f / sample) + 1) * sample / f (capped at 1): rare words are always kept;
- noise words are drawn from count ** 0.75, normalised; here from an alias table, which is exact
  where word2vec.c's 1e8-slot table rounds rare words' shares;
- every centre draws its own window size b in 1..window and sees the words at distance <= b on
  both sides, within its sentence; subsampling happens before windowing, so windows close over the
  dropped words.
"""

from __future__ import annotations

import numpy as np
import torch


def keep_probability(counts: np.ndarray, sample: float) -> np.ndarray:
    """P(keep) of each word id under subsampling with threshold `sample` (0 = keep all)."""
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()
    with np.errstate(divide="ignore"):
        keep = (np.sqrt(counts / threshold) + 1) * threshold / counts
    return np.minimum(np.nan_to_num(keep, posinf=1.0), 1.0)


def noise_table(counts: np.ndarray, exponent: float = 0.75) -> tuple[torch.Tensor, torch.Tensor]:
    """Walker's alias table (accept, alias) of the noise distribution counts ** exponent: a draw is
    one uniform slot and one coin whatever the vocabulary size, and exact (no rounding of rare
    words' shares).

    Ours because torch has no O(1) categorical sampler: `torch.multinomial`, and `searchsorted` on
    the cumulative distribution (gensim's `cum_table`), do a binary search per draw, which took a
    fifth of a training step here."""
    counts = np.asarray(counts)
    weights = np.where(counts > 0, counts.astype(np.float64) ** exponent, 0.0)  # 0 ** 0 would be 1
    scaled = weights / weights.sum() * len(weights)
    accept, alias = np.ones(len(weights)), np.arange(len(weights))
    small, large = [i for i, w in enumerate(scaled) if w < 1.0], [i for i, w in enumerate(scaled) if w >= 1.0]
    while small and large:  # Vose's construction: each slot holds one light word and part of a heavy one
        s, g = small.pop(), large.pop()
        accept[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    # slots left over hold 1 up to rounding: they keep their own word (accept 1)
    return torch.from_numpy(accept.astype(np.float32)), torch.from_numpy(alias.astype(np.int64))


def draw_noise(accept: torch.Tensor, alias: torch.Tensor, shape: tuple[int, ...],
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Word ids drawn from the noise distribution of the alias table, on its device."""
    slot = torch.randint(len(accept), shape, generator=generator, device=accept.device)
    coin = torch.rand(shape, generator=generator, device=accept.device)
    return torch.where(coin < accept[slot], slot, alias[slot])


def windows(sentence: torch.Tensor, first: int, last: int, window: int,
            generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The context positions of the centres first..last-1 of a stretch of the stream.

    `sentence` holds each position's sentence index. Returns `positions` (n, 2 * window), the
    position of every candidate context word (left neighbours, then right), and `valid` (n, 2 * window),
    true where that word is inside the centre's drawn window and sentence."""
    device = sentence.device
    centres = torch.arange(first, last, device=device)
    offsets = torch.cat([torch.arange(-window, 0, device=device), torch.arange(1, window + 1, device=device)])
    reach = torch.randint(1, window + 1, (len(centres), 1), generator=generator, device=device)
    positions = centres[:, None] + offsets[None, :]
    inside = (positions >= 0) & (positions < len(sentence))
    positions = positions.clamp(0, len(sentence) - 1)
    valid = inside & (offsets.abs()[None, :] <= reach) & (sentence[positions] == sentence[centres][:, None])
    return positions, valid


def skipgram_pairs(ids: torch.Tensor, sentence: torch.Tensor, first: int, last: int, window: int,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(centre word, context word) id pairs of the centres first..last-1, one per context word."""
    positions, valid = windows(sentence, first, last, window, generator)
    centre = ids[first:last, None].expand_as(positions)
    return centre[valid], ids[positions][valid]


def cbow_contexts(ids: torch.Tensor, sentence: torch.Tensor, first: int, last: int, window: int,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(centre word, context words flattened, context count per centre) of the centres
    first..last-1; centres without any context word (one-word sentences) are left out, as word2vec does."""
    positions, valid = windows(sentence, first, last, window, generator)
    count = valid.sum(1)
    has = count > 0
    return ids[first:last][has], ids[positions][valid], count[has]  # a row without context adds nothing to [valid]
