"""Stage 4: the best checkpoint on the untouched test set -> metrics, confusion matrix, curves."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torchmetrics.functional.classification import multiclass_confusion_matrix

from kexue import files, plots
from kexue.inference import eval_device, in_batches
from kexue.params import RunParams
from kexue.tasks.fashion.data import CLASSES, load_split
from kexue.tasks.fashion.model import FashionClassifier
from kexue.tasks.fashion.params import FashionParams
from kexue.tasks.fashion.train import SUMMARY

log = logging.getLogger(__name__)


def predict(module: FashionClassifier, x: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    """Logits (float32, on the CPU) for uint8 images `x`, in order."""
    return in_batches(module.eval().to(device), x, batch_size, device)


def evaluate(p: FashionParams, run: RunParams, prepared: Path, models: Path, live: Path, metrics: Path, plots_dir: Path) -> None:
    """Write `metrics` (JSON), and `plots_dir/{confusion.csv, confusion.png, curves.png}`."""
    models, metrics, plots_dir = Path(models), Path(metrics), Path(plots_dir)
    ckpt = models / "best.ckpt"
    if not ckpt.is_file():
        raise FileNotFoundError(f"{ckpt}: no checkpoint; run the fashion-train stage first")
    summary_path = models / SUMMARY
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}

    start = time.perf_counter()
    device = eval_device(run)
    module = FashionClassifier.load_from_checkpoint(ckpt, map_location="cpu")
    x, y = load_split(prepared, "test")
    logits = predict(module, x, p.evaluate.batch_size, device)
    pred = logits.argmax(1)
    cm = multiclass_confusion_matrix(pred, y, num_classes=len(CLASSES)).numpy()
    per_class = cm.diagonal() / np.maximum(cm.sum(1), 1)

    result = {
        "test_acc": round(float((pred == y).float().mean()), 5),
        "test_loss": round(float(F.cross_entropy(logits, y)), 5),
        "test_images": len(y),
        "per_class_acc": {name: round(float(a), 4) for name, a in zip(CLASSES, per_class)},
        "best_val_acc": summary.get("best_val_acc"),
        "params": sum(t.numel() for t in module.net.parameters()),
        "epochs": summary.get("epochs"),
        "train_wall_time_s": summary.get("train_wall_time_s"),
        "train_device": summary.get("device"),
        "eval_wall_time_s": round(time.perf_counter() - start, 2),
        "eval_device": str(device),
    }
    files.write_json(metrics, result)

    # One row per test image: the layout dvc's confusion template reads.
    names = np.array(CLASSES)
    table = pd.DataFrame({"actual": names[y.numpy()], "predicted": names[pred.numpy()]})
    files.write_csv(table, plots_dir / "confusion.csv")
    acc = result["test_acc"]
    plots.confusion_matrix_png(cm, CLASSES, plots_dir / "confusion.png", f"Fashion-MNIST test, accuracy {acc:.2%}")
    plots.curves_png(live, plots_dir / "curves.png", "Fashion-MNIST MobileNet training")
    log.info("test accuracy %.4f, loss %.4f -> %s", acc, result["test_loss"], metrics)
