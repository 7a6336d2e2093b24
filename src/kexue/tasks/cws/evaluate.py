"""Stage 4: segment the SIGHAN 2005 PKU and MSR test text with the best checkpoint and with jieba
(default dictionary, HMM on), score both the SIGHAN way, and time both on the same text."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

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


def evaluate(p: CwsParams, run: RunParams, raw: Path, models: Path, live: Path, metrics: Path, plots_dir: Path) -> None:
    """Stage 4: P/R/F1, OOV and IV recall of ours and jieba on PKU and MSR, speeds -> `metrics`;
    a score chart, a score table and examples of our errors -> `plots_dir`."""
    import jieba

    raw, models, metrics, plots_dir = Path(raw), Path(models), Path(metrics), Path(plots_dir)
    start = time.perf_counter()
    device = eval_device(run)
    module = load_model(models, device)
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()  # load its dictionary before the clock starts
    result: dict[str, object] = {}
    rows, examples = [], []
    chars, seconds = 0, {"ours": 0.0, "jieba": 0.0}
    for name in TEST_SETS:
        lines = read_lines(raw / f"{name}_test.utf8")
        gold = read_gold(raw / f"{name}_test_gold.utf8")
        dictionary = set(read_lines(raw / f"{name}_training_words.utf8"))
        ours, t_ours = timed(lambda x: module.segment(x, p.evaluate.batch_size), lines)
        theirs, t_jieba = timed(jieba_segment, lines)
        chars += sum(len(WHITESPACE.sub("", line)) for line in lines)
        seconds["ours"] += t_ours
        seconds["jieba"] += t_jieba
        for who, pred in (("ours", ours), ("jieba", theirs)):
            s = score(gold, pred, dictionary).as_dict()
            result[f"{name}_{who}"] = s
            rows.append({"test": name, "segmenter": who, **s})
        if name == "pku":
            for line_gold, line_ours, line_jieba in zip(gold, ours, theirs):
                if line_ours != line_gold and len(examples) < EXAMPLES:
                    examples.append({"gold": "  ".join(line_gold), "ours": "  ".join(line_ours), "jieba": "  ".join(line_jieba)})
    summary = json.loads((models / SUMMARY).read_text()) if (models / SUMMARY).is_file() else {}
    result.update({
        "test_chars": chars,
        "ours_chars_per_s": round(chars / max(seconds["ours"], 1e-9)),
        "jieba_chars_per_s": round(chars / max(seconds["jieba"], 1e-9)),
        "encoder": module.mp.encoder,
        "params": sum(t.numel() for t in module.parameters()),
        "epochs": summary.get("epochs"),
        "best_val_tag_acc": summary.get("best_val_tag_acc"),
        "train_wall_time_s": summary.get("train_wall_time_s"),
        "train_device": summary.get("device"),
        "eval_device": str(device),
    })
    result["eval_wall_time_s"] = round(time.perf_counter() - start, 2)
    files.write_json(metrics, result)
    table = pd.DataFrame(rows)
    files.write_csv(table, plots_dir / "scores.csv")
    files.write_csv(pd.DataFrame(examples, columns=["gold", "ours", "jieba"]), plots_dir / "pku_errors.csv")
    keys = ("f1", "oov_recall", "iv_recall")
    plots.bars_png(
        [f"{n} {k}" for n in TEST_SETS for k in keys],
        {who: [result[f"{n}_{who}"][k] for n in TEST_SETS for k in keys] for who in ("ours", "jieba")},
        plots_dir / "scores.png", "segmentation scores (SIGHAN 2005 test sets)", "score",
    )
    log.info("PKU F1 ours %.4f, jieba %.4f -> %s", result["pku_ours"]["f1"], result["pku_jieba"]["f1"], metrics)
