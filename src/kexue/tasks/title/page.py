"""The side-by-side page of test abstracts with their gold, generated and lead titles, as Markdown
and as a PNG (matplotlib, a font with Chinese glyphs from `plots.cjk_font`)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from kexue import files, plots

COLUMNS = ("abstract", "gold", "generated", "lead")
WRAP = {"abstract": 40, "gold": 14, "generated": 14, "lead": 14}  # characters per line in the PNG
ABSTRACT_LINES = 3  # the PNG shows the abstract's start; the Markdown a longer piece
WIDTHS = {"#": 0.03, "abstract": 0.46, "gold": 0.17, "generated": 0.17, "lead": 0.17}


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _wrap(text: str, width: int, max_lines: int = 0) -> list[str]:
    lines = [text[i : i + width] for i in range(0, len(text), width)] or [""]
    if max_lines and len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][:-1] + "…"
    return lines


def markdown(rows: list[dict[str, str]], title: str) -> str:
    """A Markdown table, one row per abstract (its first 150 characters)."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    out = [f"# {title}", "", "| # | abstract | gold | generated | lead |", "|---|---|---|---|---|"]
    for i, row in enumerate(rows, 1):
        out.append(f"| {i} | {cell(_clip(row['abstract'], 150))} | " + " | ".join(cell(row[c]) for c in COLUMNS[1:]) + " |")
    return "\n".join(out) + "\n"


def write_page(rows: list[dict[str, str]], md_path: Path, png_path: Path, title: str) -> None:
    """`rows`: dicts with the keys abstract, gold, generated, lead."""
    files.write_text(md_path, markdown(rows, title))
    font = plots.cjk_font()
    cells = [{c: _wrap(row[c], WRAP[c], ABSTRACT_LINES if c == "abstract" else 0) for c in COLUMNS} for row in rows]
    heights = [max(len(v) for v in cell.values()) for cell in cells]
    line_in = 0.2  # inches a text line takes
    total = sum(heights) + len(rows) * 0.6 + 2  # lines, row gaps, header
    fig = plt.figure(figsize=(17, total * line_in))
    y = 1.0
    step = 1.0 / total

    def put(x: float, yy: float, text: str, **kw) -> None:
        fig.text(x, yy, text, fontfamily=font, fontsize=9, va="top", ha="left", **kw)

    x = 0.0
    for name, w in WIDTHS.items():
        put(x, y, name, fontweight="bold")
        x += w
    y -= 1.5 * step
    for i, (cell, h) in enumerate(zip(cells, heights), 1):
        fig.add_artist(plt.Line2D([0, 1], [y + 0.25 * step, y + 0.25 * step], color="#cccccc", linewidth=0.6))
        put(0.0, y, str(i))
        x = WIDTHS["#"]
        for c in COLUMNS:
            put(x, y, "\n".join(cell[c]), color={"generated": "tab:blue", "lead": "tab:grey"}.get(c, "black"), linespacing=1.25)
            x += WIDTHS[c]
        y -= (h + 0.6) * step
    fig.suptitle(title, fontfamily=font, y=1.0 + 2 * step, fontsize=11)
    plots.save_figure(fig, png_path)
