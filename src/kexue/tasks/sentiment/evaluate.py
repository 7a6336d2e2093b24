"""Stage 4: the best checkpoint (of each ensemble member, averaged) on the test reviews -> accuracy,
precision/recall/F1, ROC, and the saliency page (which words decided), plus the words that push
hardest either way."""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torchmetrics.functional.classification import (
    binary_accuracy,
    binary_auroc,
    binary_f1_score,
    binary_precision,
    binary_recall,
    binary_roc,
)
from tqdm.auto import tqdm

from kexue import files, plots
from kexue.inference import eval_device
from kexue.loading import load_checkpoint
from kexue.params import RunParams
from kexue.run_summary import SUMMARY
from kexue.tasks.sentiment.data import load_reviews, load_split
from kexue.tasks.sentiment.model import Ensemble, SentimentClassifier
from kexue.tasks.sentiment.params import SentimentParams
from kexue.tasks.sentiment.saliency_page import ScoredReview, write_html, write_png
from kexue.tasks.sentiment.train import member_dir

log = logging.getLogger(__name__)

MIN_WORD_COUNT = 5  # a word needs this many test occurrences to enter the top-words lists


def load_model(models: Path, device: torch.device, ensemble: int = 1, seed: int = 0) -> Ensemble:
    """The trained model: the best checkpoint of each of the `ensemble` members that
    sentiment-train wrote into `models` (seeds `seed`, `seed` + 1, ...), read as one."""
    members = []
    for k in range(ensemble):
        ckpt = member_dir(Path(models), k, seed + k) / "best.ckpt"
        if not ckpt.is_file():
            raise FileNotFoundError(f"{ckpt}: no checkpoint; run the sentiment-train stage first"
                                    + (f" (sentiment.train.ensemble is {ensemble})" if ensemble > 1 else ""))
        members.append(load_checkpoint(ckpt, SentimentClassifier, stage="sentiment-train"))
    return Ensemble(members).eval().to(device)


def _summaries(models: Path, ensemble: int, seed: int) -> list[dict]:
    paths = [member_dir(models, k, seed + k) / SUMMARY for k in range(ensemble)]
    return [json.loads(f.read_text()) if f.is_file() else {} for f in paths]


def saliency(module: Ensemble, seqs: list[list[int]], y: np.ndarray, tokens: pd.Series, batch_size: int,
             shown: int) -> tuple[list[ScoredReview], pd.DataFrame]:
    """Each test review's word saliencies: the first `shown` reviews scored for the page, and the mean
    saliency and count of every word used at least `MIN_WORD_COUNT` times, most positive first."""
    scored, totals = [], defaultdict(lambda: [0.0, 0])
    for i in tqdm(range(len(seqs)), desc="saliency", unit="review"):
        full, sal = module.saliency(seqs[i], batch_size)
        words = list(tokens[i])[: len(sal)]
        for t, s in zip(words, sal):
            totals[t][0] += s
            totals[t][1] += 1
        if i < shown:
            scored.append(ScoredReview(words, sal, full, int(y[i])))
    words = pd.DataFrame(
        [{"word": w, "mean_saliency": s / n, "count": n} for w, (s, n) in totals.items() if n >= MIN_WORD_COUNT]
    ).sort_values("mean_saliency", ascending=False)
    return scored, words


def classification_scores(prob: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Accuracy, precision, recall, F1, ROC AUC and the cross-entropy of probabilities `prob` against 0/1 `target`."""
    return {
        "test_acc": round(float(binary_accuracy(prob, target)), 5),
        "test_precision": round(float(binary_precision(prob, target)), 5),
        "test_recall": round(float(binary_recall(prob, target)), 5),
        "test_f1": round(float(binary_f1_score(prob, target)), 5),
        "test_auc": round(float(binary_auroc(prob, target)), 5),
        "test_loss": round(float(torch.nn.functional.binary_cross_entropy(prob.clamp(1e-7, 1 - 1e-7), target.float())), 5),
    }


@dataclass(frozen=True)
class Evaluation:
    """What sentiment-evaluate measured: the metrics (in the order written) and the data of its figures."""

    metrics: dict[str, Any]
    fpr: np.ndarray  # the test ROC
    tpr: np.ndarray
    top: pd.DataFrame  # the words that push hardest each way (word, mean_saliency, count, side)
    scored: list[ScoredReview]  # the reviews of the saliency page


def compute(p: SentimentParams, run: RunParams, prepared: Path, models: Path) -> Evaluation:
    """Every number and figure of sentiment-evaluate: the model on the test (and validation) reviews,
    its ROC and its words' saliencies; writes nothing."""
    models, start, device, ensemble = Path(models), time.perf_counter(), eval_device(run), p.train.ensemble
    module = load_model(models, device, ensemble, run.seed)
    val_seqs, val_y = load_split(prepared, "val")
    val_prob = module.probability(val_seqs, p.evaluate.batch_size)
    seqs, y = load_split(prepared, "test")
    target = torch.from_numpy(y)
    prob = module.probability(seqs, p.evaluate.batch_size)
    fpr, tpr, _ = binary_roc(prob, target)
    summaries = _summaries(models, ensemble, run.seed)
    summary = summaries[0]
    scored, words = saliency(module, seqs, y, load_reviews(prepared, "test")["tokens"], p.evaluate.batch_size, p.evaluate.saliency_reviews)
    k = p.evaluate.top_words
    top = pd.concat([words.head(k).assign(side="positive"), words.tail(k).iloc[::-1].assign(side="negative")])
    result = {
        **classification_scores(prob, target),
        "test_reviews": len(y),
        "params": sum(t.numel() for t in module.parameters()),
        # the model evaluated (the ensemble's mean when ensemble > 1) on the validation reviews
        "val_acc": round(float(binary_accuracy(val_prob, torch.from_numpy(val_y))), 5),
        "ensemble": ensemble,
        "epochs": summary.get("epochs"),
        # the first member's best validation score while training (the checkpoint it keeps)
        "best_val_acc": summary.get("best_val_acc"),
        "train_wall_time_s": round(sum(s.get("train_wall_time_s") or 0 for s in summaries), 1),
        "train_device": summary.get("device"),
        "eval_wall_time_s": round(time.perf_counter() - start, 2),
        "eval_device": str(device),
    }
    if ensemble > 1:
        result["member_best_val_acc"] = [s.get("best_val_acc") for s in summaries]
    return Evaluation(result, fpr.numpy(), tpr.numpy(), top, scored)


def write_reports(evaluation: Evaluation, live: Path, metrics: Path, plots_dir: Path) -> None:
    """`plots_dir/{roc.csv, top_words.csv, roc.png, saliency.html, saliency.png, top_words.png, curves.png}`, then `metrics` (JSON)."""
    plots_dir, m, scored = Path(plots_dir), evaluation.metrics, evaluation.scored
    files.write_csv(pd.DataFrame({"fpr": evaluation.fpr, "tpr": evaluation.tpr}), plots_dir / "roc.csv")
    files.write_csv(evaluation.top, plots_dir / "top_words.csv")
    plots.roc_png(evaluation.fpr, evaluation.tpr, plots_dir / "roc.png", f"test ROC, AUC {m['test_auc']:.4f}")
    title = f"Which words decided: {len(scored)} test reviews (test accuracy {m['test_acc']:.2%})"
    write_html(scored, plots_dir / "saliency.html", title)
    write_png(scored, plots_dir / "saliency.png", title)
    plots.words_png(evaluation.top, plots_dir / "top_words.png", f"words that push hardest (mean saliency, >= {MIN_WORD_COUNT} test uses)")
    plots.curves_png(live, plots_dir / "curves.png", "sentiment LSTM training")
    files.write_json(metrics, m)  # last: metrics on disk mean every picture was drawn too


def evaluate(p: SentimentParams, run: RunParams, prepared: Path, models: Path, live: Path, metrics: Path, plots_dir: Path) -> None:
    """Stage 4: test metrics -> `metrics`; ROC, saliency page (HTML + PNG) and top words -> `plots_dir`."""
    plots.cjk_font()  # no font for the Chinese PNG pages: say so now, before any output is written
    evaluation = compute(p, run, prepared, models)
    write_reports(evaluation, live, metrics, plots_dir)
    log.info("test accuracy %.4f, F1 %.4f -> %s", evaluation.metrics["test_acc"], evaluation.metrics["test_f1"], metrics)
