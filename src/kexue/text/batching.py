"""Padding and length bucketing for variable-length token sequences.

torch has no bucketing sampler of its own; this one sorts indices by length inside random pools of
`pool` batches, so each batch holds similar lengths (little padding) while the order of batches
stays random, seeded, and new each epoch."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int = 0, max_len: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, T) int64 ids padded with `pad_id` on the right, and the (N,) true lengths (>= 1: an empty
    sequence becomes one pad token). `max_len` > 0 truncates."""
    seqs = [list(s[:max_len] if max_len else s) for s in sequences]
    lengths = torch.tensor([max(1, len(s)) for s in seqs], dtype=torch.long)
    out = torch.full((len(seqs), int(lengths.max()) if len(seqs) else 0), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out, lengths


class EpochShuffle(Sampler[int]):
    """0..n-1 in a seeded order that changes with the epoch (`set_epoch`).

    Lightning calls `set_epoch` before every epoch on a DataLoader's `sampler` and on its
    `batch_sampler.sampler`, never on the batch sampler itself; BucketBatchSampler keeps one of these
    as its `.sampler`, which is how the epoch reaches it (and how a resumed run gets its epoch's order)."""

    def __init__(self, n: int, seed: int = 0) -> None:
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 100003 + self.epoch)

    def __iter__(self) -> Iterator[int]:
        return iter(torch.randperm(self.n, generator=self.generator()).tolist())

    def __len__(self) -> int:
        return self.n


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices with similar `lengths`; a new seeded shuffle every epoch, the epoch coming
    from Lightning through `.sampler` (an EpochShuffle) or from `set_epoch`."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int = 0, pool: int = 50, drop_last: bool = False, shuffle: bool = True) -> None:
        self.lengths = list(lengths)
        self.batch_size, self.seed, self.pool, self.drop_last, self.shuffle = batch_size, seed, pool, drop_last, shuffle
        self.sampler = EpochShuffle(len(self.lengths), seed)

    @property
    def epoch(self) -> int:
        return self.sampler.epoch

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[list[int]]:
        n = len(self.lengths)
        if not self.shuffle:
            order = sorted(range(n), key=lambda i: self.lengths[i])
            yield from self._batches(order)
            return
        g = self.sampler.generator()  # the sampler's order; the same generator then shuffles the batches
        order = torch.randperm(n, generator=g).tolist()
        size = self.batch_size * self.pool
        batches: list[list[int]] = []
        for start in range(0, n, size):
            chunk = sorted(order[start : start + size], key=lambda i: self.lengths[i])
            batches.extend(self._batches(chunk))
        for k in torch.randperm(len(batches), generator=g).tolist():
            yield batches[k]

    def _batches(self, order: list[int]) -> list[list[int]]:
        out = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.drop_last and out and len(out[-1]) < self.batch_size:
            out.pop()
        return out

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
