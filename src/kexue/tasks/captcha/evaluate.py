"""Stage 4: the best checkpoint on the held-out test captchas -> accuracy, confusions, misreads."""

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
from kexue.inference import eval_device, in_batches
from kexue.loading import load_checkpoint
from kexue.params import RunParams
from kexue.tasks.captcha.data import decode, load_split
from kexue.tasks.captcha.model import CaptchaRecognizer
from kexue.tasks.captcha.params import CaptchaParams
from kexue.tasks.captcha.train import SUMMARY

log = logging.getLogger(__name__)


def predict(module: CaptchaRecognizer, x: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    """(N, length) alphabet indices (-1: no character decoded there) for uint8 images `x`."""
    module.eval().to(device)
    return in_batches(lambda b: module.decode(module(b)), x, batch_size, device)


def confused_pairs(pred: torch.Tensor, y: torch.Tensor, alphabet: str, top: int) -> pd.DataFrame:
    """The most frequent (truth, read as) character pairs among the wrong characters."""
    wrong = pred != y
    counts = Counter(
        (alphabet[t], alphabet[p] if p >= 0 else "∅") for t, p in zip(y[wrong].tolist(), pred[wrong].tolist())
    )
    rows = [{"truth": t, "read_as": p, "count": n} for (t, p), n in counts.most_common(top)]
    return pd.DataFrame(rows, columns=["truth", "read_as", "count"])


def merge_lookalikes(codes: torch.Tensor, alphabet: str, groups: list[str]) -> torch.Tensor:
    """Each character of a look-alike group replaced by the group's first (-1 stays -1)."""
    out = codes.clone()
    for group in groups:
        first = alphabet.index(group[0]) if group and group[0] in alphabet else None
        for c in group[1:]:
            if first is not None and c in alphabet:
                out[codes == alphabet.index(c)] = first
    return out


@dataclass(frozen=True)
class Evaluation:
    """What captcha-evaluate measured: the metrics (in the order written) and the data of its figures."""

    metrics: dict[str, Any]
    pairs: pd.DataFrame  # the most confused characters: truth, read_as, count
    misread: np.ndarray  # uint8 images of the first misread test captchas
    misread_labels: list[str]  # "truth → read as" of each


def compute(p: CaptchaParams, run: RunParams, prepared: Path, models: Path) -> Evaluation:
    """Every number and figure of captcha-evaluate: the best checkpoint on the test captchas; writes nothing."""
    models = Path(models)
    summary = json.loads((models / SUMMARY).read_text()) if (models / SUMMARY).is_file() else {}
    start, device = time.perf_counter(), eval_device(run)
    module = load_checkpoint(models / "best.ckpt", CaptchaRecognizer, stage="captcha-train")
    alphabet, lookalikes = module.alphabet, p.evaluate.lookalikes
    x, y = load_split(prepared, "test")
    pred = predict(module, x, p.evaluate.batch_size, device)
    right = pred == y
    string_ok = right.all(1)
    merged_ok = (merge_lookalikes(pred, alphabet, lookalikes) == merge_lookalikes(y, alphabet, lookalikes)).all(1)
    result = {
        "test_string_acc": round(float(string_ok.float().mean()), 5),
        "test_char_acc": round(float(right.float().mean()), 5),
        "test_string_acc_lookalikes_merged": round(float(merged_ok.float().mean()), 5),
        "lookalikes": lookalikes,
        "test_position_acc": [round(float(a), 5) for a in right.float().mean(0)],
        "test_images": len(y),
        "misread_strings": int((~string_ok).sum()),
        "head": module.mp.head,
        "params": sum(t.numel() for t in module.parameters()),
        "train_images": summary.get("train_images"),
        "epochs": summary.get("epochs"),
        "best_val_string_acc": summary.get("best_val_string_acc"),
        "train_wall_time_s": summary.get("train_wall_time_s"),
        "train_device": summary.get("device"),
        "eval_wall_time_s": round(time.perf_counter() - start, 2),
        "eval_device": str(device),
    }
    bad = torch.nonzero(~string_ok).flatten()[: p.evaluate.misread_examples]
    labels = [f"{decode(y[i], alphabet)} → {''.join(alphabet[k] if k >= 0 else '?' for k in pred[i].tolist())}" for i in bad]
    return Evaluation(result, confused_pairs(pred, y, alphabet, p.evaluate.top_confusions), x[bad].numpy(), labels)


def write_reports(evaluation: Evaluation, live: Path, metrics: Path, plots_dir: Path) -> None:
    """`metrics` (JSON) and `plots_dir/{confused_pairs.csv, confused_pairs.png, misread.png (where any), curves.png}`."""
    plots_dir, pairs = Path(plots_dir), evaluation.pairs
    files.write_json(metrics, evaluation.metrics)
    files.write_csv(pairs, plots_dir / "confused_pairs.csv")
    if len(pairs):
        plots.bars_png([f"{t}→{r}" for t, r in zip(pairs["truth"], pairs["read_as"])], {"count": pairs["count"].tolist()},
                       plots_dir / "confused_pairs.png", "most confused characters (truth → read as)", "test characters")
    if len(evaluation.misread):
        plots.image_grid_png(evaluation.misread, plots_dir / "misread.png", "misread test captchas (truth → read as)", cols=4,
                             labels=evaluation.misread_labels)
    plots.curves_png(live, plots_dir / "curves.png", "captcha training", metrics=("loss", "string_acc"))


def evaluate(p: CaptchaParams, run: RunParams, prepared: Path, models: Path, live: Path, metrics: Path, plots_dir: Path) -> None:
    """Stage 4: test-set string and character accuracy -> `metrics`; confusions and misreads -> `plots_dir`."""
    evaluation = compute(p, run, prepared, models)
    write_reports(evaluation, live, metrics, plots_dir)
    result = evaluation.metrics
    log.info("test string accuracy %.4f, char accuracy %.4f -> %s", result["test_string_acc"], result["test_char_acc"], metrics)
