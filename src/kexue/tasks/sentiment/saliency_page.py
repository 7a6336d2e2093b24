"""A page a person reads at a glance: reviews with each word coloured by its saliency (green pushed
towards positive, red towards negative), as HTML and as a PNG drawn with a CJK font."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kexue import files, plots


@dataclass
class ScoredReview:
    tokens: list[str]
    saliency: list[float]
    probability: float  # P(positive)
    label: int  # the truth, 1 = positive


def _rgba(score: float, scale: float) -> tuple[float, float, float, float]:
    a = min(1.0, abs(score) / scale) if scale > 0 else 0.0
    return (0.10, 0.65, 0.25, a) if score > 0 else (0.85, 0.15, 0.15, a)


def _scale(reviews: Sequence[ScoredReview]) -> float:
    """One colour scale for the page: the 95th percentile of |saliency|, so one outlier does not
    wash out every other word."""
    values = sorted(abs(s) for r in reviews for s in r.saliency)
    return values[int(0.95 * (len(values) - 1))] if values else 1.0


def write_html(reviews: Sequence[ScoredReview], path: Path, title: str) -> None:
    scale = _scale(reviews)
    rows = []
    for r in reviews:
        words = "".join(
            '<span title="{:+.3f}" style="background:rgba({},{},{},{:.2f})">{}</span>'.format(
                s, *(int(255 * c) for c in _rgba(s, scale)[:3]), _rgba(s, scale)[3], html.escape(t)
            )
            for t, s in zip(r.tokens, r.saliency)
        )
        verdict = "positive" if r.probability >= 0.5 else "negative"
        truth = "positive" if r.label == 1 else "negative"
        mark = "✓" if verdict == truth else "✗"
        rows.append(f'<div class="r"><div class="m">{mark} P(positive) = {r.probability:.3f}, truth: {truth}</div>{words}</div>')
    page = f"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.9}}
.r{{margin:1.2em 0}} .m{{color:#555;font-size:.85em}} span{{padding:1px 1px;border-radius:3px}}</style></head>
<body><h2>{html.escape(title)}</h2>
<p>Saliency of word i = P(positive | review) &minus; P(positive | review without word i).
<span style="background:rgba(25,166,64,.8)">green</span>: pushed towards positive;
<span style="background:rgba(217,38,38,.8)">red</span>: towards negative; hover a word for its value.</p>
{''.join(rows)}
</body></html>
"""
    files.write_text(path, page)


def write_png(reviews: Sequence[ScoredReview], path: Path, title: str, width_px: int = 1100) -> None:
    """The same page as a PNG; needs a font with Chinese glyphs (plots.cjk_font)."""
    import matplotlib.pyplot as plt

    font = plots.cjk_font()
    scale = _scale(reviews)
    dpi, size = 110, 11
    line_h = size * 2.0  # points
    # Lay the words out in points, wrapping at the page width; measure with a renderer.
    fig = plt.figure(figsize=(width_px / dpi, 2), dpi=dpi)
    renderer = fig.canvas.get_renderer()
    width_pt = width_px / dpi * 72 - 20
    placed, y = [], 0.0
    for r in reviews:
        verdict = "positive" if r.probability >= 0.5 else "negative"
        placed.append(("header", f"P(positive) = {r.probability:.3f}, truth: {'positive' if r.label == 1 else 'negative'}"
                       f" ({'right' if (r.label == 1) == (verdict == 'positive') else 'wrong'})", 0.0, y, None))
        y += line_h
        x = 0.0
        for t, s in zip(r.tokens, r.saliency):
            w = fig.text(0, 0, t, fontsize=size, fontfamily=font).get_window_extent(renderer).width * 72 / dpi + 2
            if x + w > width_pt and x > 0:
                x, y = 0.0, y + line_h
            placed.append(("word", t, x, y, _rgba(s, scale)))
            x += w
        y += line_h * 1.6
    plt.close(fig)
    height_pt = y + 40
    fig = plt.figure(figsize=(width_px / dpi, height_pt / 72), dpi=dpi)
    for kind, text, x, y, colour in placed:
        fx, fy = (10 + x) / (width_px / dpi * 72), 1 - (30 + y) / height_pt
        if kind == "header":
            fig.text(fx, fy, text, fontsize=size * 0.8, color="#555555", fontfamily=font)
        else:
            fig.text(fx, fy, text, fontsize=size, fontfamily=font,
                     bbox=dict(boxstyle="square,pad=0.1", facecolor=colour, edgecolor="none"))
    fig.suptitle(title, fontfamily=font, x=0.01, ha="left", y=1 - 8 / height_pt, va="top")
    plots.save_figure(fig, path)
