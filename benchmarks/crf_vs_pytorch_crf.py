"""Our CRF layer (src/kexue/nn/crf.py) against pytorch-crf 0.7.2, the usual library: the same
log-likelihoods and Viterbi paths on a padded random batch, and the time of a training step
(negative log-likelihood forward + backward) and of decoding, median of several rounds.

    pip install pytorch-crf==0.7.2   # a benchmark-only dependency
    python benchmarks/crf_vs_pytorch_crf.py [--batch 64] [--length 60] [--tags 4] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

from kexue.nn.crf import CRF


def timed(fn, repeat: int) -> float:
    """Seconds per call: the median of `repeat` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--length", type=int, default=60)
    parser.add_argument("--tags", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    try:
        import torchcrf
    except ImportError:
        sys.exit("pytorch-crf is not installed: pip install pytorch-crf==0.7.2")

    torch.manual_seed(0)
    ours = CRF(args.tags)
    theirs = torchcrf.CRF(args.tags, batch_first=True)
    with torch.no_grad():  # the same parameters (both: transitions[i, j] = score of i -> j)
        theirs.transitions.copy_(ours.transitions)
        theirs.start_transitions.copy_(ours.start)
        theirs.end_transitions.copy_(ours.end)
    n, t = args.batch, args.length
    emissions = torch.randn(n, t, args.tags, requires_grad=True)
    tags = torch.randint(args.tags, (n, t))
    lengths = torch.randint(1, t + 1, (n,))
    lengths[0] = t
    mask = torch.arange(t) < lengths.unsqueeze(1)

    ll_ours = -ours.nll(emissions, tags, mask)
    ll_theirs = theirs(emissions, tags, mask, reduction="none")
    same_paths = ours.decode(emissions.detach(), mask) == theirs.decode(emissions.detach(), mask)

    def step(crf_loss):
        return lambda: crf_loss().sum().backward()

    result = {
        "batch": n, "length": t, "tags": args.tags, "threads": torch.get_num_threads(),
        "max_abs_loglik_difference": float((ll_ours - ll_theirs).abs().max().detach()),
        "same_viterbi_paths": same_paths,
        "train_step_ms": {
            "ours": 1e3 * timed(step(lambda: ours.nll(emissions, tags, mask)), args.rounds),
            "pytorch_crf": 1e3 * timed(step(lambda: -theirs(emissions, tags, mask, reduction="none")), args.rounds),
        },
        "decode_ms": {
            "ours": 1e3 * timed(lambda: ours.decode(emissions.detach(), mask), args.rounds),
            "pytorch_crf": 1e3 * timed(lambda: theirs.decode(emissions.detach(), mask), args.rounds),
        },
    }
    for key in ("train_step_ms", "decode_ms"):
        result[key] = {k: round(v, 2) for k, v in result[key].items()}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
