"""Training-step time of the sentiment classifier: `nn.LSTM` on packed sequences with the default
(foreach) AdamW, the model as it was at commit 3c8f8b0 (read from git), against the current one
(`nn/birnn.py` BiLSTM on right-padded batches, fused AdamW). Real length-bucketed training batches
of the pipeline's prepared reviews; the median of 50 steps after 10 warm-up ones, two rounds.

    PYTHONPATH=src python benchmarks/sentiment_lstm_step.py
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from kexue.tasks.sentiment.data import load_split
from kexue.tasks.sentiment.model import SentimentClassifier
from kexue.tasks.sentiment.params import SentimentParams
from kexue.text.batching import BucketBatchSampler, pad_batch

BEFORE = "3c8f8b0"  # the last commit with the packed LSTM
PREPARED = Path("data/sentiment/prepared")


def model_before() -> type:
    source = subprocess.run(["git", "show", f"{BEFORE}:src/kexue/tasks/sentiment/model.py"], capture_output=True,
                            text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "model_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("model_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SentimentClassifier


def median_step_ms(module: torch.nn.Module, fused: bool, seqs: list[list[int]], y, batches: list[list[int]]) -> float:
    opt = torch.optim.AdamW(module.parameters(), lr=1e-3, fused=fused)
    module.train()
    times = []
    for b in batches:
        ids, lengths = pad_batch([seqs[i] for i in b], max_len=200)
        start = time.perf_counter()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(module(ids, lengths), torch.tensor(y[b]).float())
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    timed = sorted(times[10:])
    return timed[len(timed) // 2] * 1000


def main() -> None:
    p = SentimentParams()
    seqs, y = load_split(PREPARED, "train")
    batches = list(BucketBatchSampler([len(s) for s in seqs], p.train.batch_size, seed=0, shuffle=True))[:60]
    vocab = max(max(s) for s in seqs) + 1
    before = model_before()
    torch.manual_seed(0)
    for round_ in range(2):
        old = median_step_ms(before(vocab, p.model.model_dump(), p.train.model_dump()), False, seqs, y, batches)
        new = median_step_ms(SentimentClassifier(vocab, p.model.model_dump(), p.train.model_dump()), True, seqs, y, batches)
        print(f"round {round_}: packed nn.LSTM + foreach AdamW {old:.1f} ms/step, "
              f"BiLSTM + fused AdamW {new:.1f} ms/step, ratio {old / new:.2f}")


if __name__ == "__main__":
    sys.exit(main())
