"""PNG plots a person can open anywhere (dvc's HTML plots need a CDN, so offline they render blank)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


# Fonts with Chinese glyphs, by family name (Debian: fonts-wqy-microhei, fonts-noto-cjk).
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "SimHei", "Microsoft YaHei")


def cjk_font() -> str:
    """The family name of an installed font that draws Chinese, registering it with matplotlib if
    it was installed after matplotlib built its font cache."""
    from matplotlib import font_manager

    def known() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((family for family in CJK_FONTS if family in names), None)

    if family := known():
        return family
    for file in font_manager.findSystemFonts():
        lower = Path(file).name.lower()
        if any(k in lower for k in ("wqy", "notosanscjk", "notosanssc", "sourcehansans", "simhei", "msyh")):
            font_manager.fontManager.addfont(file)
    if family := known():
        return family
    from kexue.errors import InputError

    raise InputError(
        "no font with Chinese glyphs found for the PNG pages; install one, e.g. `apt-get install fonts-wqy-microhei` "
        f"(any of {', '.join(CJK_FONTS)} works), or read the HTML page instead"
    )


def save_figure(fig: plt.Figure, path: Path) -> None:
    """Save and close `fig` atomically."""
    _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    os.replace(tmp, path)


def confusion_matrix_png(cm: np.ndarray, classes: Sequence[str], path: Path, title: str) -> None:
    """Counts in each cell; rows are true classes, columns predicted; colour = row-normalised rate."""
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    n = len(classes)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * n, 0.8 + 0.7 * n))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(n), classes, rotation=45, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    _save(fig, path)


def read_dvclive_series(live_dir: Path) -> dict[str, pd.DataFrame]:
    """dvclive's per-metric TSVs under `live_dir/plots/metrics`, keyed 'train/loss' etc."""
    root = Path(live_dir) / "plots" / "metrics"
    return {str(f.relative_to(root).with_suffix("")): pd.read_csv(f, sep="\t") for f in sorted(root.rglob("*.tsv"))}


def curves_png(live_dir: Path, path: Path, title: str, metrics: Sequence[str] = ("loss", "acc")) -> None:
    """One panel per metric, train and val curves against the epoch."""
    series = read_dvclive_series(live_dir)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6))
    for ax, metric in zip(np.atleast_1d(axes), metrics):
        for split in ("train", "val"):
            df = series.get(f"{split}/{metric}")
            if df is None or df.empty:
                continue
            x = np.arange(1, len(df) + 1)
            ax.plot(x, df[metric], marker="o", markersize=3, label=split)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    _save(fig, path)


def image_grid_png(images: np.ndarray, path: Path, title: str, cols: int, labels: Sequence[str] | None = None) -> None:
    """uint8 grey images (N, H, W) tiled `cols` per row, each under its label when given."""
    images = np.asarray(images)
    n, h, w = images.shape
    rows = -(-n // cols)
    if labels is None:
        canvas = np.zeros((rows * (h + 2) + 2, cols * (w + 2) + 2), dtype=np.uint8)
        for i, img in enumerate(images):
            r, c = divmod(i, cols)
            canvas[2 + r * (h + 2) : 2 + r * (h + 2) + h, 2 + c * (w + 2) : 2 + c * (w + 2) + w] = img
        fig, ax = plt.subplots(figsize=(0.45 * cols + 0.5, 0.45 * rows + 0.8))
        ax.imshow(canvas, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(title)
        _save(fig, path)
        return
    scale = 0.016  # inches per image pixel
    fig, axes = plt.subplots(rows, cols, figsize=(cols * w * scale + 0.4, rows * (h * scale + 0.35) + 0.6), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for i, img in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(labels[i], fontsize=9, family="monospace")
    fig.suptitle(title)
    _save(fig, path)


def line_png(x: Sequence[float], y: Sequence[float], path: Path, title: str, xlabel: str, ylabel: str,
             label: str, hline: float | None = None, hline_label: str = "") -> None:
    """One curve with markers, and optionally a dashed reference level (e.g. a floor)."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(x, y, marker="o", markersize=4, label=label)
    if hline is not None:
        ax.axhline(hline, color="grey", linestyle="--", label=hline_label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    _save(fig, path)


def bars_png(categories: Sequence[str], series: dict[str, Sequence[float]], path: Path, title: str, ylabel: str) -> None:
    """Grouped bars: one group per category, one bar per series."""
    k = len(series)
    x = np.arange(len(categories))
    width = 0.8 / max(k, 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(categories), 3.8))
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x + (i - (k - 1) / 2) * width, values, width, label=name)
    ax.set_xticks(x, categories, rotation=45, ha="right")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    ax.set_title(title)
    _save(fig, path)


def roc_png(fpr: np.ndarray, tpr: np.ndarray, path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    ax.plot(fpr, tpr, label="model")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title)
    _save(fig, path)


def words_png(top: pd.DataFrame, path: Path, title: str) -> None:
    """Two horizontal bar panels from a frame with columns word, mean_saliency, side (positive/negative)."""
    font = cjk_font()
    sides = [s for s in ("positive", "negative") if (top["side"] == s).any()]
    n = max((top["side"] == s).sum() for s in sides) if sides else 1
    fig, axes = plt.subplots(1, max(1, len(sides)), figsize=(9, 0.25 * n + 1.2), squeeze=False)
    for ax, side in zip(axes.flat, sides):
        part = top[top["side"] == side]
        ax.barh(range(len(part)), part["mean_saliency"], color="tab:green" if side == "positive" else "tab:red")
        ax.set_yticks(range(len(part)), part["word"], fontfamily=font)
        ax.invert_yaxis()
        ax.grid(alpha=0.3, axis="x")
        ax.set_title(f"towards {side}")
    fig.suptitle(title)
    _save(fig, path)
