"""Stage 4: the best checkpoint on the untouched test set -> metrics, confusion matrix, curves."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torchmetrics.functional.classification import multiclass_confusion_matrix

from kexue import files, plots
from kexue.fashion_mnist import CLASSES
from kexue.inference import eval_device, in_batches
from kexue.loading import load_checkpoint
from kexue.params import RunParams
from kexue.tasks.fashion.data import load_split
from kexue.tasks.fashion.model import FashionClassifier
from kexue.tasks.fashion.params import FashionParams
from kexue.tasks.fashion.train import SUMMARY

log = logging.getLogger(__name__)


SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))  # flip+shift: each view also moved one pixel each way


def translate(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Images moved down `dy` and right `dx` whole pixels, zero-filled (as training's random shifts)."""
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)]
    return out


def views(x: torch.Tensor, tta: str) -> list[torch.Tensor]:
    """The test-time views of images `x`: the image alone (none), with its mirror (flip), or both
    each also moved one pixel up, down, left and right (flip+shift: 10 views)."""
    if tta == "none":
        return [x]
    bases = [x, x.flip(-1)]
    if tta == "flip":
        return bases
    return [translate(b, dy, dx) for b in bases for dy, dx in SHIFTS]


def view_log_probs(module: FashionClassifier, x: torch.Tensor, batch_size: int, device: torch.device, tta: str) -> list[torch.Tensor]:
    """Log-probabilities (float32, on the CPU) of each test-time view of uint8 images `x` (`views`)."""
    module = module.eval().to(device)
    return [in_batches(module, v, batch_size, device).log_softmax(1) for v in views(x, tta)]


def mean_of(logps: list[torch.Tensor]) -> torch.Tensor:
    """The log of the mean class probability over views."""
    return torch.logsumexp(torch.stack(logps), 0) - math.log(len(logps))


def by_choice(logps: list[torch.Tensor], tta: str) -> dict[str, torch.Tensor]:
    """From the views of `tta`, the prediction of every tta choice they contain: the image alone is
    the first view, its mirror the first of the mirrored ones (`views`' order)."""
    out = {"none": logps[0]}
    if tta in ("flip", "flip+shift"):
        out["flip"] = mean_of([logps[0], logps[len(logps) // 2]])
    if tta == "flip+shift":
        out["flip+shift"] = mean_of(logps)
    return out


def predict(module: FashionClassifier, x: torch.Tensor, batch_size: int, device: torch.device, tta: str = "none") -> torch.Tensor:
    """Log-probabilities for uint8 images `x`, in order: the log of the mean class probability over
    the test-time views of each image."""
    return mean_of(view_log_probs(module, x, batch_size, device, tta))


def accuracy(logp: torch.Tensor, y: torch.Tensor) -> float:
    return round(float((logp.argmax(1) == y).float().mean()), 5)


# Fixed seeds, not `seed`: runs of every seed and variant are scored on the same images and noise.
SUBSET_SEED, NOISE_SEED = 0, 0


def with_noise(x: torch.Tensor, sigma: float, seed: int = NOISE_SEED) -> torch.Tensor:
    """uint8 images plus Gaussian noise of std `sigma` on the [0, 1] pixel scale, clipped to [0, 1] and
    rounded back to uint8 (the rounding adds at most 1/510, far below the noise)."""
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    return ((x.float() / 255 + sigma * noise).clamp(0, 1) * 255).round().to(torch.uint8)


def noise_key(sigma: float) -> str:
    """The metric's name: test_acc_noise_sigma0_1 for sigma 0.1 (no dot: dvc joins nested keys with dots)."""
    return "test_acc_noise_sigma" + f"{sigma:g}".replace(".", "_")


def robustness(module: FashionClassifier, p: FashionParams, prepared: Path, device: torch.device,
               test_x: torch.Tensor, test_y: torch.Tensor, test_acc: float) -> dict:
    """Single-view accuracy on a fixed subset of the training images and the generalisation gap (it
    minus the single-view test accuracy `test_acc`), and test accuracy under Gaussian pixel noise."""
    ev, out = p.evaluate, {}
    if ev.train_subset:
        x, y = load_split(prepared, "train")
        idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(SUBSET_SEED))[: ev.train_subset]
        train_acc = accuracy(predict(module, x[idx], ev.batch_size, device), y[idx])
        out.update(train_acc_subset=train_acc, train_subset_images=len(idx), generalisation_gap=round(train_acc - test_acc, 5))
    for sigma in ev.noise_sigmas:
        out[noise_key(sigma)] = accuracy(predict(module, with_noise(test_x, sigma), ev.batch_size, device), test_y)
    return out


def val_accuracies(module: FashionClassifier, p: FashionParams, prepared: Path, device: torch.device) -> dict[str, float]:
    """Accuracy on the validation images of each tta choice (of `evaluate.tta`'s views, or of all three
    with `evaluate.compare_tta`). They chose the checkpoint, never trained it: they show what each kind
    of test-time views does without looking at the test set, so choose `tta` by these. The ten
    flip+shift views contain the other choices' views, so one pass scores all three."""
    x_val, y_val = load_split(prepared, "val")
    val_views = "flip+shift" if p.evaluate.compare_tta else p.evaluate.tta
    logps = view_log_probs(module, x_val, p.evaluate.batch_size, device, val_views)
    return {tta: accuracy(logp, y_val) for tta, logp in by_choice(logps, val_views).items()}


@dataclass(frozen=True)
class Evaluation:
    """What fashion-evaluate measured: the metrics (in the order written) and the data of its figures."""

    metrics: dict[str, Any]
    actual: np.ndarray  # the test images' classes (indices into CLASSES)
    predicted: np.ndarray  # the classes predicted for them
    confusion: np.ndarray  # counts: actual class (rows) x predicted class


def compute(p: FashionParams, run: RunParams, prepared: Path, models: Path) -> Evaluation:
    """Every number and figure of fashion-evaluate: the best checkpoint on the test (and validation)
    images, under the chosen test-time views and under noise; writes nothing."""
    models = Path(models)
    summary = json.loads((models / SUMMARY).read_text()) if (models / SUMMARY).is_file() else {}
    start, device = time.perf_counter(), eval_device(run)
    module = load_checkpoint(models / "best.ckpt", FashionClassifier, stage="fashion-train")
    x, y = load_split(prepared, "test")
    test = by_choice(view_log_probs(module, x, p.evaluate.batch_size, device, p.evaluate.tta), p.evaluate.tta)
    logits, single = test[p.evaluate.tta], test["none"]
    pred = logits.argmax(1)
    val = val_accuracies(module, p, prepared, device)
    cm = multiclass_confusion_matrix(pred, y, num_classes=len(CLASSES)).numpy()
    per_class = cm.diagonal() / np.maximum(cm.sum(1), 1)
    result = {
        "test_acc": accuracy(logits, y),
        "test_loss": round(float(F.nll_loss(logits, y)), 5),
        "tta": p.evaluate.tta,
        "test_acc_single_view": accuracy(single, y),
        "val_acc_single_view": val["none"],
        "val_acc_flip_tta": val.get("flip"),
        "val_acc_flip_shift_tta": val.get("flip+shift"),
        "test_images": len(y),
        "per_class_acc": {name: round(float(a), 4) for name, a in zip(CLASSES, per_class)},
        "best_val_acc": summary.get("best_val_acc"),
        "params": sum(t.numel() for t in module.net.parameters()),
        "epochs": summary.get("epochs"),
        "train_wall_time_s": summary.get("train_wall_time_s"),
        "train_device": summary.get("device"),
    }
    result.update(robustness(module, p, prepared, device, x, y, result["test_acc_single_view"]))
    result.update(eval_wall_time_s=round(time.perf_counter() - start, 2), eval_device=str(device))
    return Evaluation(result, y.numpy(), pred.numpy(), cm)


def write_reports(evaluation: Evaluation, live: Path, metrics: Path, plots_dir: Path) -> None:
    """`metrics` (JSON) and `plots_dir/{confusion.csv, confusion.png, curves.png}`."""
    plots_dir = Path(plots_dir)
    files.write_json(metrics, evaluation.metrics)
    # One row per test image: the layout dvc's confusion template reads.
    names = np.array(CLASSES)
    table = pd.DataFrame({"actual": names[evaluation.actual], "predicted": names[evaluation.predicted]})
    files.write_csv(table, plots_dir / "confusion.csv")
    acc = evaluation.metrics["test_acc"]
    plots.confusion_matrix_png(evaluation.confusion, CLASSES, plots_dir / "confusion.png", f"Fashion-MNIST test, accuracy {acc:.2%}")
    plots.curves_png(live, plots_dir / "curves.png", "Fashion-MNIST MobileNet training")


def evaluate(p: FashionParams, run: RunParams, prepared: Path, models: Path, live: Path, metrics: Path, plots_dir: Path) -> None:
    """Write `metrics` (JSON), and `plots_dir/{confusion.csv, confusion.png, curves.png}`."""
    evaluation = compute(p, run, prepared, models)
    write_reports(evaluation, live, metrics, plots_dir)
    log.info("test accuracy %.4f, loss %.4f -> %s", evaluation.metrics["test_acc"], evaluation.metrics["test_loss"], metrics)
