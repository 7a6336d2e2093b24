"""Stage 4: the best checkpoint (of each ensemble member, averaged) on the test reviews -> accuracy,
precision/recall/F1, ROC, and the saliency page (which words decided), plus the words that push
hardest either way."""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from pathlib import Path

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


def evaluate(p: SentimentParams, run: RunParams, prepared: Path, models: Path, live: Path, metrics: Path, plots_dir: Path) -> None:
    """Stage 4: test metrics -> `metrics`; ROC, saliency page (HTML + PNG) and top words -> `plots_dir`."""
    models, metrics, plots_dir = Path(models), Path(metrics), Path(plots_dir)
    start = time.perf_counter()
    plots.cjk_font()  # no font for the Chinese PNG pages: say so now, before any output is written
    device = eval_device(run)
    ensemble = p.train.ensemble
    module = load_model(models, device, ensemble, run.seed)
    val_seqs, val_y = load_split(prepared, "val")
    val_prob = module.probability(val_seqs, p.evaluate.batch_size)
    seqs, y = load_split(prepared, "test")
    reviews = load_reviews(prepared, "test")
    target = torch.from_numpy(y)
    prob = module.probability(seqs, p.evaluate.batch_size)
    fpr, tpr, _ = binary_roc(prob, target)
    summaries = _summaries(models, ensemble, run.seed)
    summary = summaries[0]

    scored, totals = [], defaultdict(lambda: [0.0, 0])
    for i in tqdm(range(len(seqs)), desc="saliency", unit="review"):
        full, sal = module.saliency(seqs[i], p.evaluate.batch_size)
        tokens = list(reviews["tokens"][i])[: len(sal)]
        for t, s in zip(tokens, sal):
            totals[t][0] += s
            totals[t][1] += 1
        if i < p.evaluate.saliency_reviews:
            scored.append(ScoredReview(tokens, sal, full, int(y[i])))
    words = pd.DataFrame(
        [{"word": w, "mean_saliency": s / n, "count": n} for w, (s, n) in totals.items() if n >= MIN_WORD_COUNT]
    ).sort_values("mean_saliency", ascending=False)
    k = p.evaluate.top_words
    top = pd.concat([words.head(k).assign(side="positive"), words.tail(k).iloc[::-1].assign(side="negative")])

    result = {
        "test_acc": round(float(binary_accuracy(prob, target)), 5),
        "test_precision": round(float(binary_precision(prob, target)), 5),
        "test_recall": round(float(binary_recall(prob, target)), 5),
        "test_f1": round(float(binary_f1_score(prob, target)), 5),
        "test_auc": round(float(binary_auroc(prob, target)), 5),
        "test_loss": round(float(torch.nn.functional.binary_cross_entropy(prob.clamp(1e-7, 1 - 1e-7), target.float())), 5),
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
    files.write_csv(pd.DataFrame({"fpr": fpr.numpy(), "tpr": tpr.numpy()}), plots_dir / "roc.csv")
    files.write_csv(top, plots_dir / "top_words.csv")
    plots.roc_png(fpr.numpy(), tpr.numpy(), plots_dir / "roc.png", f"test ROC, AUC {result['test_auc']:.4f}")
    title = f"Which words decided: {len(scored)} test reviews (test accuracy {result['test_acc']:.2%})"
    write_html(scored, plots_dir / "saliency.html", title)
    write_png(scored, plots_dir / "saliency.png", title)
    plots.words_png(top, plots_dir / "top_words.png", f"words that push hardest (mean saliency, >= {MIN_WORD_COUNT} test uses)")
    plots.curves_png(live, plots_dir / "curves.png", "sentiment LSTM training")
    files.write_json(metrics, result)  # last: metrics on disk mean every picture was drawn too
    log.info("test accuracy %.4f, F1 %.4f -> %s", result["test_acc"], result["test_f1"], metrics)
