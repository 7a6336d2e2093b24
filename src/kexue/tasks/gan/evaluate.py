"""Stage gan-evaluate: FID against the test images in the GAN's own feature net (stage
gan-features), its floor (real training images vs test), the FID relative to issue 38's baseline run,
precision and recall (k-NN balls in the same features), class coverage, a sample grid and FID over
training."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance

from kexue import files, plots
from kexue.fashion_mnist import CLASSES
from kexue.inference import eval_device
from kexue.loading import load_checkpoint
from kexue.params import RunParams
from kexue.tasks.gan import baseline as baselines
from kexue.tasks.gan import fid as fidlib
from kexue.tasks.gan.data import STATS, load_images
from kexue.tasks.gan.feature_net import SUMMARY as FEATURES_SUMMARY
from kexue.tasks.gan.feature_net import load_feature_net
from kexue.tasks.gan.model import GAN, build_generator, sample
from kexue.tasks.gan.params import EvaluateParams, GanParams, ModelParams
from kexue.tasks.gan.train import SNAPSHOTS, SUMMARY

log = logging.getLogger(__name__)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _is_final(snapshot: dict, summary: dict) -> bool:
    """Whether a snapshot holds the checkpoint's own generator (its FID is already measured)."""
    if "global_step" in summary:
        return snapshot.get("step") == summary["global_step"]
    return snapshot["epoch"] == summary.get("epochs")  # a summary written before the time budget existed


@dataclass(frozen=True)
class Judge:
    """The frozen feature net and the test images' features and FID statistics: what every image set is scored in."""

    net: nn.Module
    test_features: torch.Tensor
    metric: FrechetInceptionDistance
    batch_size: int
    device: torch.device

    @classmethod
    def of(cls, net: nn.Module, test_x: torch.Tensor, batch_size: int, device: torch.device) -> Judge:
        test_f = fidlib.embed(net, test_x, batch_size, device)
        return cls(net, test_f, fidlib.fid_metric_with_real(test_f), batch_size, device)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return fidlib.embed(self.net, images, self.batch_size, self.device)

    def fid(self, features: torch.Tensor) -> float:
        return fidlib.fid_against_real(self.metric, features, len(features))

    def classes(self, images: torch.Tensor) -> torch.Tensor:
        """The fraction of `images` the feature net reads as each class."""
        return fidlib.class_histogram(fidlib.predicted_classes(self.net, images, self.batch_size, self.device), len(CLASSES))


@dataclass(frozen=True)
class Scores:
    """The final generator's images against the test images, beside real training images (the floor)."""

    fid: float
    floor: float  # FID of real training images (a seeded subset) against the same test images
    fid_raw: float | None  # the generator without EMA, where EMA is on
    precision: float
    recall: float
    precision_real: float  # the same two for the real training images: what real data scores
    recall_real: float
    pr_images: int
    floor_images: int
    test_images: int
    gen_hist: torch.Tensor  # the fraction of generated images the feature net reads as each class
    test_hist: torch.Tensor  # the same for the test images


def scores(judge: Judge, gan: GAN, ev: EvaluateParams, seed: int, test_x: torch.Tensor, train_x: torch.Tensor) -> Scores:
    """FID and its floor, precision and recall of both, the raw generator's FID and class coverage."""
    test_f = judge.test_features
    pick = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed))[: ev.floor_images]
    floor_f = judge.embed(train_x[pick])
    generated = gan.generate(ev.samples, seed, ev.batch_size, judge.device)
    gen_f = judge.embed(generated)
    # Precision and recall on equal-sized sets (the k-NN radii depend on the set size).
    n, m = min(len(test_f), len(gen_f)), min(len(test_f), len(floor_f))
    precision, recall = fidlib.precision_recall(test_f[:n], gen_f[:n], ev.pr_k)
    precision_real, recall_real = fidlib.precision_recall(test_f[:m], floor_f[:m], ev.pr_k)
    # With EMA on, the raw generator is in the checkpoint too. The average never feeds back into
    # training, so this is the FID the same run would score with `ema_decay: 0`: EMA's effect, for free.
    fid_raw = None
    if gan.g_ema is not None:
        fid_raw = judge.fid(judge.embed(sample(gan.generator, ev.samples, seed, gan.mp.z_dim, ev.batch_size, judge.device)))
    return Scores(judge.fid(gen_f), judge.fid(floor_f), fid_raw, precision, recall, precision_real, recall_real, n, len(pick),
                  len(test_x), judge.classes(generated), judge.classes(test_x))


def fid_curve(judge: Judge, models: Path, summary: dict, s: Scores, ev: EvaluateParams, seed: int, z_dim: int) -> list[dict]:
    """FID over training, from the generator snapshots gan-train kept (the same noise for each; the
    final snapshot is the checkpoint's generator, already measured), by generator step."""
    curve = []
    for snap in sorted((models / SNAPSHOTS).glob("*.pt")):
        state = load_checkpoint(snap, stage="gan-train")
        if _is_final(state, summary):
            value = s.fid
        else:
            g = build_generator(ModelParams.model_validate(state["model"]))
            g.load_state_dict(state["state_dict"])
            value = judge.fid(judge.embed(sample(g, ev.samples, seed, z_dim, ev.batch_size, judge.device)))
        curve.append({"epoch": state["epoch"], "generator_steps": state.get("generator_steps"), "train_time_s": state.get("train_time_s"),
                      "fid": round(value, 4)})
        log.info("epoch %s: FID %.3f (floor %.3f)", state["epoch"], value, s.floor)
    # By generator step (a budget can stop mid-epoch); snapshots written before steps were recorded, by epoch.
    return sorted(curve, key=lambda r: (-1 if r["generator_steps"] is None else r["generator_steps"], r["epoch"]))


def _metrics(s: Scores, ev: EvaluateParams, gan: GAN, judge: Judge, net_summary: dict, summary: dict, stats: dict,
             curve: list[dict], against_baseline: dict[str, Any], digest: str) -> dict[str, Any]:
    return {
        "fid": round(s.fid, 4),
        **against_baseline,  # fid_baseline, fid_vs_baseline: issue 38's reference run (baseline.py)
        "fid_floor": round(s.floor, 6),  # small in a feature space where real sets agree closely
        "fid_ratio": round(s.fid / s.floor, 3) if s.floor > 0 else None,
        "fid_without_ema": round(s.fid_raw, 4) if s.fid_raw is not None else None,
        "precision": round(s.precision, 4),
        "recall": round(s.recall, 4),
        # The same two for real training images against the test images: what real data scores.
        "precision_real": round(s.precision_real, 4),
        "recall_real": round(s.recall_real, 4),
        "pr_k": ev.pr_k,
        "pr_images": s.pr_images,
        "feature_net_test_acc": net_summary.get("test_acc"),
        "feature_net_digest": digest,  # FIDs compare only between runs with the same digest
        "coverage_entropy_bits": round(fidlib.entropy_bits(s.gen_hist), 4),
        "coverage_entropy_test_bits": round(fidlib.entropy_bits(s.test_hist), 4),
        "coverage_entropy_max_bits": round(fidlib.MAX_ENTROPY_10, 4),
        "coverage": {name: round(float(f), 4) for name, f in zip(CLASSES, s.gen_hist)},
        "generated_images": ev.samples,
        "floor_images": s.floor_images,
        "test_images": s.test_images,
        "feature_dim": judge.net.feature_dim,
        "generator_params": sum(t.numel() for t in gan.generator.parameters()),
        "critic_params": sum(t.numel() for t in gan.critic.parameters()),
        "epochs": summary.get("epochs"),
        "generator_steps": summary.get("generator_steps"),
        "train_wall_time_s": summary.get("train_wall_time_s"),
        "time_budget_min": summary.get("time_budget_min"),
        "stopped_by_budget": summary.get("stopped_by_budget"),
        "generator": gan.mp.generator,
        "critic": gan.mp.critic,
        "fid_curve": curve,
        "train_device": summary.get("device"),
        "train_images": stats.get("train_images"),
    }


@dataclass(frozen=True)
class Evaluation:
    """What gan-evaluate measured: the metrics (in the order written) and the data of its figures."""

    metrics: dict[str, Any]
    scores: Scores
    grid: np.ndarray  # uint8 images of the sample grid (fixed noise), `grid_cols` a row
    grid_cols: int
    by_time: bool  # fid.png's x axis: training time (a time budget) rather than epochs


def compute(p: GanParams, run: RunParams, prepared: Path, models: Path, feature_net: Path, baseline: Path) -> Evaluation:
    """Every number and figure of gan-evaluate, from the checkpoint, its snapshots, the feature net and the
    baseline record; writes nothing."""
    prepared, models = Path(prepared), Path(models)
    ev, start, device = p.evaluate, time.perf_counter(), eval_device(run)
    reference = baselines.read(baseline)  # first: a bad file fails before minutes of scoring
    gan = load_checkpoint(models / "last.ckpt", GAN, stage="gan-train")
    net = load_feature_net(feature_net)
    digest = baselines.weights_digest(net)
    net = net.to(device)
    test_x, _ = load_images(prepared, "test")
    train_x, _ = load_images(prepared, "train")
    judge = Judge.of(net, test_x, ev.batch_size, device)
    s = scores(judge, gan, ev, run.seed, test_x, train_x)
    summary = _read_json(models / SUMMARY)
    curve = fid_curve(judge, models, summary, s, ev, run.seed, gan.mp.z_dim)
    grid = sample(gan.sampler, ev.grid * ev.grid, run.seed + 1, gan.mp.z_dim, ev.batch_size, device)
    metrics = _metrics(s, ev, gan, judge, _read_json(Path(feature_net) / FEATURES_SUMMARY), summary, _read_json(prepared / STATS), curve,
                       baselines.scores_against(reference, s.fid, digest, Path(baseline)), digest)
    metrics.update(eval_wall_time_s=round(time.perf_counter() - start, 2), eval_device=str(device))
    by_time = bool(summary.get("time_budget_min")) and all(r["train_time_s"] is not None for r in curve)
    return Evaluation(metrics, s, grid.numpy(), ev.grid, by_time)


def write_reports(evaluation: Evaluation, live: Path, metrics: Path, plots_dir: Path) -> None:
    """`metrics` (JSON) and `plots_dir/{fid.csv, coverage.csv, samples.png, fid.png, coverage.png, curves.png}`."""
    result, s, curve, plots_dir = evaluation.metrics, evaluation.scores, evaluation.metrics["fid_curve"], Path(plots_dir)
    files.write_json(metrics, result)
    files.write_csv(pd.DataFrame(curve, columns=["epoch", "generator_steps", "train_time_s", "fid"]), plots_dir / "fid.csv")
    files.write_csv(
        pd.DataFrame({"class": CLASSES, "generated": s.gen_hist.numpy(), "test": s.test_hist.numpy()}), plots_dir / "coverage.csv"
    )
    plots.image_grid_png(evaluation.grid, plots_dir / "samples.png", f"generated (fixed noise), FID {s.fid:.2f} / floor {s.floor:.2f}",
                         evaluation.grid_cols)
    if curve:
        by_time = evaluation.by_time
        plots.line_png(
            [r["train_time_s"] / 60 if by_time else r["epoch"] for r in curve], [r["fid"] for r in curve], plots_dir / "fid.png",
            "FID over training (feature net)", "training time (min)" if by_time else "epoch", "FID vs test", "generator",
            hline=s.floor, hline_label="floor: train vs test",
        )
    plots.bars_png(
        CLASSES, {"generated": s.gen_hist.tolist(), "test (real)": s.test_hist.tolist()}, plots_dir / "coverage.png",
        f"predicted classes, entropy {result['coverage_entropy_bits']:.2f} / {fidlib.MAX_ENTROPY_10:.2f} bits", "fraction",
    )
    plots.curves_png(live, plots_dir / "curves.png", "GAN training", metrics=("d_loss", "g_loss", "w_dist"))


def evaluate(
    p: GanParams, run: RunParams, prepared: Path, models: Path, feature_net: Path, baseline: Path, live: Path, metrics: Path,
    plots_dir: Path,
) -> None:
    """Stage 4: FID and its floor, FID against the baseline run, precision and recall (feature net), class coverage -> `metrics`, plots.

    `baseline`: the reference run's record (baseline.py). Writes `metrics` (JSON) and `plots_dir/{samples.png, fid.csv, fid.png, coverage.csv,
    coverage.png, curves.png}`."""
    evaluation = compute(p, run, prepared, models, feature_net, baseline)
    write_reports(evaluation, live, metrics, plots_dir)
    m = evaluation.metrics
    log.info("FID %.3f, floor %.3f, ratio %s, precision %.3f, recall %.3f -> %s", evaluation.scores.fid, evaluation.scores.floor,
             m["fid_ratio"], evaluation.scores.precision, evaluation.scores.recall, metrics)
