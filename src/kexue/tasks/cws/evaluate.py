"""Stage 4: segment the SIGHAN 2005 PKU and MSR test text with the best checkpoint and with jieba
(default dictionary, HMM on), score both the SIGHAN way, and time both on the same text."""

from __future__ import annotations

import json
import logging
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
from kexue.tasks.cws.data import TEST_SETS, read_gold, read_lines
from kexue.tasks.cws.model import WHITESPACE, Segmenter
from kexue.tasks.cws.params import CwsParams
from kexue.tasks.cws.score import score

log = logging.getLogger(__name__)

EXAMPLES = 30  # test lines where our segmentation differs from the gold, for people to read
KEYS = ("f1", "oov_recall", "iv_recall")  # the scores in scores.png


def load_model(models: Path, device: torch.device) -> Segmenter:
    return load_checkpoint(Path(models) / "best.ckpt", Segmenter, stage="cws-train").eval().to(device)


def jieba_segment(lines: list[str]) -> list[list[str]]:
    """jieba (default dictionary, HMM on) on each whitespace-free run of each line, as ours reads it."""
    import jieba

    return [[w for chunk in WHITESPACE.split(line) if chunk for w in jieba.lcut(chunk, HMM=True)] for line in lines]


def timed(fn, *args) -> tuple[list[list[str]], float]:
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


@dataclass(frozen=True)
class TestSet:
    """One SIGHAN test set, segmented by ours and by jieba and scored, with each one's seconds."""

    scores: dict[str, dict]  # "ours", "jieba" -> precision, recall, F1, OOV and IV recall
    chars: int
    seconds: dict[str, float]
    errors: list[dict]  # lines where ours differs from the gold: gold, ours, jieba (at most EXAMPLES)


def segment_test_set(module: Segmenter, p: CwsParams, raw: Path, name: str) -> TestSet:
    lines = read_lines(raw / f"{name}_test.utf8")
    gold = read_gold(raw / f"{name}_test_gold.utf8")
    dictionary = set(read_lines(raw / f"{name}_training_words.utf8"))
    ours, t_ours = timed(lambda x: module.segment(x, p.evaluate.batch_size), lines)
    theirs, t_jieba = timed(jieba_segment, lines)
    scores = {who: score(gold, pred, dictionary).as_dict() for who, pred in (("ours", ours), ("jieba", theirs))}
    errors = [{"gold": "  ".join(g), "ours": "  ".join(o), "jieba": "  ".join(j)} for g, o, j in zip(gold, ours, theirs) if o != g]
    return TestSet(scores, sum(len(WHITESPACE.sub("", line)) for line in lines), {"ours": t_ours, "jieba": t_jieba}, errors[:EXAMPLES])


@dataclass(frozen=True)
class Evaluation:
    """What cws-evaluate measured: the metrics (in the order written) and the data of its files."""

    metrics: dict[str, Any]
    scores: list[dict]  # scores.csv: a row a test set and segmenter
    errors: list[dict]  # pku_errors.csv: PKU test lines ours segments unlike the gold


def compute(p: CwsParams, run: RunParams, raw: Path, models: Path) -> Evaluation:
    """Every number of cws-evaluate: ours and jieba on the PKU and MSR test text, scored and timed; writes nothing."""
    import jieba

    raw, models = Path(raw), Path(models)
    start, device = time.perf_counter(), eval_device(run)
    module = load_model(models, device)
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()  # load its dictionary before the clock starts
    sets = {name: segment_test_set(module, p, raw, name) for name in TEST_SETS}
    result: dict[str, Any] = {f"{name}_{who}": s for name, t in sets.items() for who, s in t.scores.items()}
    chars = sum(t.chars for t in sets.values())
    summary = json.loads((models / SUMMARY).read_text()) if (models / SUMMARY).is_file() else {}
    result.update({
        "test_chars": chars,
        "ours_chars_per_s": round(chars / max(sum(t.seconds["ours"] for t in sets.values()), 1e-9)),
        "jieba_chars_per_s": round(chars / max(sum(t.seconds["jieba"] for t in sets.values()), 1e-9)),
        "encoder": module.mp.encoder,
        "params": sum(t.numel() for t in module.parameters()),
        "epochs": summary.get("epochs"),
        "best_val_tag_acc": summary.get("best_val_tag_acc"),
        "train_wall_time_s": summary.get("train_wall_time_s"),
        "train_device": summary.get("device"),
        "eval_device": str(device),
    })
    result["eval_wall_time_s"] = round(time.perf_counter() - start, 2)
    rows = [{"test": name, "segmenter": who, **s} for name, t in sets.items() for who, s in t.scores.items()]
    return Evaluation(result, rows, sets["pku"].errors)


def write_reports(evaluation: Evaluation, metrics: Path, plots_dir: Path) -> None:
    """`metrics` (JSON) and `plots_dir/{scores.csv, pku_errors.csv, scores.png}`."""
    plots_dir, result = Path(plots_dir), evaluation.metrics
    files.write_json(metrics, result)
    files.write_csv(pd.DataFrame(evaluation.scores), plots_dir / "scores.csv")
    files.write_csv(pd.DataFrame(evaluation.errors, columns=["gold", "ours", "jieba"]), plots_dir / "pku_errors.csv")
    plots.bars_png(
        [f"{n} {k}" for n in TEST_SETS for k in KEYS],
        {who: [result[f"{n}_{who}"][k] for n in TEST_SETS for k in KEYS] for who in ("ours", "jieba")},
        plots_dir / "scores.png", "segmentation scores (SIGHAN 2005 test sets)", "score",
    )


def evaluate(p: CwsParams, run: RunParams, raw: Path, models: Path, live: Path, metrics: Path, plots_dir: Path) -> None:
    """Stage 4: P/R/F1, OOV and IV recall of ours and jieba on PKU and MSR, speeds -> `metrics`;
    a score chart, a score table and examples of our errors -> `plots_dir`."""
    evaluation = compute(p, run, raw, models)
    write_reports(evaluation, metrics, plots_dir)
    result = evaluation.metrics
    log.info("PKU F1 ours %.4f, jieba %.4f -> %s", result["pku_ours"]["f1"], result["pku_jieba"]["f1"], metrics)
