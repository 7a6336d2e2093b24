"""A 2-D PCA projection of word vectors, one panel per model, each word drawn at its point in a
font that has Chinese glyphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kexue import plots


def pca_2d(matrix: np.ndarray) -> np.ndarray:
    """The rows of `matrix` on its first two principal axes (centred, by SVD; 2 x dim is all we need,
    so no library PCA)."""
    centred = matrix - matrix.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def pca_png(panels: dict[str, tuple[list[str], np.ndarray]], groups: dict[str, str], path: Path, title: str) -> None:
    """`panels`: name -> (words, their vectors), one scatter of labelled points per panel; each word
    coloured by its group in `groups` (here: the text it is most frequent in)."""
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    font = plots.cjk_font()
    names = sorted(set(groups.values()))
    colours = {g: plt.get_cmap("tab10")(i) for i, g in enumerate(names)}
    fig, axes = plt.subplots(1, len(panels), figsize=(9 * len(panels), 9), squeeze=False)
    for ax, (name, (words, matrix)) in zip(axes[0], panels.items()):
        xy = pca_2d(np.asarray(matrix, dtype=np.float64))
        for word, (x, y) in zip(words, xy):
            colour = colours.get(groups.get(word), "grey")
            ax.scatter([x], [y], s=5, color=colour)
            ax.annotate(word, (x, y), fontsize=7, fontfamily=font, color=colour, xytext=(2, 2), textcoords="offset points")
        ax.set_title(name)
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        ax.grid(alpha=0.2)
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=colours[g], label=g) for g in names]
    fig.legend(handles=handles, loc="upper right", title="most frequent in", prop=font_manager.FontProperties(family=font))
    fig.suptitle(title)
    plots.save_figure(fig, path)
