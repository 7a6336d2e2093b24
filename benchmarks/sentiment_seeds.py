"""Sentiment over training seeds: how far apart runs of the default model land, and what averaging
their probabilities (an ensemble) gives, on the pipeline's split (data/sentiment/prepared).

The split, vocabulary and params are the pipeline's; only the training seed (initial weights, batch
order, dropout) changes. Each seed trains once with the sentiment-train stage's own function into a
temporary folder; the checkpoint with the best validation accuracy is scored on validation and test.
The committed model (`models/sentiment`: what `dvc repro` trained with the params' `seed`; `dvc status`
says whether it still matches them) joins as one more run. Results are appended as JSON lines to `--out`; `--summary` prints each run, the
mean and standard deviation, and the ensemble of every run in the file.

    PYTHONPATH=src python benchmarks/sentiment_seeds.py --seeds 1 2 3 4
    PYTHONPATH=src python benchmarks/sentiment_seeds.py --summary

The committed `benchmarks/results/sentiment_seeds.jsonl` holds runs of the default before
2026-11-28 (random 128-d word vectors), `sentiment_seeds_w2v.jsonl` those of the word2vec task's
vectors, `sentiment_seeds_reviews.jsonl` those of vectors learnt on the training reviews (the
default since then); runs of other params belong in a file of their own
(`--out benchmarks/results/sentiment_seeds_<name>.jsonl`), as the summary averages every row of one file.
Each new row records the model params it trained with.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from kexue.params import load
from kexue.tasks import TASKS
from kexue.tasks.sentiment.data import load_split
from kexue.tasks.sentiment.evaluate import load_model
from kexue.tasks.sentiment.params import SentimentParams
from kexue.tasks.sentiment.train import train

PREPARED = Path("data/sentiment/prepared")
COMMITTED = Path("models/sentiment")
OUT = Path("benchmarks/results/sentiment_seeds.jsonl")
VECTORS = Path("data/word2vec/vectors.txt")  # read when sentiment.model.pretrained is word2vec


def probs_file(out: Path) -> Path:
    """Per-run probabilities beside `out`, for the ensemble."""
    return out.with_name(f"{out.stem}_probs.npz")


def score(models: Path, batch_size: int) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    module = load_model(models, torch.device("cpu"))
    accuracy, probs = {}, {}
    for split in ("val", "test"):
        seqs, y = load_split(PREPARED, split)
        p = module.probability(seqs, batch_size).numpy()
        accuracy[f"{split}_acc"] = round(float(((p >= 0.5) == y).mean()), 5)
        probs[split] = p.astype(np.float32)
    return accuracy, probs


def save_probs(path: Path, name: str, probs: dict[str, np.ndarray]) -> None:
    old = dict(np.load(path)) if path.exists() else {}
    old.update({f"{name}/{k}": v for k, v in probs.items()})
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **old)
    tmp.replace(path)


def run(seeds: list[int], out: Path) -> None:
    run_params, p = load(Path("params.yaml"), "sentiment", SentimentParams, known_tasks=TASKS)
    out.parent.mkdir(parents=True, exist_ok=True)
    if (COMMITTED / "best.ckpt").is_file() and not any(json.loads(l)["run"] == "committed" for l in _lines(out)):
        accuracy, probs = score(COMMITTED, p.evaluate.batch_size)
        save_probs(probs_file(out), "committed", probs)
        _append(out, {"run": "committed", "seed": run_params.seed, **accuracy, "model": p.model.model_dump()})
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            train(p, run_params.model_copy(update={"seed": seed}), PREPARED, VECTORS, Path(tmp) / "models", Path(tmp) / "live")
            wall = round(time.perf_counter() - start, 1)
            accuracy, probs = score(Path(tmp) / "models", p.evaluate.batch_size)
        save_probs(probs_file(out), f"seed{seed}", probs)
        _append(out, {"run": f"seed{seed}", "seed": seed, **accuracy, "train_wall_time_s": wall, "model": p.model.model_dump()})


def summary(out: Path) -> None:
    rows = [json.loads(l) for l in _lines(out)]
    for r in rows:
        print(f"{r['run']:>10}  val {r['val_acc']:.2%}  test {r['test_acc']:.2%}")
    for split in ("val", "test"):
        acc = [r[f"{split}_acc"] for r in rows]
        sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
        print(f"{split}: mean {statistics.mean(acc):.2%}, sd {sd:.2%}, min {min(acc):.2%}, max {max(acc):.2%} over {len(acc)} runs")
    probs = np.load(probs_file(out))
    for split in ("val", "test"):
        _, y = load_split(PREPARED, split)
        mean = np.mean([probs[f"{r['run']}/{split}"] for r in rows], axis=0)
        print(f"ensemble of {len(rows)} (mean probability), {split}: {((mean >= 0.5) == y).mean():.2%}")


def _lines(path: Path) -> list[str]:
    return [l for l in path.read_text().splitlines() if l.strip()] if path.exists() else []


def _append(path: Path, row: dict) -> None:
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3, 4])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--summary", action="store_true", help="print the results in --out and stop")
    args = parser.parse_args()
    if not args.summary:
        run(args.seeds, args.out)
    summary(args.out)


if __name__ == "__main__":
    main()
