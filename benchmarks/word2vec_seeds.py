"""Word2vec quality over seeds: ours and gensim's analogy accuracy and alias retrieval, one training per
(model, seed), on the prepared corpus of the pipeline (data/word2vec/prepared).

One run of each differs from the next by 1-2 points of analogy accuracy, as much as ours differs from
gensim's, so "at least gensim's quality" is read off the means over several seeds. Each (model, seed)
runs in its own process (`--which ours|gensim`), so two can share the two cores; results are appended
as JSON lines to `--out`, and `--summary` prints mean and standard deviation per model and setting.

    python benchmarks/word2vec_seeds.py --which ours --seeds 1 2 3 --set train.batch_words=500
    python benchmarks/word2vec_seeds.py --summary
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from kexue.params import RunParams, load
from kexue.tasks import TASKS
from kexue.tasks.word2vec import quality
from kexue.tasks.word2vec.data import Corpus
from kexue.tasks.word2vec.evaluate import load_keyed_vectors
from kexue.tasks.word2vec.params import Word2VecParams
from kexue.tasks.word2vec.reference import train_gensim
from kexue.tasks.word2vec.train import train
from kexue.text.vectors import save_text

PREPARED = Path("data/word2vec/prepared")
OUT = Path("benchmarks/results/word2vec_seeds.jsonl")


def with_overrides(p: Word2VecParams, overrides: list[str]) -> Word2VecParams:
    """`train.batch_words=500`-style overrides (values read as YAML) applied to the task params."""
    data = p.model_dump()
    for item in overrides:
        key, _, value = item.partition("=")
        *parents, leaf = key.split(".")
        node = data
        for k in parents:
            node = node[k]
        if leaf not in node:
            raise SystemExit(f"--set {item}: no key {key!r} in word2vec's params")
        node[leaf] = yaml.safe_load(value)
    return Word2VecParams.model_validate(data)


def quality_of(vectors: Path, work: Path, topn: int) -> dict[str, float]:
    kv = load_keyed_vectors(vectors)
    categories = quality.read_pairs()
    questions = work / "analogy_questions.txt"
    quality.write_questions(categories, questions)
    analogy = quality.analogy_accuracy(kv, questions)["all"]["accuracy"]
    alias = quality.alias_retrieval(kv, categories, topn)["hit_rate"]
    return {"analogy_acc": analogy, "alias_hit": alias}


def run_one(which: str, seed: int, run: RunParams, p: Word2VecParams, overrides: list[str]) -> dict:
    run = run.model_copy(update={"seed": seed})
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        if which == "ours":
            p = p.model_copy(update={"train": p.train.model_copy(update={"gensim": False})})
            train(p, run, PREPARED, work / "models", work / "live", work / "vectors.txt", work / "reference")
            vectors = work / "vectors.txt"
        else:
            ref = train_gensim(p, Corpus(PREPARED), seed)
            vectors = work / "vectors.txt"
            save_text(vectors, ref.words, ref.matrix)
        seconds = time.perf_counter() - start
        return {"which": which, "seed": seed, "set": sorted(overrides) if which == "ours" else [],
                **quality_of(vectors, work, p.evaluate.topn), "seconds": round(seconds, 1),
                # the values in force, so a row stays readable after params.yaml changes
                "model": p.model.model_dump(), "train": p.train.model_dump(exclude={"gensim"})}


def summary(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["which"], " ".join(r["set"])), []).append(r)
    for (which, setting), rs in sorted(groups.items()):
        line = f"{which:6s} {setting or '(params.yaml)':30s} n={len(rs)}"
        for key in ("analogy_acc", "alias_hit"):
            xs = [r[key] for r in rs]
            sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
            line += f"  {key} {100 * statistics.mean(xs):5.2f} ± {100 * sd:4.2f}"
        print(line + f"  seeds {sorted(r['seed'] for r in rs)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--which", choices=["ours", "gensim"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="a word2vec param, e.g. train.batch_words=500")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--summary", action="store_true", help="print mean ± sd per model and setting from --out")
    args = ap.parse_args()
    if args.summary:
        summary(args.out)
        return
    if not args.which:
        ap.error("--which ours|gensim (or --summary)")
    run, p = load(Path("params.yaml"), "word2vec", Word2VecParams, TASKS)
    p = with_overrides(p, args.overrides)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        row = run_one(args.which, seed, run, p, args.overrides)
        print(json.dumps(row), flush=True)
        with args.out.open("a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
