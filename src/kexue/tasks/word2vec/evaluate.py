"""Stage 4: our vectors and gensim's side by side: training words/s, the intrinsic quality measure
(quality.py: analogies and alias retrieval built from the corpus), the overlap of their nearest
neighbours for the most frequent words, and a 2-D PCA picture of frequent words.

Both vector files are read with gensim's `KeyedVectors.load_word2vec_format`, so every run also
checks that our export is the standard format.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kexue import files, plots
from kexue.tasks.word2vec import quality
from kexue.tasks.word2vec.data import Corpus
from kexue.tasks.word2vec.params import Word2VecParams
from kexue.tasks.word2vec.projection import pca_png
from kexue.tasks.word2vec.train import REFERENCE_TIMING, REFERENCE_VECTORS, SUMMARY

log = logging.getLogger(__name__)

QUESTIONS = "analogy_questions.txt"  # in the plots folder: the questions both models answered


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


def load_models(vectors: Path, reference: Path, gensim_time: dict) -> dict:
    """Our vectors, and gensim's where gensim trained ("ours", "gensim"), as gensim KeyedVectors."""
    kvs = {"ours": load_keyed_vectors(vectors)}
    if gensim_time.get("trained"):
        kvs["gensim"] = load_keyed_vectors(Path(reference) / REFERENCE_VECTORS)
    return kvs


def analogy_accuracies(kvs: dict, categories: list[quality.Category]) -> dict[str, dict]:
    """Each model's 3CosAdd accuracy on every analogy question of `categories`. gensim reads the
    questions from a file: a temporary one here (write_reports writes the plots folder's copy)."""
    with tempfile.TemporaryDirectory(prefix="kexue-analogies-") as tmp:
        questions = Path(tmp) / QUESTIONS
        quality.write_questions(categories, questions)
        return {name: quality.analogy_accuracy(kv, questions) for name, kv in kvs.items()}


def _metrics(p: Word2VecParams, vocab_size: int, ours_time: dict, gensim_time: dict, analogy: dict, alias: dict) -> dict[str, Any]:
    both = "gensim" in analogy
    result: dict[str, Any] = {
        "arch": p.model.arch,
        "epochs": p.train.epochs,
        "corpus_words": ours_time.get("stream_words"),
        "vocab_size": vocab_size,
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
    return result


@dataclass(frozen=True)
class Evaluation:
    """What word2vec-evaluate measured: the metrics (in the order written) and the data of its files."""

    metrics: dict[str, Any]
    categories: list[quality.Category]  # the pairs the analogy questions are made of
    per_category: pd.DataFrame  # analogy accuracy per category: category, questions, then one column a model
    overlap: pd.DataFrame | None  # nearest neighbours of frequent words in both models (None: no gensim model)
    pca: dict[str, tuple[list[str], np.ndarray]]  # per model: the frequent words drawn and their vectors
    groups: dict[str, str]  # word -> the text it is most frequent in (the PCA picture's colours)
    pca_title: str

    @property
    def models(self) -> tuple[str, ...]:
        """The models compared: "ours", and "gensim" where gensim trained."""
        return tuple(self.pca)


def compute(p: Word2VecParams, prepared: Path, vectors: Path, reference: Path, models: Path) -> Evaluation:
    """Every number and figure of word2vec-evaluate: ours (`vectors`, `models`/summary.json) against
    gensim (`reference`); writes nothing to the stage's outputs."""
    start, e = time.perf_counter(), p.evaluate
    corpus = Corpus(prepared)
    words = corpus.words()  # most frequent first
    ours_time, gensim_time = read_json(Path(models) / SUMMARY), read_json(Path(reference) / REFERENCE_TIMING)
    kvs = load_models(vectors, reference, gensim_time)
    categories = quality.read_pairs()
    analogy = analogy_accuracies(kvs, categories)
    alias = {name: quality.alias_retrieval(kv, categories, e.topn) for name, kv in kvs.items()}
    result = _metrics(p, len(words), ours_time, gensim_time, analogy, alias)
    overlap = None
    if "gensim" in kvs:
        overlap = neighbour_overlap(kvs["ours"], kvs["gensim"], words[: e.overlap_words], e.topn)
        result["neighbour_overlap"] = round(float(overlap["overlap"].mean()), 4)
    per_category = pd.DataFrame([
        {"category": c, "questions": analogy["ours"][c]["questions"], **{name: analogy[name][c]["accuracy"] for name in kvs}}
        for c in analogy["ours"] if c != "all"
    ])
    result["per_category"] = per_category.set_index("category").to_dict(orient="index")
    result["eval_wall_time_s"] = round(time.perf_counter() - start, 2)
    shown = words[e.pca_skip : e.pca_skip + e.pca_words]
    pca_title = f"PCA of the vectors of {len(shown)} frequent words (ranks {e.pca_skip + 1}-{e.pca_skip + len(shown)})"
    return Evaluation(result, categories, per_category, overlap, {name: (shown, kv[shown]) for name, kv in kvs.items()},
                      corpus.main_source(), pca_title)


def write_reports(evaluation: Evaluation, metrics: Path, plots_dir: Path) -> None:
    """`metrics` (JSON) and `plots_dir/{analogy_questions.txt, neighbour_overlap.csv (with gensim), analogy.csv,
    analogy.png, pca.png}`."""
    plots_dir, m, per_category = Path(plots_dir), evaluation.metrics, evaluation.per_category
    quality.write_questions(evaluation.categories, plots_dir / QUESTIONS)
    if evaluation.overlap is not None:
        files.write_csv(evaluation.overlap, plots_dir / "neighbour_overlap.csv")
    files.write_json(metrics, m)
    files.write_csv(per_category, plots_dir / "analogy.csv")
    plots.bars_png(per_category["category"].tolist(), {name: per_category[name].fillna(0).tolist() for name in evaluation.models},
                   plots_dir / "analogy.png", f"analogy accuracy (3CosAdd) per category, {m['arch']}, {m['epochs']} epochs",
                   "accuracy")
    pca_png(evaluation.pca, evaluation.groups, plots_dir / "pca.png", evaluation.pca_title)


def evaluate(p: Word2VecParams, prepared: Path, vectors: Path, reference: Path, models: Path, metrics: Path, plots_dir: Path) -> None:
    """Stage 4: ours (`vectors`, `models`/summary.json) against gensim (`reference`) -> `metrics` and `plots_dir`."""
    plots.cjk_font()  # no font for the PCA picture: say so now, before any output is written
    evaluation = compute(p, prepared, vectors, reference, models)
    write_reports(evaluation, metrics, plots_dir)
    result = evaluation.metrics
    log.info("analogy accuracy: ours %s, gensim %s; words/s: ours %s, gensim %s -> %s", result["analogy_acc"],
             result["gensim_analogy_acc"], result["words_per_s"], result["gensim_words_per_s"], metrics)
