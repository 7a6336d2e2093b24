"""Sentiment over training seeds: how far apart runs of the default model land, and what averaging
their probabilities (an ensemble) gives, on the pipeline's split (data/sentiment/prepared).

The split, vocabulary and params are the pipeline's; only the training seed (initial weights, batch
order, dropout) changes. Each seed trains once with the sentiment-train stage's own function into a
temporary folder; the checkpoint with the best validation accuracy is scored on validation and test.
The committed model (`models/sentiment`: what `dvc repro` trained with the params' `seed`; `dvc status`
says whether it still matches them; with `ensemble` > 1 its first member) joins as one more run,
unless `--set` changes the params. Results are appended as JSON lines to `--out`; `--summary` prints
each run, the mean and standard deviation, and the ensembles of the first 2, 3, ... runs in the file.

    PYTHONPATH=src python benchmarks/sentiment_seeds.py --seeds 1 2 3 4
    PYTHONPATH=src python benchmarks/sentiment_seeds.py --summary
    PYTHONPATH=src python benchmarks/sentiment_seeds.py --seeds 42 --set model.dropout=0.5 \
        --out benchmarks/results/sentiment_seeds_model_dropout_0_5.jsonl   # a variant

The committed `benchmarks/results/sentiment_seeds.jsonl` holds runs of the default before
2026-11-28 (random 128-d word vectors), `sentiment_seeds_w2v.jsonl` those of the word2vec task's
vectors, `sentiment_seeds_reviews.jsonl` those of vectors learnt on the training reviews (the
default since then), `sentiment_seeds_bilstm.jsonl` those of the same model without packed sequences
(2026-12-04: the ensemble's size was chosen on its validation rows), and
`sentiment_seeds_<key>_<value>.jsonl` single-seed variants of it (`--set`); runs of other params belong in a file of their own
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
import yaml

from kexue.params import load
from kexue.tasks import TASKS
from kexue.tasks.sentiment.data import load_split, preprocess
from kexue.tasks.sentiment.evaluate import load_model
from kexue.tasks.sentiment.params import SentimentParams
from kexue.tasks.sentiment.train import train

RAW = Path("data/sentiment/raw")
PREPARED = Path("data/sentiment/prepared")
COMMITTED = Path("models/sentiment")
OUT = Path("benchmarks/results/sentiment_seeds.jsonl")
VECTORS = Path("data/word2vec/vectors.txt")  # read when sentiment.model.pretrained is word2vec


def probs_file(out: Path) -> Path:
    """Per-run probabilities beside `out`, for the ensemble."""
    return out.with_name(f"{out.stem}_probs.npz")


def score(models: Path, batch_size: int, prepared: Path = PREPARED) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    module = load_model(models, torch.device("cpu"))
    accuracy, probs = {}, {}
    for split in ("val", "test"):
        seqs, y = load_split(prepared, split)
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


def with_settings(p: SentimentParams, settings: list[str]) -> SentimentParams:
    """`p` with `KEY=VALUE` settings applied (KEY under the sentiment section, as `model.dropout`;
    VALUE read as YAML), validated as params.yaml would be."""
    tree = p.model_dump()
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep:
            raise SystemExit(f"--set {setting!r}: expected KEY=VALUE, as model.dropout=0.5")
        *path, leaf = key.split(".")
        node = tree
        for part in path:
            node = node[part]
        node[leaf] = yaml.safe_load(value)
    return SentimentParams.model_validate(tree)


def run(seeds: list[int], out: Path, settings: list[str]) -> None:
    run_params, p = load(Path("params.yaml"), "sentiment", SentimentParams, known_tasks=TASKS)
    p = with_settings(p, settings)
    # one model per seed (the ensembles are made below, from the rows); "committed" is the
    # pipeline's first member, the model trained with the params' seed
    p = p.model_copy(update={"train": p.train.model_copy(update={"ensemble": 1})})
    out.parent.mkdir(parents=True, exist_ok=True)
    if not settings and (COMMITTED / "best.ckpt").is_file() and not any(json.loads(l)["run"] == "committed" for l in _lines(out)):
        accuracy, probs = score(COMMITTED, p.evaluate.batch_size)
        save_probs(probs_file(out), "committed", probs)
        _append(out, {"run": "committed", "seed": run_params.seed, **accuracy, "model": p.model.model_dump()})
    with tempfile.TemporaryDirectory() as data_tmp:
        prepared = PREPARED
        if any(s.startswith("data.") for s in settings):
            # the data params changed: prepare the reviews again (the same split), into a temporary folder
            prepared = Path(data_tmp) / "prepared"
            preprocess(p, run_params, RAW, prepared)
        for seed in seeds:
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                train(p, run_params.model_copy(update={"seed": seed}), prepared, VECTORS, Path(tmp) / "models", Path(tmp) / "live")
                wall = round(time.perf_counter() - start, 1)
                accuracy, probs = score(Path(tmp) / "models", p.evaluate.batch_size, prepared)
            _record(out, seed, accuracy, probs, wall, p, settings)


def _record(out: Path, seed: int, accuracy: dict, probs: dict, wall: float, p: SentimentParams, settings: list[str]) -> None:
    save_probs(probs_file(out), f"seed{seed}", probs)
    _append(out, {"run": f"seed{seed}", "seed": seed, **accuracy, "train_wall_time_s": wall, "model": p.model.model_dump(),
                  **({"settings": settings} if settings else {})})


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
        # the first k runs averaged, k = 2 .. all: how the ensemble's score grows with its size
        for k in range(2, len(rows) + 1):
            mean = np.mean([probs[f"{r['run']}/{split}"] for r in rows[:k]], axis=0)
            print(f"ensemble of the first {k} (mean probability), {split}: {((mean >= 0.5) == y).mean():.2%}")


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
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="change a sentiment param for these runs (as model.dropout=0.5; repeatable); "
                             "give such runs an --out of their own")
    parser.add_argument("--summary", action="store_true", help="print the results in --out and stop")
    args = parser.parse_args()
    if not args.summary:
        run(args.seeds, args.out, args.settings)
    summary(args.out)


if __name__ == "__main__":
    main()
