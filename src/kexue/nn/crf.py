"""A linear-chain CRF layer (果壳中的条件随机场): per-position tag scores from any encoder plus a
learnt tag-to-tag transition matrix; trained by the negative log-likelihood of the gold path
(its score minus the log-partition, computed by the forward algorithm), decoded by Viterbi.

Batched and masked: `mask` (N, T) is True on real positions and must be a prefix per sequence
(padding only at the end), so each sequence's score, partition and best path ignore its padding.

Ours rather than a library's: pytorch-crf (the usual choice) last released in February 2019 (0.7.2)
and runs the same per-time-step Python loops; keeping the ~100 lines here makes the algorithm
readable next to the post and testable against brute force (tests/test_crf.py).
"""

from __future__ import annotations

import torch
from torch import nn


class CRF(nn.Module):
    def __init__(self, num_tags: int) -> None:
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"num_tags must be >= 1, got {num_tags}")
        self.num_tags = num_tags
        # transitions[i, j]: score of tag j following tag i; start/end: first/last tag scores
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))
        self.start = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))
        self.end = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))

    @staticmethod
    def _check(emissions: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if emissions.ndim != 3:
            raise ValueError(f"emissions must be (batch, time, tags), got shape {tuple(emissions.shape)}")
        if mask is None:
            return torch.ones(emissions.shape[:2], dtype=torch.bool, device=emissions.device)
        if mask.shape != emissions.shape[:2]:
            raise ValueError(f"mask shape {tuple(mask.shape)} does not match emissions {tuple(emissions.shape[:2])}")
        if emissions.shape[1] and not bool(mask[:, 0].all()):
            raise ValueError("every sequence needs at least one real position (mask[:, 0] all True)")
        return mask.bool()

    def path_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(N,) score of the tag paths `tags` (N, T): start + emissions + transitions + end."""
        mask = self._check(emissions, mask)
        m = mask.to(emissions.dtype)
        emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (N, T)
        score = self.start[tags[:, 0]] + (emit * m).sum(1)
        if tags.shape[1] > 1:
            trans = self.transitions[tags[:, :-1], tags[:, 1:]]  # (N, T-1)
            score = score + (trans * m[:, 1:]).sum(1)
        last = tags.gather(1, (mask.sum(1) - 1).unsqueeze(1)).squeeze(1)
        return score + self.end[last]

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(N,) log of the sum over all tag paths of exp(score): the forward algorithm."""
        mask = self._check(emissions, mask)
        alpha = self.start + emissions[:, 0]  # (N, K): log-sum over paths ending in each tag
        for t in range(1, emissions.shape[1]):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + self.transitions + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)  # padding: carry alpha unchanged
        return torch.logsumexp(alpha + self.end, dim=1)

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(N,) negative log-likelihood of the gold paths: log Z - score(gold)."""
        return self.log_partition(emissions, mask) - self.path_score(emissions, tags, mask)

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> list[list[int]]:
        """Viterbi: the highest-scoring tag path of each sequence, cut to its true length."""
        mask = self._check(emissions, mask)
        n, steps, _ = emissions.shape
        if steps == 0:
            return [[] for _ in range(n)]
        score = self.start + emissions[:, 0]
        back = []
        for t in range(1, steps):
            cand = score.unsqueeze(2) + self.transitions  # (N, from, to)
            best, idx = cand.max(dim=1)
            nxt = best + emissions[:, t]
            keep = mask[:, t].unsqueeze(1)
            score = torch.where(keep, nxt, score)
            # on padding, each tag points back to itself so the path passes through unchanged
            same = torch.arange(self.num_tags, device=emissions.device).expand_as(idx)
            back.append(torch.where(keep, idx, same))
        last = (score + self.end).argmax(dim=1)
        path = [last]
        for idx in reversed(back):
            last = idx.gather(1, last.unsqueeze(1)).squeeze(1)
            path.append(last)
        full = torch.stack(path[::-1], dim=1).tolist()  # (N, T)
        lengths = mask.sum(1).tolist()
        return [row[:length] for row, length in zip(full, lengths)]
