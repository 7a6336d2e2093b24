"""`python -m kexue report`: the README's status and timing tables and `metrics/report.html`, from
`metrics/<task>.json`, the targets file (`metrics/targets.yaml`) and the quick runs' results
(`benchmarks/results/quick/quick.json`, written by `benchmarks/quick_runs.py`).

The README keeps each generated table between two markers; `tests/test_report.py` fails when the
committed copy differs from a fresh one, so numbers on the front page are never typed by hand. A task
whose metrics file is missing gets a row saying "not run".
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kexue import files
from kexue.errors import InputError

log = logging.getLogger(__name__)

BLOCKS = ("status", "times")
QUICK = Path("benchmarks/results/quick/quick.json")
NOT_RUN = "not run"


class ReportError(InputError):
    """The targets file, a metrics file or the README is not what the report expects."""


class Target(BaseModel):
    """One task's entry in the targets file (its header says what each key means)."""

    model_config = ConfigDict(extra="forbid")
    post: str
    metric: str
    label: str
    format: str
    target: float | str
    better: Literal["higher", "lower"]
    blog: str
    target_label: str | None = None
    target_factor: float = Field(1.0, gt=0)  # a key target times this (0.5: half the baseline)


def load_targets(path: Path) -> dict[str, Target]:
    """The targets file, validated: a missing, unknown or ill-typed key fails naming the file and key."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such targets file") from None
    except yaml.YAMLError as err:
        raise ReportError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict) or not raw:
        raise ReportError(f"{path}: expected a mapping of task names to their targets")
    out = {}
    for task, entry in raw.items():
        if not isinstance(entry, dict):
            raise ReportError(f"{path}: {task}: expected a mapping of keys (post, metric, ...), got {entry!r}")
        try:
            target = Target(**entry)
        except ValidationError as err:
            first = err.errors()[0]
            key = ".".join(str(part) for part in first["loc"])
            raise ReportError(f"{path}: {task}.{key}: {first['msg']}") from None
        try:
            target.format.format(0.5)
        except (ValueError, IndexError, KeyError) as err:
            raise ReportError(f"{path}: {task}.format: {target.format!r} does not format a number ({err})") from None
        out[str(task)] = target
    return out


def lookup(metrics: dict[str, Any], key: str, where: str) -> Any:
    """`metrics["a"]["b"]` for the key "a.b"; a missing key fails naming the metrics file and the key."""
    value: Any = metrics
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise ReportError(f"{where}: no key {key!r}")
        value = value[part]
    return value


@dataclass
class TaskReport:
    """What the tables and the page say about one task."""

    task: str
    target: Target
    metrics: dict[str, Any] | None  # None: the task has not run
    quick: dict[str, Any] | None = None  # its entry in the quick runs' results; None: not measured

    def _number(self, key: str, what: str) -> float:
        value = lookup(self.metrics or {}, key, f"metrics/{self.task}.json (targets {self.task}.{what})")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ReportError(f"metrics/{self.task}.json: {key!r} is {value!r}, not a number (targets {self.task}.{what})")
        return float(value)

    @property
    def value(self) -> float | None:
        return None if self.metrics is None else self._number(self.target.metric, "metric")

    def _goal(self) -> float | None:
        t = self.target.target
        if isinstance(t, float):
            return t
        if self.metrics is None or lookup(self.metrics, t, f"metrics/{self.task}.json (targets {self.task}.target)") is None:
            return None  # the metrics hold no such baseline for this run (e.g. measured in another feature network)
        return self._number(t, "target") * self.target.target_factor

    def value_text(self) -> str:
        return NOT_RUN if self.value is None else self.target.format.format(self.value)

    def target_text(self) -> str:
        sign = "≥" if self.target.better == "higher" else "≤"
        t = self.target.target
        if isinstance(t, float):
            return f"{sign} {self.target.format.format(t)}"
        name = self.target.target_label or t
        goal = self._goal()
        return f"{sign} {name}" + ("" if goal is None else f" ({self.target.format.format(goal)})")

    def met_text(self) -> str:
        value, goal = self.value, self._goal()
        if value is None or goal is None:
            return "—"
        return "yes" if (value >= goal if self.target.better == "higher" else value <= goal) else "no"

    def _get(self, *keys: str) -> Any:
        for key in keys:
            if self.metrics and self.metrics.get(key) is not None:
                return self.metrics[key]
        return None

    def trained_on(self) -> str:
        device = self._get("train_device")
        return _device(device) if device else "—"

    def train_time(self) -> str:
        return _at(self._get("train_wall_time_s", "train_seconds"), self._get("train_device"))

    def eval_time(self) -> str:
        return _at(self._get("eval_wall_time_s"), self._get("eval_device"))

    def quick_text(self) -> str:
        """The quick run's headline metric and wall time ("74.0% in 86 s"), or why there is none."""
        if not self.quick:
            return "not measured"
        if self.quick.get("value") is None:
            return f"failed after {seconds_text(float(self.quick['seconds']))}"
        return f"{self.target.format.format(self.quick['value'])} in {seconds_text(float(self.quick['seconds']))}"


def _device(device: Any) -> str:
    """ "cpu: x86_64, 2 cores, 2 threads (32-true)" -> "CPU, 2 cores"; "1x NVIDIA H200 (bf16-mixed)" -> "1x NVIDIA H200"."""
    text = str(device).split(" (")[0]
    if text.lower().startswith("cpu"):
        cores = re.search(r"(\d+) cores", text)
        return f"CPU, {cores.group(1)} cores" if cores else "CPU"
    return text


def seconds_text(seconds: float) -> str:
    if seconds < 600:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _at(seconds: Any, device: Any) -> str:
    if seconds is None:
        return "—"
    return seconds_text(float(seconds)) + (f" on {_device(device)}" if device else "")


def load_quick(path: Path | None) -> dict[str, dict[str, Any]]:
    """The quick runs' results by task (`benchmarks/quick_runs.py` writes them); {} without the file."""
    if path is None or not Path(path).exists():
        return {}
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ReportError(f"{path}: not valid JSON: {err}") from None
    tasks = raw.get("tasks") if isinstance(raw, dict) else None
    if not isinstance(tasks, dict):
        raise ReportError(f"{path}: expected a mapping with key 'tasks' (task -> its quick run)")
    for task, entry in tasks.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("seconds"), (int, float)):
            raise ReportError(f"{path}: tasks.{task}: expected a mapping with a number 'seconds', got {entry!r}")
    return tasks


def collect(metrics_dir: Path, targets_path: Path, quick_path: Path | None = None) -> list[TaskReport]:
    """Every task of the targets file, in its order, with its metrics (None where the file is missing)
    and its quick run (from `quick_path`, where given)."""
    targets = load_targets(targets_path)
    quick = load_quick(quick_path)
    reports = []
    for task, target in targets.items():
        path = Path(metrics_dir) / f"{task}.json"
        metrics = None
        if path.is_file():
            try:
                metrics = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as err:
                raise ReportError(f"{path}: not valid JSON: {err}") from None
        report = TaskReport(task, target, metrics, quick.get(task))
        report.target_text()  # a missing or non-numeric key fails here, naming the file and key
        reports.append(report)
    strays = sorted(p.stem for p in Path(metrics_dir).glob("*.json") if p.stem not in targets)
    if strays:
        log.warning("no entry in %s for %s: left out of the report", targets_path, ", ".join(strays))
    return reports


def _status_rows(reports: list[TaskReport]) -> list[list[str]]:
    return [[r.target.post, r.target.label, r.value_text(), r.target_text(), r.met_text(), r.target.blog, r.trained_on()]
            for r in reports]


def _times_rows(reports: list[TaskReport]) -> list[list[str]]:
    return [[r.train_time(), r.eval_time(), r.quick_text()] for r in reports]


HEADERS = {
    "status": ["post (kexue.fm)", "metric", "value", "target", "met", "the blog's number", "trained on"],
    "times": ["full run: train", "full run: evaluate", "quick run: metric, wall time of its stages (2 CPU cores)"],
}
ROWS = {"status": _status_rows, "times": _times_rows}


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def tables(reports: list[TaskReport], docs: str = "docs") -> dict[str, str]:
    """The README's generated blocks, Markdown; task names link to `<docs>/<task>.md`."""
    out = {}
    for name in BLOCKS:
        lines = ["| task | " + " | ".join(HEADERS[name]) + " |", "| --- " * (len(HEADERS[name]) + 1) + "|"]
        for r, row in zip(reports, ROWS[name](reports)):
            lines.append(f"| [`{r.task}`]({docs}/{r.task}.md) | " + " | ".join(_md_cell(c) for c in row) + " |")
        out[name] = "\n".join(lines)
    return out


def _markers(name: str) -> tuple[str, str]:
    return (f"<!-- report:{name} begin (generated by `python -m kexue report` from metrics/*.json and "
            f"metrics/targets.yaml; do not edit by hand) -->", f"<!-- report:{name} end -->")


def _span(text: str, name: str, where: Path) -> tuple[int, int]:
    begin, end = _markers(name)
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise ReportError(f"{where}: the markers of the {name!r} table are missing; put these two lines where it goes:\n{begin}\n{end}")
    return start + len(begin), stop


def readme_blocks(readme: Path) -> dict[str, str]:
    """The generated blocks as the README has them now."""
    text = Path(readme).read_text(encoding="utf-8")
    return {name: text[slice(*_span(text, name, readme))].strip("\n") for name in BLOCKS}


def update_readme(readme: Path, blocks: dict[str, str]) -> bool:
    """Writes `blocks` between their markers; True if the README changed."""
    text = old = Path(readme).read_text(encoding="utf-8")
    for name, block in blocks.items():
        start, stop = _span(text, name, readme)
        text = text[:start] + "\n" + block + "\n" + text[stop:]
    if text != old:
        files.write_text(Path(readme), text)
    return text != old


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(data, dict):
        return [row for key, value in data.items() for row in _flatten(value, f"{prefix}{key}.")]
    if isinstance(data, list) and all(not isinstance(x, (dict, list)) for x in data):
        return [(prefix.rstrip("."), ", ".join(str(x) for x in data))]
    if isinstance(data, list):
        return [row for i, value in enumerate(data) for row in _flatten(value, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), str(data))]


def _html_table(headers: list[str], rows: list[list[str]], task_links: list[str]) -> str:
    """Plain-text cells, escaped here; a "yes" or "no" cell is coloured by its class."""
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in ["task"] + headers)
    body = "".join("<tr>" + link + "".join(f'<td class="{c}">{e(c)}</td>' if c in ("yes", "no") else f"<td>{e(c)}</td>"
                                           for c in row) + "</tr>" for link, row in zip(task_links, rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1150px; color: #222; padding: 0 1em; }
h1 { margin-bottom: .2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .6em 0; } th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.yes { color: #11772b; font-weight: 600; } td.no { color: #b3261e; font-weight: 600; }
.metrics { column-count: 3; column-gap: 1.5em; font-size: 12px; } .metrics div { break-inside: avoid; border-bottom: 1px dotted #ddd; }
.metrics code { color: #555; } .plots { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; width: 350px; } figure img { width: 350px; border: 1px solid #ddd; } figcaption { font-size: 12px; color: #555; }
.notrun { color: #888; font-style: italic; }
"""


def render_html(reports: list[TaskReport], metrics_dir: Path) -> str:
    """The page: both tables, then per task its metrics and every PNG under `metrics/<task>/`, linked
    relatively (the page lives in the metrics folder and works offline)."""
    e = html.escape
    links = [f'<td><a href="#{r.task}"><code>{e(r.task)}</code></a></td>' for r in reports]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', "<title>kexue: metrics report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>kexue: metrics report</h1>",
        "<p>Written by <code>python -m kexue report</code> from <code>metrics/&lt;task&gt;.json</code> and "
        "<code>metrics/targets.yaml</code>. Each task's story: <code>docs/&lt;task&gt;.md</code>.</p>",
        *(f"<h2>{title}</h2>" + _html_table(HEADERS[name], ROWS[name](reports), links)
          for name, title in (("status", "Status"), ("times", "Wall times"))),
    ]
    for r in reports:
        parts.append(f'<h2 id="{r.task}"><code>{e(r.task)}</code>: {e(r.target.post)}</h2>')
        if r.metrics is None:
            parts.append(f'<p class="notrun">{NOT_RUN}: no metrics/{e(r.task)}.json yet.</p>')
            continue
        parts.append(f"<p>{e(r.target.label)}: <b>{e(r.value_text())}</b>, target {e(r.target_text())}.</p>")
        rows = "".join(f"<div><code>{e(k)}</code> {e(v)}</div>" for k, v in _flatten(r.metrics))
        parts.append(f'<div class="metrics">{rows}</div>')
        pngs = sorted((Path(metrics_dir) / r.task).rglob("*.png"))
        if pngs:
            figures = []
            for png in pngs:
                rel = png.relative_to(metrics_dir).as_posix()
                figures.append(f'<figure><a href="{e(rel)}"><img src="{e(rel)}" alt="{e(rel)}" loading="lazy"></a>'
                               f"<figcaption>{e(rel)}</figcaption></figure>")
            parts.append(f'<div class="plots">{"".join(figures)}</div>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def add_parser(sub: argparse._SubParsersAction) -> None:
    sp = sub.add_parser("report", help="the README's status tables and metrics/report.html, from metrics/*.json")
    sp.add_argument("--metrics", type=Path, default=Path("metrics"), help="metrics folder (default: metrics)")
    sp.add_argument("--targets", type=Path, default=None, help="targets file (default: <metrics>/targets.yaml)")
    sp.add_argument("--readme", type=Path, default=Path("README.md"), help="README with the table markers")
    sp.add_argument("--quick", type=Path, default=QUICK, help=f"quick runs' results (default: {QUICK})")
    sp.add_argument("--html", type=Path, default=None, help="the page (default: <metrics>/report.html)")
    sp.add_argument("--check", action="store_true", help="write nothing; exit 1 if the README's tables are stale")


def main(args: argparse.Namespace) -> int:
    targets = args.targets or args.metrics / "targets.yaml"
    page = args.html or args.metrics / "report.html"
    try:
        reports = collect(args.metrics, targets, args.quick)
        blocks = tables(reports)
        if args.check:
            stale = [name for name, block in readme_blocks(args.readme).items() if block != blocks[name]]
            if stale:
                print(f"error: {args.readme}: the {', '.join(stale)} table(s) differ from the metrics; "
                      "run `python -m kexue report`", file=sys.stderr)
                return 1
            return 0
        changed = update_readme(args.readme, blocks)
        files.write_text(page, render_html(reports, args.metrics))
    except (ReportError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    log.info("%s %s; wrote %s", args.readme, "updated" if changed else "unchanged", page)
    return 0
