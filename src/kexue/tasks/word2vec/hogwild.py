"""Skip-gram in word2vec.c's own update order on the GPU: a Triton kernel in which each program
trains one stretch of the stream centre after centre, context after context, as word2vec.c's inner
loop does, while many programs run side by side without locks (Hogwild, as word2vec.c's and
gensim's worker threads do, only more of them: `word2vec.train.parallel`).

Why a kernel of ours: the batched update of model.py sums the changes of a word's occurrences in
one update, so on a GPU it must stay small (500 stream words) to keep its quality, and then each
update costs ~2 ms of launches and host syncs (benchmarks/results/gpu_h100: 0.14x gensim's speed).
No library offers word2vec on torch tensors on a GPU.

Per program p (the centres starts[p]..ends[p]-1 of the stretch), for each centre i and each context
position within its drawn window `reach[i]` and its sentence, with h = w_in[context] and the
targets t_k = (centre, noise words...):
  g_k = alpha * (label_k - sigmoid(h . w_out[t_k]))   (label 1 for the centre; a noise word equal to it is skipped)
  w_out[t_k] += g_k * h,   w_in[context] += sum_k g_k * w_out[t_k]
The pair's target rows are read at once, before its updates: word2vec.c reads them one by one,
which differs only when a noise word is drawn twice for one pair. Updates are added atomically, so
no update is lost when two programs change the same row at once; plain stores lost enough of them
to cost 3-4 analogy points at 256+ programs (benchmarks/results/gpu_h200). Within a program every
read sees the program's earlier updates (a test checks the kernel against word2vec.c's loop
written out in numpy); between programs, reads can be stale, as between word2vec.c's threads.

alpha decays as word2vec.c's threads see it: all programs advance together through the launch's
stream words, so at a fraction f of its stretch a program uses alpha at `base + f * span` words of
the run's `total`. The windows and noise words are drawn by torch (model.py), so the draws follow
the run's seeded generator; the order of atomic additions makes GPU runs differ slightly from run
to run. The loss of every pair is summed into `loss` (sum, pairs) for the epoch's log and
divergence check.
"""

from __future__ import annotations

import os

import torch

try:
    import triton
    import triton.language as tl
except ImportError:  # CPU-only installs: the torch update (model.py) is used there
    triton = None


def available() -> bool:
    """Whether the kernel can run: Triton is installed (it comes with torch's CUDA builds)."""
    return triton is not None


if triton is not None:

    @triton.jit(do_not_specialize=["n", "longest"])  # they change every launch: no recompiles for their divisibility
    def _skipgram_kernel(ids, sentence, reach, noise, w_in, w_out, starts, ends, loss, n, dim, longest,
                         alpha0, alpha1, base, span, total,
                         WINDOW: tl.constexpr, NEGATIVE: tl.constexpr, SHARED: tl.constexpr, BLOCK: tl.constexpr,
                         LONGEST: tl.constexpr, TARGETS: tl.constexpr):
        p = tl.program_id(0)
        start = tl.load(starts + p)
        end = tl.load(ends + p)
        d = tl.arange(0, BLOCK)
        in_dim = d < dim
        loss_sum = tl.sum(tl.zeros([BLOCK], dtype=tl.float32), axis=0)  # fp32 scalars, carried through the loops
        pairs = tl.sum(tl.zeros([BLOCK], dtype=tl.float32), axis=0)
        # `longest` iterations, past its own end masked: all programs run at once, so the launch lasts the
        # longest either way. Triton 3.6's interpreter (the CPU tests) takes a loop bound as a constexpr only.
        for j in range(0, LONGEST if LONGEST > 0 else longest):
            live = start + j < end
            i = tl.minimum(start + j, n - 1)
            frac = (j * 1.0) / tl.maximum(end - start, 1).to(tl.float32)
            alpha = alpha0 - (alpha0 - alpha1) * tl.minimum((base + frac * span) / total, 1.0)
            centre = tl.load(ids + i)
            sent = tl.load(sentence + i)
            b = tl.load(reach + i)
            for o in tl.static_range(2 * WINDOW):  # left neighbours, then right, as sampling.windows
                if o < WINDOW:
                    dist = WINDOW - o
                    pos = i - dist
                else:
                    dist = o - WINDOW + 1
                    pos = i + dist
                ok = live & (pos >= 0) & (pos < n) & (dist <= b)
                pos = tl.minimum(tl.maximum(pos, 0), n - 1)
                ok = ok & (tl.load(sentence + pos) == sent)
                context = tl.load(ids + pos)
                h = tl.load(w_in + context.to(tl.int64) * dim + d, mask=in_dim & ok, other=0.0)
                # the pair's targets, the centre first: their rows read at once, their updates added atomically
                k = tl.arange(0, TARGETS)
                noise_at = (i * NEGATIVE + k - 1) if SHARED else ((i * 2 * WINDOW + o) * NEGATIVE + k - 1)
                target = tl.load(noise + noise_at, mask=(k >= 1) & (k <= NEGATIVE), other=0)
                target = tl.where(k == 0, centre, target)
                use = ok & (k <= NEGATIVE) & ((k == 0) | (target != centre))
                rows = target.to(tl.int64)[:, None] * dim + d[None, :]
                both = use[:, None] & in_dim[None, :]
                u = tl.load(w_out + rows, mask=both, other=0.0)
                score = tl.sum(u * h[None, :], axis=1)
                sign = tl.where(k == 0, 1.0, -1.0)
                # label - sigmoid(score) = sign * sigmoid(-sign * score), for label 1 (sign 1) or 0 (sign -1)
                g = tl.where(use, sign * tl.sigmoid(-sign * score) * alpha, 0.0)
                tl.atomic_add(w_out + rows, g[:, None] * h[None, :], mask=both, sem="relaxed")
                tl.atomic_add(w_in + context.to(tl.int64) * dim + d, tl.sum(g[:, None] * u, axis=0), mask=in_dim & ok,
                              sem="relaxed")
                x = sign * score  # the pair's loss: -log sigmoid(x) of each target, computed stably
                loss_sum += tl.sum(tl.where(use, tl.maximum(-x, 0.0) + tl.log(1.0 + tl.exp(-tl.abs(x))), 0.0), axis=0)
                pairs += tl.where(ok, 1.0, 0.0)
        tl.atomic_add(loss, loss_sum)
        tl.atomic_add(loss + 1, pairs)


def skipgram(ids: torch.Tensor, sentence: torch.Tensor, reach: torch.Tensor, noise: torch.Tensor,
             w_in: torch.Tensor, w_out: torch.Tensor, starts: torch.Tensor, ends: torch.Tensor,
             alpha: float, min_alpha: float, base: int, span: int, total: int, window: int) -> torch.Tensor:
    """Train the centres starts[p]..ends[p]-1 of the stretch (`ids`, `sentence`), one program per p.

    `reach` (n,) is each position's drawn window, `noise` the noise words: (n, negative) shared by a
    centre's contexts, or (n, 2 * window, negative), one set per pair. The tables are updated in
    place. Returns (loss sum, pairs) as a tensor on the device, not synchronised."""
    if triton is None:
        raise RuntimeError("the word2vec kernel needs Triton (installed with torch's CUDA builds); use word2vec.train.kernel: torch")
    shared = noise.dim() == 2
    for t in (ids, sentence, reach, noise, w_in, w_out, starts, ends):
        if not t.is_contiguous():
            raise ValueError("word2vec kernel: every tensor must be contiguous")
    loss = torch.zeros(2, dtype=torch.float32, device=w_in.device)
    longest = int((ends - starts).max())  # one host sync per launch
    _skipgram_kernel[(len(starts),)](
        ids, sentence, reach, noise, w_in, w_out, starts, ends, loss, len(ids), w_in.shape[1], longest,
        float(alpha), float(min_alpha), float(base), float(span), float(max(1, total)),
        WINDOW=window, NEGATIVE=noise.shape[-1], SHARED=shared, BLOCK=triton.next_power_of_2(w_in.shape[1]),
        LONGEST=longest if os.environ.get("TRITON_INTERPRET") == "1" else 0,
        TARGETS=triton.next_power_of_2(noise.shape[-1] + 1),
        num_warps=1,
    )
    return loss
