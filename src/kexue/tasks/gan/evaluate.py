"""Stage gan-evaluate: FID against the test images in our classifier's feature space, its floor
(real training images vs test), class coverage, a sample grid and FID over training."""

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
from kexue.nn.dcgan import Generator
from kexue.tasks.fashion.data import CLASSES
from kexue.tasks.fashion.model import FashionClassifier
from kexue.tasks.gan import fid as fidlib
from kexue.tasks.gan.data import STATS, load_images
from kexue.tasks.gan.model import GAN, sample
from kexue.tasks.gan.params import GanParams
from kexue.tasks.gan.train import SNAPSHOTS, SUMMARY

log = logging.getLogger(__name__)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def evaluate(
    p: GanParams, run: RunParams, prepared: Path, models: Path, fashion_models: Path, live: Path, metrics: Path, plots_dir: Path
) -> None:
    """Stage 3: FID (and its floor) in the fashion classifier's features, class coverage -> `metrics`, plots.

    Writes `metrics` (JSON) and `plots_dir/{samples.png, fid.csv, fid.png, coverage.csv,
    coverage.png, curves.png}`."""
    prepared, models, metrics, plots_dir = Path(prepared), Path(models), Path(metrics), Path(plots_dir)
    ev = p.evaluate
    start = time.perf_counter()
    device = eval_device(run)

    gan = load_checkpoint(models / "last.ckpt", GAN, stage="gan-train")
    classifier = load_checkpoint(Path(fashion_models) / "best.ckpt", FashionClassifier, stage="fashion-train").eval().to(device)
    metric = fidlib.fid_metric(fidlib.ClassifierFeatures(classifier)).to(device)

    test_x, _ = load_images(prepared, "test")
    train_x, _ = load_images(prepared, "train")
    fidlib.add_images(metric, test_x, real=True, batch_size=ev.batch_size)
    # The floor: real training images (a seeded subset) against the same test images.
    pick = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(run.seed))[: ev.floor_images]
    floor = fidlib.fid_against_real(metric, train_x[pick], ev.batch_size)

    generated = gan.generate(ev.samples, run.seed, ev.batch_size, device)
    fid = fidlib.fid_against_real(metric, generated, ev.batch_size)
    gen_hist = fidlib.class_histogram(fidlib.predicted_classes(classifier, generated, ev.batch_size), len(CLASSES))
    # With EMA on, the raw generator is in the checkpoint too. The average never feeds back into
    # training, so this is the FID the same run would score with `ema: off`: EMA's effect, for free.
    fid_raw = None
    if gan.g_ema is not None:
        raw_images = sample(gan.generator, ev.samples, run.seed, gan.mp.z_dim, ev.batch_size, device)
        fid_raw = fidlib.fid_against_real(metric, raw_images, ev.batch_size)
    test_hist = fidlib.class_histogram(fidlib.predicted_classes(classifier, test_x, ev.batch_size), len(CLASSES))
    summary = _read_json(models / SUMMARY)

    # FID over training, from the generator snapshots gan-train kept (the same noise for each; the
    # final epoch's snapshot is the checkpoint's generator, already measured).
    curve = []
    z_dim, channels = gan.mp.z_dim, gan.mp.g_channels
    for snap in sorted((models / SNAPSHOTS).glob("epoch_*.pt")):
        state = load_checkpoint(snap, stage="gan-train")
        if state["epoch"] == summary.get("epochs"):
            value = fid
        else:
            g = Generator(z_dim, channels)
            g.load_state_dict(state["state_dict"])
            value = fidlib.fid_against_real(metric, sample(g, ev.samples, run.seed, z_dim, ev.batch_size, device), ev.batch_size)
        curve.append({"epoch": state["epoch"], "fid": value})
        log.info("epoch %d: FID %.3f (floor %.3f)", state["epoch"], value, floor)

    stats = _read_json(prepared / STATS)
    result = {
        "fid": round(fid, 4),
        "fid_floor": round(floor, 4),
        "fid_ratio": round(fid / floor, 3) if floor > 0 else None,
        "fid_without_ema": round(fid_raw, 4) if fid_raw is not None else None,
        "coverage_entropy_bits": round(fidlib.entropy_bits(gen_hist), 4),
        "coverage_entropy_test_bits": round(fidlib.entropy_bits(test_hist), 4),
        "coverage_entropy_max_bits": round(fidlib.MAX_ENTROPY_10, 4),
        "coverage": {name: round(float(f), 4) for name, f in zip(CLASSES, gen_hist)},
        "generated_images": ev.samples,
        "floor_images": len(pick),
        "test_images": len(test_x),
        "feature_dim": classifier.net.feature_dim,
        "generator_params": sum(t.numel() for t in gan.generator.parameters()),
        "critic_params": sum(t.numel() for t in gan.critic.parameters()),
        "epochs": summary.get("epochs"),
        "generator_steps": summary.get("generator_steps"),
        "train_wall_time_s": summary.get("train_wall_time_s"),
        "train_device": summary.get("device"),
        "train_images": stats.get("train_images"),
        "eval_wall_time_s": round(time.perf_counter() - start, 2),
        "eval_device": str(device),
    }
    files.write_json(metrics, result)
    files.write_csv(pd.DataFrame(curve, columns=["epoch", "fid"]), plots_dir / "fid.csv")
    files.write_csv(
        pd.DataFrame({"class": CLASSES, "generated": gen_hist.numpy(), "test": test_hist.numpy()}), plots_dir / "coverage.csv"
    )
    grid = sample(gan.sampler, ev.grid * ev.grid, run.seed + 1, z_dim, ev.batch_size, device)
    plots.image_grid_png(grid.numpy(), plots_dir / "samples.png", f"generated (fixed noise), FID {fid:.2f} / floor {floor:.2f}", ev.grid)
    if curve:
        plots.line_png(
            [r["epoch"] for r in curve], [r["fid"] for r in curve], plots_dir / "fid.png", "FID over training (classifier features)",
            "epoch", "FID vs test", "generator", hline=floor, hline_label="floor: train vs test",
        )
    plots.bars_png(
        CLASSES, {"generated": gen_hist.tolist(), "test (real)": test_hist.tolist()}, plots_dir / "coverage.png",
        f"predicted classes, entropy {result['coverage_entropy_bits']:.2f} / {fidlib.MAX_ENTROPY_10:.2f} bits", "fraction",
    )
    plots.curves_png(live, plots_dir / "curves.png", "GAN training", metrics=("d_loss", "g_loss", "w_dist"))
    log.info("FID %.3f, floor %.3f, ratio %s -> %s", fid, floor, result["fid_ratio"], metrics)
