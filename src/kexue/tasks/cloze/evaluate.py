"""Stage 4: answer the official CMRC2017 cloze-valid and user-valid questions with the best
checkpoint; accuracy, accuracy by how often the answer occurs in its document, a baseline that
always picks the document's most frequent candidate word, and a table of wrong answers."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from kexue import files, plots
from kexue.inference import eval_device
from kexue.loading import load_checkpoint
from kexue.params import RunParams
from kexue.run_summary import SUMMARY
from kexue.tasks.cloze.cmrc import Question
from kexue.tasks.cloze.data import (EVAL_SETS, FREQUENCY_BUCKETS, VOCAB, Questions, candidate_words, collate, encode,
                                    frequency_bucket, is_candidate, load_split, read_eval_set)
from kexue.tasks.cloze.model import ClozeReader
from kexue.tasks.cloze.params import ClozeParams
from kexue.text.batching import BucketBatchSampler
from kexue.text.vocab import Vocab

log = logging.getLogger(__name__)

def load_model(models: Path, device: torch.device) -> ClozeReader:
    return load_checkpoint(Path(models) / "best.ckpt", ClozeReader, stage="cloze-train").eval().to(device)


def predict(module: ClozeReader, arrays: dict[str, np.ndarray], batch_size: int, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """(predicted candidate index, its probability) for every encoded question, in file order."""
    data = Questions(arrays)
    pred = np.full(len(data), -1, dtype=np.int64)
    prob = np.zeros(len(data), dtype=np.float32)
    for idx in BucketBatchSampler(data.doc_lengths(), batch_size, shuffle=False):
        batch = collate([data[i] for i in idx])
        k, p = module.predict_words({key: v.to(device) for key, v in batch.items()})
        pred[idx], prob[idx] = k.cpu().numpy(), p.float().cpu().numpy()
    return pred, prob


def most_frequent_candidate(q: Question) -> str:
    """The baseline: the document's most frequent candidate word (ties: the first seen)."""
    counts = Counter(w for w in q.words if is_candidate(w))
    return max(counts, key=lambda w: counts[w]) if counts else ""


def accuracy(predicted: list[str], answers: list[str]) -> float:
    """The fraction of predictions equal to their answer (0 for no questions)."""
    if len(predicted) != len(answers):
        raise ValueError(f"{len(predicted)} predictions for {len(answers)} answers")
    return sum(p == a for p, a in zip(predicted, answers)) / len(answers) if answers else 0.0


def trained_questions(prepared: int | None, p: ClozeParams) -> int | None:
    """How many of the `prepared` training questions the question reader trained on: the first
    `train.train_limit` of them where that is set. The passage reader draws its own blanks (its
    limit counts documents), so there it is the prepared count."""
    if prepared is None or not p.train.train_limit or p.model.reader != "question":
        return prepared
    return min(prepared, p.train.train_limit)


def _accuracy_of(predicted: list[str], answers: list[str], sel: list[int]) -> float:
    return accuracy([predicted[i] for i in sel], [answers[i] for i in sel])


def by_occurrences(ours: list[str], baseline: list[str], answers: list[str], buckets: list[str]) -> dict[str, dict]:
    """Per bucket of answer occurrences in the document (`FREQUENCY_BUCKETS`): the questions, our
    accuracy and the baseline's."""
    out = {}
    for b in FREQUENCY_BUCKETS:
        sel = [i for i, x in enumerate(buckets) if x == b]
        out[b] = {"questions": len(sel), "accuracy": _accuracy_of(ours, answers, sel),
                  "baseline_accuracy": _accuracy_of(baseline, answers, sel)}
    return out


@dataclass(frozen=True)
class SetScores:
    """One official validation set, scored: its entry in the metrics, its rows of accuracy by answer
    occurrences and its first wrong answers."""

    metrics: dict[str, Any]
    by_occurrences: list[dict]
    wrong: list[dict]


def score_set(module: ClozeReader, vocab: Vocab, p: ClozeParams, raw: Path, name: str, device: torch.device) -> SetScores:
    """The model and the most-frequent-word baseline on the official set `name`."""
    questions = read_eval_set(raw, name)
    pred, prob = predict(module, encode(questions, vocab, p.data.question_words), p.evaluate.batch_size, device)
    words = [candidate_words(q) for q in questions]
    ours = [w[k] if 0 <= k < len(w) else "" for w, k in zip(words, pred)]
    answers = [q.answer or "" for q in questions]
    baseline = [most_frequent_candidate(q) for q in questions]
    buckets = [frequency_bucket(q) for q in questions]
    oov = [i for i, a in enumerate(answers) if a not in vocab.stoi]
    by_freq = by_occurrences(ours, baseline, answers, buckets)
    metrics = {
        "questions": len(questions),
        "accuracy": accuracy(ours, answers),
        "most_frequent_word_accuracy": accuracy(baseline, answers),
        "answer_not_in_document": sum(a not in w for a, w in zip(answers, words)),
        # answers the vocabulary lacks (mostly a story's own names): read through placeholders
        "answer_out_of_vocabulary": {"questions": len(oov), "accuracy": _accuracy_of(ours, answers, oov)},
        "candidates_per_question": float(np.mean([len(w) for w in words])),
        "by_answer_occurrences": by_freq,
    }
    shown = [i for i in range(len(questions)) if ours[i] != answers[i]][: p.evaluate.wrong_examples]
    wrong = [{"set": f"{name}-valid", "qid": questions[i].qid, "query": " ".join(questions[i].query), "answer": answers[i],
              "predicted": ours[i], "p": round(float(prob[i]), 3), "answer_occurrences": buckets[i]} for i in shown]
    log.info("%s-valid: accuracy %.4f (most frequent word %.4f)", name, metrics["accuracy"], metrics["most_frequent_word_accuracy"])
    return SetScores(metrics, [{"set": f"{name}-valid", "answer_occurrences": b, **v} for b, v in by_freq.items()], wrong)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _run_metrics(p: ClozeParams, module: ClozeReader, prepared: Path, models: Path) -> dict[str, Any]:
    """What was trained: the questions, the model's size and the training run's summary."""
    summary, stats = _read_json(models / SUMMARY), _read_json(prepared / "stats.json")
    return {
        "train_questions": trained_questions(stats.get("train_questions"), p),
        # share of all the prepared training answers by occurrences in their document, beside the sets'
        # by_answer_occurrences (with train_limit set, the trained ones are the first of them)
        "train_answer_occurrences": stats.get("train_answer_occurrences"),
        "params": sum(t.numel() for t in module.parameters()),
        "epochs": summary.get("epochs"),
        "best_val_acc": summary.get("best_val_acc"),
        "train_wall_time_s": summary.get("train_wall_time_s"),
        "train_device": summary.get("device"),
    }


@dataclass(frozen=True)
class Evaluation:
    """What cloze-evaluate measured: the metrics (in the order written), the rows of accuracy by answer
    occurrences (cloze then user, `FREQUENCY_BUCKETS` each) and the wrong answers shown."""

    metrics: dict[str, Any]
    by_occurrences: list[dict]
    wrong: list[dict]


def compute(p: ClozeParams, run: RunParams, raw: Path, prepared: Path, models: Path) -> Evaluation:
    """Every number of cloze-evaluate: the best checkpoint on the official sets and the generated
    validation questions; writes nothing."""
    raw, prepared, models = Path(raw), Path(prepared), Path(models)
    start = time.perf_counter()
    device = eval_device(run)
    module = load_model(models, device)
    vocab = Vocab.load(prepared / VOCAB)
    sets = {name: score_set(module, vocab, p, raw, name, device) for name in EVAL_SETS}
    result: dict[str, Any] = {f"{name}_valid": s.metrics for name, s in sets.items()}
    val = load_split(prepared, "val")
    pred, _ = predict(module, val, p.evaluate.batch_size, device)
    result["generated_val"] = {"questions": int(len(pred)), "accuracy": float((pred == val["answer"]).mean())}
    result.update(_run_metrics(p, module, prepared, models))
    result.update(eval_device=str(device), eval_wall_time_s=round(time.perf_counter() - start, 2))
    return Evaluation(result, [r for s in sets.values() for r in s.by_occurrences], [r for s in sets.values() for r in s.wrong])


def write_reports(evaluation: Evaluation, live: Path, metrics: Path, plots_dir: Path) -> None:
    """`metrics` (JSON) and `plots_dir/{accuracy_by_occurrences.csv, wrong_answers.csv, accuracy_by_occurrences.png, curves.png}`."""
    plots_dir, rows = Path(plots_dir), evaluation.by_occurrences
    files.write_json(metrics, evaluation.metrics)
    files.write_csv(pd.DataFrame(rows), plots_dir / "accuracy_by_occurrences.csv")
    files.write_csv(pd.DataFrame(evaluation.wrong, columns=["set", "qid", "query", "answer", "predicted", "p", "answer_occurrences"]),
                    plots_dir / "wrong_answers.csv")
    plots.bars_png(
        [f"{s} ×{b}" for s in ("cloze", "user") for b in FREQUENCY_BUCKETS],
        {"ours": [r["accuracy"] for r in rows], "most frequent word": [r["baseline_accuracy"] for r in rows]},
        plots_dir / "accuracy_by_occurrences.png",
        "accuracy by occurrences of the answer in its document", "accuracy",
    )
    plots.curves_png(Path(live), plots_dir / "curves.png", "cloze reader on generated questions")


def evaluate(p: ClozeParams, run: RunParams, raw: Path, prepared: Path, models: Path, live: Path, metrics: Path, plots_dir: Path) -> None:
    """Stage 4: accuracy on cloze-valid and user-valid (and the generated validation questions) -> `metrics`;
    accuracy by answer frequency, wrong answers with context and the training curves -> `plots_dir`."""
    evaluation = compute(p, run, raw, prepared, models)
    write_reports(evaluation, live, metrics, plots_dir)
    result = evaluation.metrics
    log.info("cloze-valid %.4f, user-valid %.4f -> %s", result["cloze_valid"]["accuracy"], result["user_valid"]["accuracy"], metrics)
