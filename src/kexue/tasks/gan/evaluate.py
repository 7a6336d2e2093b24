"""Stage gan-evaluate: FID against the test images in the GAN's own feature net (stage
gan-features), its floor (real training images vs test), precision and recall (k-NN balls in the same
features), class coverage, a sample grid and FID over training."""

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
from kexue.fashion_mnist import CLASSES
from kexue.tasks.gan import fid as fidlib
from kexue.tasks.gan.data import STATS, load_images
from kexue.tasks.gan.feature_net import SUMMARY as FEATURES_SUMMARY
from kexue.tasks.gan.feature_net import load_feature_net
from kexue.tasks.gan.model import GAN, build_generator, sample
from kexue.tasks.gan.params import GanParams, ModelParams
from kexue.tasks.gan.train import SNAPSHOTS, SUMMARY

log = logging.getLogger(__name__)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _is_final(snapshot: dict, summary: dict) -> bool:
    """Whether a snapshot holds the checkpoint's own generator (its FID is already measured)."""
    if "global_step" in summary:
        return snapshot.get("step") == summary["global_step"]
    return snapshot["epoch"] == summary.get("epochs")  # a summary written before the time budget existed


def evaluate(
    p: GanParams, run: RunParams, prepared: Path, models: Path, feature_net: Path, live: Path, metrics: Path, plots_dir: Path
) -> None:
    """Stage 4: FID and its floor, precision and recall (feature net), class coverage -> `metrics`, plots.

    Writes `metrics` (JSON) and `plots_dir/{samples.png, fid.csv, fid.png, coverage.csv,
    coverage.png, curves.png}`."""
    prepared, models, metrics, plots_dir = Path(prepared), Path(models), Path(metrics), Path(plots_dir)
    ev = p.evaluate
    start = time.perf_counter()
    device = eval_device(run)

    gan = load_checkpoint(models / "last.ckpt", GAN, stage="gan-train")
    net = load_feature_net(feature_net).to(device)
    net_summary = _read_json(Path(feature_net) / FEATURES_SUMMARY)

    def embed(images: torch.Tensor) -> torch.Tensor:
        return fidlib.embed(net, images, ev.batch_size, device)

    test_x, _ = load_images(prepared, "test")
    train_x, _ = load_images(prepared, "train")
    test_f = embed(test_x)
    metric = fidlib.fid_metric_with_real(test_f)
    # The floor: real training images (a seeded subset) against the same test images.
    pick = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(run.seed))[: ev.floor_images]
    floor_f = embed(train_x[pick])
    floor = fidlib.fid_against_real(metric, floor_f, len(floor_f))

    generated = gan.generate(ev.samples, run.seed, ev.batch_size, device)
    gen_f = embed(generated)
    fid = fidlib.fid_against_real(metric, gen_f, len(gen_f))
    # Precision and recall on equal-sized sets (the k-NN radii depend on the set size).
    n = min(len(test_f), len(gen_f))
    precision, recall = fidlib.precision_recall(test_f[:n], gen_f[:n], ev.pr_k)
    m = min(len(test_f), len(floor_f))
    precision_real, recall_real = fidlib.precision_recall(test_f[:m], floor_f[:m], ev.pr_k)
    gen_hist = fidlib.class_histogram(fidlib.predicted_classes(net, generated, ev.batch_size, device), len(CLASSES))
    # With EMA on, the raw generator is in the checkpoint too. The average never feeds back into
    # training, so this is the FID the same run would score with `ema: off`: EMA's effect, for free.
    fid_raw = None
    if gan.g_ema is not None:
        raw_images = sample(gan.generator, ev.samples, run.seed, gan.mp.z_dim, ev.batch_size, device)
        fid_raw = fidlib.fid_against_real(metric, embed(raw_images), ev.samples)
    test_hist = fidlib.class_histogram(fidlib.predicted_classes(net, test_x, ev.batch_size, device), len(CLASSES))
    summary = _read_json(models / SUMMARY)

    # FID over training, from the generator snapshots gan-train kept (the same noise for each; the
    # final snapshot is the checkpoint's generator, already measured).
    curve = []
    z_dim = gan.mp.z_dim
    for snap in sorted((models / SNAPSHOTS).glob("*.pt")):
        state = load_checkpoint(snap, stage="gan-train")
        if _is_final(state, summary):
            value = fid
        else:
            g = build_generator(ModelParams.model_validate(state["model"]))
            g.load_state_dict(state["state_dict"])
            value = fidlib.fid_against_real(metric, embed(sample(g, ev.samples, run.seed, z_dim, ev.batch_size, device)), ev.samples)
        curve.append({"epoch": state["epoch"], "generator_steps": state.get("generator_steps"), "train_time_s": state.get("train_time_s"),
                      "fid": round(value, 4)})
        log.info("epoch %s: FID %.3f (floor %.3f)", state["epoch"], value, floor)
    # By generator step (a budget can stop mid-epoch); snapshots written before steps were recorded, by epoch.
    curve.sort(key=lambda r: (-1 if r["generator_steps"] is None else r["generator_steps"], r["epoch"]))

    stats = _read_json(prepared / STATS)
    result = {
        "fid": round(fid, 4),
        "fid_floor": round(floor, 6),  # small in a feature space where real sets agree closely
        "fid_ratio": round(fid / floor, 3) if floor > 0 else None,
        "fid_without_ema": round(fid_raw, 4) if fid_raw is not None else None,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        # The same two for real training images against the test images: what real data scores.
        "precision_real": round(precision_real, 4),
        "recall_real": round(recall_real, 4),
        "pr_k": ev.pr_k,
        "pr_images": n,
        "feature_net_test_acc": net_summary.get("test_acc"),
        "coverage_entropy_bits": round(fidlib.entropy_bits(gen_hist), 4),
        "coverage_entropy_test_bits": round(fidlib.entropy_bits(test_hist), 4),
        "coverage_entropy_max_bits": round(fidlib.MAX_ENTROPY_10, 4),
        "coverage": {name: round(float(f), 4) for name, f in zip(CLASSES, gen_hist)},
        "generated_images": ev.samples,
        "floor_images": len(pick),
        "test_images": len(test_x),
        "feature_dim": net.feature_dim,
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
        "eval_wall_time_s": round(time.perf_counter() - start, 2),
        "eval_device": str(device),
    }
    files.write_json(metrics, result)
    files.write_csv(pd.DataFrame(curve, columns=["epoch", "generator_steps", "train_time_s", "fid"]), plots_dir / "fid.csv")
    files.write_csv(
        pd.DataFrame({"class": CLASSES, "generated": gen_hist.numpy(), "test": test_hist.numpy()}), plots_dir / "coverage.csv"
    )
    grid = sample(gan.sampler, ev.grid * ev.grid, run.seed + 1, z_dim, ev.batch_size, device)
    plots.image_grid_png(grid.numpy(), plots_dir / "samples.png", f"generated (fixed noise), FID {fid:.2f} / floor {floor:.2f}", ev.grid)
    if curve:
        by_time = bool(summary.get("time_budget_min")) and all(r["train_time_s"] is not None for r in curve)
        plots.line_png(
            [r["train_time_s"] / 60 if by_time else r["epoch"] for r in curve], [r["fid"] for r in curve], plots_dir / "fid.png",
            "FID over training (feature net)", "training time (min)" if by_time else "epoch", "FID vs test", "generator",
            hline=floor, hline_label="floor: train vs test",
        )
    plots.bars_png(
        CLASSES, {"generated": gen_hist.tolist(), "test (real)": test_hist.tolist()}, plots_dir / "coverage.png",
        f"predicted classes, entropy {result['coverage_entropy_bits']:.2f} / {fidlib.MAX_ENTROPY_10:.2f} bits", "fraction",
    )
    plots.curves_png(live, plots_dir / "curves.png", "GAN training", metrics=("d_loss", "g_loss", "w_dist"))
    log.info("FID %.3f, floor %.3f, ratio %s, precision %.3f, recall %.3f -> %s", fid, floor, result["fid_ratio"], precision, recall, metrics)
