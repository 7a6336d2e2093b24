"""Stage 4: write titles for the test abstracts with the best checkpoint (beam search, `decode.beam`,
and the widths `evaluate.beams`), score them with ROUGE-1/2/L F1 on characters beside two extractive
baselines (lead, single-sentence oracle), and write a page of test abstracts with their titles."""

from __future__ import annotations

import json
import logging
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from kexue import files, plots
from kexue.inference import eval_device
from kexue.loading import load_checkpoint
from kexue.params import RunParams
from kexue.run_summary import SUMMARY
from kexue.tasks.title.baselines import lead, oracle
from kexue.tasks.title.data import load_pairs, load_stats
from kexue.tasks.title.model import TitleWriter
from kexue.tasks.title.page import write_page
from kexue.tasks.title.params import TitleParams
from kexue.tasks.title.rouge import KEYS, rouge, rouge_one

log = logging.getLogger(__name__)


def load_model(models: Path, device: torch.device) -> TitleWriter:
    return load_checkpoint(Path(models) / "best.ckpt", TitleWriter, stage="title-train").eval().to(device)


def in_abstract(titles: list[str], abstracts: list[str]) -> float:
    """The share of title characters (whitespace aside) found in their abstract: how much is copied."""
    shares = []
    for t, a in zip(titles, abstracts):
        chars = [c for c in t if not c.isspace()]
        if chars:
            shares.append(sum(c in set(a) for c in chars) / len(chars))
    return round(statistics.mean(shares), 4) if shares else 0.0


def mean_chars(titles: list[str]) -> float:
    return round(statistics.mean(len(t) for t in titles), 2) if titles else 0.0


def by_beam_width(module: TitleWriter, p: TitleParams, abstracts: list[str], gold: list[str]) -> tuple[dict[str, dict], list[str]]:
    """ROUGE, length and speed of the titles written at each beam width (`decode.beam` and
    `evaluate.beams`), and the titles of `decode.beam`."""
    by_beam: dict[str, dict] = {}
    generated: list[str] = []
    for beam in sorted({p.decode.beam, *p.evaluate.beams}):
        t0 = time.perf_counter()
        titles = module.write_titles(abstracts, beam, p.decode.max_len, p.evaluate.batch_size)
        seconds = time.perf_counter() - t0
        by_beam[f"beam{beam}"] = {**rouge(titles, gold), "mean_chars": mean_chars(titles),
                                  "titles_per_s": round(len(titles) / max(seconds, 1e-9), 1)}
        log.info("beam %d: %s", beam, by_beam[f"beam{beam}"])
        if beam == p.decode.beam:
            generated = titles
    return by_beam, generated


def _score_metrics(p: TitleParams, module: TitleWriter, systems: dict[str, list[str]], scores: dict[str, dict], by_beam: dict,
                   abstracts: list[str], gold: list[str], lead_chars: int) -> dict[str, Any]:
    """The systems' scores and titles on the test pairs."""
    return {
        "test_pairs": len(gold),
        "model": {**scores["model"], "beam": p.decode.beam, "prior": module.mp.prior, "mean_chars": mean_chars(systems["model"]),
                  "chars_in_abstract": in_abstract(systems["model"], abstracts)},
        "lead": {**scores["lead"], "chars": lead_chars},
        "oracle": {**scores["oracle"], "mean_chars": mean_chars(systems["oracle"])},
        "gold": {"mean_chars": mean_chars(gold), "chars_in_abstract": in_abstract(gold, abstracts)},
        "model_minus_lead_rougeL": round(scores["model"]["rougeL"] - scores["lead"]["rougeL"], 6),
        "by_beam": by_beam,
    }


def _run_metrics(module: TitleWriter, stats: dict, summary: dict, device: torch.device) -> dict[str, Any]:
    """What was trained (the model, its training run) and where it was evaluated."""
    result: dict[str, Any] = {
        "train_pairs": stats.get("train_pairs"),
        "vocab_size": len(module.vocab),
        "params": sum(t.numel() for t in module.parameters()),
        "epochs": summary.get("epochs"),
        "best_val_rougeL": summary.get("best_val_rougeL"),
        "train_wall_time_s": summary.get("train_wall_time_s"),
        "train_device": summary.get("device"),
        "eval_device": str(device),
    }
    if module.mp.prior:  # what the prior learnt: how far it lifts a character of the abstract
        lift = module.prior_log_scale.detach().exp().cpu()
        result["prior_scale_mean"] = round(float(lift.mean()), 4)
    return result


def _per_pair(abstracts: list[str], gold: list[str], systems: dict[str, list[str]]) -> list[dict]:
    """One row a test pair: the abstract, its titles (gold, generated, lead, oracle) and ROUGE-L of two."""
    return [{"abstract": a, "gold": t, "generated": g, "lead": ld, "oracle": o,
             **{f"{name}_rougeL": rouge_one(x, t)["rougeL"] for name, x in (("generated", g), ("lead", ld))}}
            for a, t, g, ld, o in zip(abstracts, gold, systems["model"], systems["lead"], systems["oracle"])]


@dataclass(frozen=True)
class Evaluation:
    """What title-evaluate measured: the metrics (in the order written) and the data of its files."""

    metrics: dict[str, Any]
    scores: list[dict]  # scores.csv: a row a system (model, lead, oracle, then the model at each beam width)
    per_pair: list[dict]  # predictions.csv: a row a test pair
    examples: int  # how many of them the examples page shows
    page_title: str  # the examples page's


def compute(p: TitleParams, run: RunParams, prepared: Path, models: Path) -> Evaluation:
    """Every number of title-evaluate: ROUGE of the model (each beam width), lead and oracle on the
    test split; writes nothing."""
    prepared, models = Path(prepared), Path(models)
    start = time.perf_counter()
    device = eval_device(run)
    module = load_model(models, device)
    test = load_pairs(prepared, "test")
    abstracts, gold = [a for a, _ in test], [t for _, t in test]
    stats = load_stats(prepared)
    lead_chars = round(stats.get("train_mean_title_chars") or statistics.mean(len(t) for _, t in load_pairs(prepared, "train")))
    by_beam, generated = by_beam_width(module, p, abstracts, gold)
    systems = {"model": generated, "lead": [lead(a, lead_chars) for a in abstracts],
               "oracle": [oracle(a, t) for a, t in zip(abstracts, gold)]}
    scores = {name: rouge(titles, gold) for name, titles in systems.items()}
    summary = json.loads((models / SUMMARY).read_text()) if (models / SUMMARY).is_file() else {}
    result = {**_score_metrics(p, module, systems, scores, by_beam, abstracts, gold, lead_chars),
              **_run_metrics(module, stats, summary, device)}
    result["eval_wall_time_s"] = round(time.perf_counter() - start, 2)
    rows = [{"system": f"model (beam {p.decode.beam})" if name == "model" else name, **scores[name]} for name in systems]
    rows += [{"system": f"model, {name.replace('beam', 'beam ')}", **{k: v[k] for k in KEYS}} for name, v in by_beam.items()]
    page_title = (f"{p.evaluate.examples} test abstracts: gold, generated (beam {p.decode.beam}, prior "
                  f"{'on' if module.mp.prior else 'off'}) and lead titles")
    return Evaluation(result, rows, _per_pair(abstracts, gold, systems), p.evaluate.examples, page_title)


def write_reports(evaluation: Evaluation, live: Path, metrics: Path, plots_dir: Path) -> None:
    """`metrics` (JSON) and `plots_dir/{scores.csv, scores.png, predictions.csv, examples.md, examples.png, curves.png}`."""
    plots_dir, rows = Path(plots_dir), evaluation.scores
    files.write_json(metrics, evaluation.metrics)
    files.write_csv(pd.DataFrame(rows), plots_dir / "scores.csv")
    plots.bars_png(
        ["ROUGE-1", "ROUGE-2", "ROUGE-L"], {row["system"]: [row[k] for k in KEYS] for row in rows[:3]},  # model, lead, oracle
        plots_dir / "scores.png", f"title ROUGE F1 on characters, {evaluation.metrics['test_pairs']} test abstracts", "F1",
    )
    files.write_csv(pd.DataFrame(evaluation.per_pair), plots_dir / "predictions.csv")
    write_page(evaluation.per_pair[: evaluation.examples], plots_dir / "examples.md", plots_dir / "examples.png", evaluation.page_title)
    plots.curves_png(Path(live), plots_dir / "curves.png", "title writer training", metrics=("loss", "rougeL"))


def evaluate(p: TitleParams, run: RunParams, prepared: Path, models: Path, live: Path, metrics: Path, plots_dir: Path) -> None:
    """Stage 4: ROUGE of the model (each beam width), lead and oracle on the test split -> `metrics`;
    scores, all test titles, the side-by-side page (Markdown, PNG) and the curves -> `plots_dir`."""
    evaluation = compute(p, run, prepared, models)
    write_reports(evaluation, live, metrics, plots_dir)
    m = evaluation.metrics
    log.info("test ROUGE-L: model %.4f, lead %.4f, oracle %.4f -> %s", m["model"]["rougeL"], m["lead"]["rougeL"], m["oracle"]["rougeL"],
             metrics)
