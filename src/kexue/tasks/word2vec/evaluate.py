"""Stage 4: our vectors and gensim's side by side: training words/s, the intrinsic quality measure
(quality.py: analogies and alias retrieval built from the corpus), the overlap of their nearest
neighbours for the most frequent words, and a 2-D PCA picture of frequent words.

Both vector files are read with gensim's `KeyedVectors.load_word2vec_format`, so every run also
checks that our export is the standard format.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pandas as pd

from kexue import files, plots
from kexue.tasks.word2vec import quality
from kexue.tasks.word2vec.data import Corpus
from kexue.tasks.word2vec.params import Word2VecParams
from kexue.tasks.word2vec.projection import pca_png
from kexue.tasks.word2vec.train import REFERENCE_TIMING, REFERENCE_VECTORS, SUMMARY

log = logging.getLogger(__name__)


def read_json(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run the word2vec-train stage first")
    return json.loads(path.read_text())


def load_keyed_vectors(path: Path):
    from gensim.models import KeyedVectors

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: missing; run the word2vec-train stage first")
    return KeyedVectors.load_word2vec_format(str(path), binary=False)


def neighbour_overlap(a, b, words: list[str], topn: int) -> pd.DataFrame:
    """Per word: the share of its `topn` nearest neighbours that the two models have in common."""
    rows = []
    for w in words:
        na, nb = [x for x, _ in a.most_similar(w, topn=topn)], [x for x, _ in b.most_similar(w, topn=topn)]
        rows.append({"word": w, "overlap": len(set(na) & set(nb)) / topn, "ours": " ".join(na), "gensim": " ".join(nb)})
    return pd.DataFrame(rows)


def evaluate(p: Word2VecParams, prepared: Path, vectors: Path, reference: Path, models: Path, metrics: Path, plots_dir: Path) -> None:
    """Stage 4: ours (`vectors`, `models`/summary.json) against gensim (`reference`) -> `metrics` and `plots_dir`."""
    start = time.perf_counter()
    plots.cjk_font()  # no font for the PCA picture: say so now, before any output is written
    e, plots_dir = p.evaluate, Path(plots_dir)
    corpus = Corpus(prepared)
    words = corpus.words()  # most frequent first
    ours_time = read_json(Path(models) / SUMMARY)
    gensim_time = read_json(Path(reference) / REFERENCE_TIMING)
    kvs = {"ours": load_keyed_vectors(vectors)}
    if gensim_time.get("trained"):
        kvs["gensim"] = load_keyed_vectors(Path(reference) / REFERENCE_VECTORS)

    categories = quality.read_pairs()
    questions = plots_dir / "analogy_questions.txt"
    quality.write_questions(categories, questions)
    analogy = {name: quality.analogy_accuracy(kv, questions) for name, kv in kvs.items()}
    alias = {name: quality.alias_retrieval(kv, categories, e.topn) for name, kv in kvs.items()}
    both = "gensim" in kvs

    result: dict[str, object] = {
        "arch": p.model.arch,
        "epochs": p.train.epochs,
        "corpus_words": ours_time.get("stream_words"),
        "vocab_size": len(words),
        "analogy_acc": analogy["ours"]["all"]["accuracy"],
        "gensim_analogy_acc": analogy["gensim"]["all"]["accuracy"] if both else None,
        "analogy_questions": analogy["ours"]["all"]["questions"],
        "alias_hit": alias["ours"]["hit_rate"],
        "gensim_alias_hit": alias["gensim"]["hit_rate"] if both else None,
        "alias_directions": alias["ours"]["directions"],
        "words_per_s": ours_time.get("words_per_s"),
        "gensim_words_per_s": gensim_time.get("words_per_s"),
        "speed_ratio": None,
        "words_per_cpu_s": ours_time.get("words_per_cpu_s"),
        "gensim_words_per_cpu_s": gensim_time.get("words_per_cpu_s"),
        "cpu_speed_ratio": None,
        "train_seconds": ours_time.get("train_seconds"),
        "gensim_train_seconds": gensim_time.get("train_seconds"),
        "train_device": ours_time.get("device"),
        "kernel": ours_time.get("kernel"),
        "threads": ours_time.get("threads"),
        "gensim_version": gensim_time.get("gensim"),
        "neighbour_overlap": None,
    }
    for ratio, key in (("speed_ratio", "words_per_s"), ("cpu_speed_ratio", "words_per_cpu_s")):
        if both and result[key] and result[f"gensim_{key}"]:
            result[ratio] = round(result[key] / result[f"gensim_{key}"], 3)
    if both:
        overlap = neighbour_overlap(kvs["ours"], kvs["gensim"], words[: e.overlap_words], e.topn)
        result["neighbour_overlap"] = round(float(overlap["overlap"].mean()), 4)
        files.write_csv(overlap, plots_dir / "neighbour_overlap.csv")
    per_category = pd.DataFrame([
        {"category": c, "questions": analogy["ours"][c]["questions"], **{name: analogy[name][c]["accuracy"] for name in kvs}}
        for c in analogy["ours"] if c != "all"
    ])
    result["per_category"] = per_category.set_index("category").to_dict(orient="index")
    result["eval_wall_time_s"] = round(time.perf_counter() - start, 2)
    files.write_json(metrics, result)
    files.write_csv(per_category, plots_dir / "analogy.csv")
    plots.bars_png(per_category["category"].tolist(), {name: per_category[name].fillna(0).tolist() for name in kvs},
                   plots_dir / "analogy.png", f"analogy accuracy (3CosAdd) per category, {p.model.arch}, {p.train.epochs} epochs",
                   "accuracy")
    shown = words[e.pca_skip : e.pca_skip + e.pca_words]
    pca_png({name: (shown, kv[shown]) for name, kv in kvs.items()}, corpus.main_source(), plots_dir / "pca.png",
            f"PCA of the vectors of {len(shown)} frequent words (ranks {e.pca_skip + 1}-{e.pca_skip + len(shown)})")
    log.info("analogy accuracy: ours %s, gensim %s; words/s: ours %s, gensim %s -> %s", result["analogy_acc"],
             result["gensim_analogy_acc"], result["words_per_s"], result["gensim_words_per_s"], metrics)
