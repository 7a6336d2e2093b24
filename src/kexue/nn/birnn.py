"""A bidirectional LSTM over right-padded batches that is exact without packed sequences.

Why not `pack_padded_sequence`: on the CPU its backward pass is 6-14x slower than the padded one
(measured, torch 2.13, 2 cores, batch 32 x 330 steps: LSTM 830 ms vs 60 ms, GRU 665 vs 109 ms),
which makes it the bottleneck of a text model's training step. Padded input alone is not exact
either: the backward direction would read the pads before the real words. So the two directions
run as two one-way LSTMs, the backward one on each sequence reversed within its own length; pads
then only ever come after the real words, and the real positions' states do not depend on them."""

from __future__ import annotations

import torch
from torch import nn


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(N, T, ...) with each row's first `lengths[n]` steps reversed, the padding left in place."""
    t = torch.arange(x.shape[1], device=x.device).unsqueeze(0)  # (1, T)
    n = lengths.to(x.device).unsqueeze(1)  # (N, 1)
    idx = torch.where(t < n, n - 1 - t, t)  # (N, T)
    return x.gather(1, idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x))


class BiLSTM(nn.Module):
    """(N, T, in) right-padded with (N,) lengths -> (N, T, 2 * hidden): forward states, then backward."""

    def __init__(self, input_size: int, hidden: int) -> None:
        super().__init__()
        self.fwd = nn.LSTM(input_size, hidden, batch_first=True)
        self.bwd = nn.LSTM(input_size, hidden, batch_first=True)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        f, _ = self.fwd(x)
        b, _ = self.bwd(reverse_padded(x, lengths))
        return torch.cat([f, reverse_padded(b, lengths)], dim=-1)
