"""Issue 37's sweep of fashion's tricks with DVC's own machinery: every trick against the budget
recipe (`profile: budget`), three seeds each; mean ± std test accuracy, Δ against the baseline,
training time; then the winners and their combination at the full budget.

    python benchmarks/tricks.py --stage short --dry-run   # print the dvc commands, run nothing
    python benchmarks/tricks.py --stage short             # queue, run (`dvc queue start -j 1`), wait, collect
    python benchmarks/tricks.py --stage long              # the short stage's winners at the 10-minute budget
    python benchmarks/tricks.py --collect-only            # only collect what `dvc exp show` already holds

1. short: `dvc exp run --queue -n tricks-short-<variant>-seed<S> -S profile=budget -S seed=S -S ++fashion.budget.<key>=<value>
   ... fashion-evaluate` for the baseline and every variant (`VARIANTS`), with the budget's epochs cut to
   `SHORT_EPOCHS` and the evaluation's extras (training subset, noise) off: about 3 minutes a run on 2 CPU
   cores (an estimate: 2 of the budget's 9 epochs), 20 variants x 3 seeds ~ 3 hours with one worker.
2. long: the baseline, the `--top` best short variants that beat the baseline (at most one per key, none
   that trains more than `SLOWER` slower than the baseline: the budget is wall-clock), their combination,
   and the two Lipschitz variants (spectral_reg, spectral_norm: generalisation gap and noise accuracy,
   which the long runs' evaluation reports), at the full budget (~10 minutes of
   training each): (1 + 2 + 1 + 2) x 3 seeds ~ 3 hours. The winners come from the short stage's
   collected `experiments.json`, or `--winners NAME ...`.
3. `dvc queue start -j N` (1 on 2 cores; a bigger machine only changes -j), then wait until the queue
   holds nothing queued or running.
4. `dvc exp show --json` -> `benchmarks/results/tricks/experiments.json` (each tricks experiment's
   settings and metrics), `tricks.md` (the tables, generated) and `tricks.png` (mean ± std per variant).

`++key=value` sets a key of the `budget:` section whether or not the section has it yet (Hydra's
force-add): a key only in the full section would be overridden by the budget's own value otherwise.
Queued experiments start from the last commit plus the workspace's changes to tracked files: commit
first. Nothing here is run by the tests but the collector and the command lists.
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import exp_queue  # noqa: E402  the shared dvc-queue machinery
from exp_queue import hydra_value  # noqa: E402

from kexue import plots  # noqa: E402

log = logging.getLogger("tricks")

OUT = exp_queue.RESULTS / "tricks"
SEEDS = (1, 2, 3)
TARGET = "fashion-evaluate"
SHORT_EPOCHS = 2
BASELINE = "baseline"
# The budget recipe this sweep measured every trick against, pinned in every run: leaky_relu won the sweep and
# is the budget's activation since, so without the pin a rerun would measure against a different baseline.
RECIPE: dict[str, object] = {"model.activation": "relu"}
# Each variant: keys under `fashion.budget` and their values; the baseline is the budget recipe itself.
VARIANTS: dict[str, dict[str, object]] = {
    BASELINE: {},
    **{f"act-{a}": {"model.activation": a} for a in ("leaky_relu", "elu", "silu", "gelu", "mish", "softplus")},
    "dropout-element": {"model.dropout": 0.2},
    "dropout-channel": {"model.dropout": 0.1, "model.dropout_kind": "channel"},
    "mixup": {"train.mixup_alpha": 0.2},
    "sample-pairing": {"train.sample_pairing": 0.3},
    "ema": {"train.ema_decay": 0.99},
    "lr-layer-decay": {"train.lr_layer_decay": 0.8},
    "grad-clip-norm": {"train.grad_clip": 1.0, "train.grad_clip_algorithm": "norm"},
    "grad-clip-per-param": {"train.grad_clip_per_param": 0.1},
    "spectral-reg": {"train.spectral_reg": 0.001},
    "spectral-norm": {"model.spectral_norm": True},
    "no-label-smoothing": {"train.label_smoothing": 0.0},
    "center-loss": {"train.center_loss": 0.003},
}
LIPSCHITZ = ("spectral-reg", "spectral-norm")  # always in the long stage (item 4)
COMBINED = "combined"
# A winner trains at most this much slower than the baseline (a fraction): about the spread of the baseline's
# own training time across seeds on 2 cores (117-138 s a short run).
SLOWER = 0.10
# The short stage: fewer epochs, and evaluate without the training subset and the noise (seconds saved a run).
SHORT_SETTINGS = {"train.epochs": SHORT_EPOCHS, "evaluate.train_subset": 0, "evaluate.noise_sigmas": []}
MINUTES = {"short": 3.3, "long": 11.0}  # a run with its evaluation and dvc's overhead, 2 CPU cores: estimates
NAME = re.compile(r"^tricks-(short|long)-(.+)-seed(\d+)$")


def exp_name(stage: str, variant: str, seed: int) -> str:
    return f"tricks-{stage}-{variant}-seed{seed}"


def set_args(settings: dict[str, object]) -> list[str]:
    """`-S ++fashion.budget.<key>=<value>` for each setting."""
    return [a for key, value in settings.items() for a in ("-S", f"++fashion.budget.{key}={hydra_value(value)}")]


def combine(winners: list[str]) -> dict[str, object]:
    """The winners' settings merged, best first: a key a better winner set is kept."""
    out: dict[str, object] = {}
    for name in winners:
        for key, value in VARIANTS[name].items():
            out.setdefault(key, value)
    return out


def queue_commands(stage: str, seeds: tuple[int, ...], winners: list[str] | None = None) -> list[list[str]]:
    if stage == "short":
        plan = {name: {**SHORT_SETTINGS, **settings} for name, settings in VARIANTS.items()}
    else:
        names = [BASELINE, *(winners or []), *(n for n in LIPSCHITZ if n not in (winners or []))]
        plan = {name: VARIANTS[name] for name in names}
        if len(winners or []) > 1:
            plan[COMBINED] = combine(winners)
    return [["dvc", "exp", "run", "--queue", "-n", exp_name(stage, name, seed), "-S", "profile=budget", "-S", f"seed={seed}",
             *set_args({**RECIPE, **settings}), TARGET]
            for name, settings in plan.items() for seed in seeds]


# --- collecting ------------------------------------------------------------------------------------------

def tricks_runs(shown: object) -> list[dict]:
    """One row per tricks experiment with fashion metrics: stage, variant, seed, the budget settings, metrics."""
    rows = []
    for exp in exp_queue.experiments(shown, "metrics/fashion.json", NAME):
        match = NAME.match(exp.name)
        rows.append({
            "name": exp.name, "rev": exp.rev, "stage": match[1], "variant": match[2], "seed": int(match[3]),
            "profile": exp.params.get("profile"), "budget": exp.params.get("fashion", {}).get("budget"), "metrics": exp.metrics,
        })
    return sorted(rows, key=lambda r: (r["stage"], r["variant"], r["seed"]))


def summarize(rows: list[dict], stage: str) -> list[dict]:
    """Per variant of `stage`: runs, mean and sample std of test accuracy, Δ against the baseline's mean
    (percentage points), mean training time and, where evaluated, the gap and the noise accuracies."""
    by: dict[str, list[dict]] = {}
    for r in rows:
        if r["stage"] == stage:
            by.setdefault(r["variant"], []).append(r["metrics"])
    base = by.get(BASELINE)
    base_mean = statistics.mean(m["test_acc"] for m in base) if base else None
    out = []
    for variant, ms in by.items():
        acc = [m["test_acc"] for m in ms]

        def mean_of(key: str) -> float | None:
            values = [m[key] for m in ms if m.get(key) is not None]
            return statistics.mean(values) if values else None

        out.append({
            "variant": variant, "runs": len(ms), "test_acc_mean": statistics.mean(acc),
            "test_acc_std": statistics.stdev(acc) if len(acc) > 1 else None,
            "delta_pp": None if base_mean is None else 100 * (statistics.mean(acc) - base_mean),
            "train_wall_time_s": mean_of("train_wall_time_s"), "generalisation_gap": mean_of("generalisation_gap"),
            "noise": {k: mean_of(k) for k in sorted({k for m in ms for k in m if k.startswith("test_acc_noise_sigma")})},
        })
    return sorted(out, key=lambda s: (s["variant"] != BASELINE, -s["test_acc_mean"]))


def winners(summary: list[dict], top: int, slower: float = SLOWER) -> list[str]:
    """The best variants above the baseline's mean, at most `top`, at most one per key (two activations
    cannot both win), and none that trains more than `slower` (a fraction) slower than the baseline: the
    long stage runs the budget's epochs, and the budget is wall-clock time, so a slower trick would run
    over its 10 minutes (mish at 245 s a short run against relu's 130)."""
    base = next((s for s in summary if s["variant"] == BASELINE), None)
    limit = None if base is None or base["train_wall_time_s"] is None else base["train_wall_time_s"] * (1 + slower)
    chosen, keys = [], set()
    for s in summary:
        if s["variant"] in VARIANTS and s["variant"] != BASELINE and (s["delta_pp"] or 0) > 0:
            if limit is not None and (s["train_wall_time_s"] or 0) > limit:
                log.info("not a winner: %s trains in %.0f s, over the baseline's %.0f s + %.0f%%", s["variant"],
                         s["train_wall_time_s"], base["train_wall_time_s"], 100 * slower)
                continue
            if not keys & set(VARIANTS[s["variant"]]) and len(chosen) < top:
                chosen.append(s["variant"])
                keys |= set(VARIANTS[s["variant"]])
    return chosen


def _pct(x: float | None, std: float | None = None) -> str:
    if x is None:
        return "–"
    return f"{100 * x:.2f}%" + (f" ± {100 * std:.2f}" if std is not None else "")


def _flat(d: object, prefix: str = "") -> dict[str, object]:
    if not isinstance(d, dict):
        return {prefix: d}
    return {k: v for key, value in d.items() for k, v in _flat(value, f"{prefix}.{key}" if prefix else key).items()}


def settings_text(variant: str, stage: str, rows: list[dict]) -> str:
    """What the variant's runs set differently from the baseline's, read from their params (`budget:`)."""
    of = {r["variant"]: _flat(r["budget"] or {}) for r in rows if r["stage"] == stage}
    if BASELINE not in of or variant not in of:
        return ", ".join(f"`{k}={hydra_value(v)}`" for k, v in VARIANTS.get(variant, {}).items())
    base, mine = of[BASELINE], of[variant]
    diff = {k: v for k, v in mine.items() if base.get(k, "unset") != v}
    return ", ".join(f"`{k}={hydra_value(v)}`" for k, v in diff.items()) or "the budget recipe"


def table(rows: list[dict]) -> str:
    lines = ["# fashion: the tricks of issue 37 against the budget recipe", "",
             "Generated by `benchmarks/tricks.py` from `dvc exp show --json` (experiments `tricks-<stage>-<variant>-seed<S>`, "
             "`profile: budget` with relu, the budget's activation before this sweep made it leaky_relu: `RECIPE`). Test accuracy with the budget's test-time views, mean ± sample std over seeds; "
             "Δ: percentage points against the baseline's mean; training time: mean seconds a run.", ""]
    for stage, what in (("short", f"short budget ({SHORT_EPOCHS} epochs)"), ("long", "full budget")):
        summary = summarize(rows, stage)
        if not summary:
            continue
        noise = sorted({k for s in summary for k in s["noise"]})
        lines += [f"## {what}", "",
                  "| variant | settings | runs | test accuracy | Δ (pp) | train time (s) | generalisation gap |"
                  + "".join(f" {k.removeprefix('test_acc_')} |" for k in noise),
                  "|---|---|---|---|---|---|---|" + "---|" * len(noise)]
        for s in summary:
            delta = "–" if s["delta_pp"] is None else f"{s['delta_pp']:+.2f}"
            time_s = "–" if s["train_wall_time_s"] is None else f"{s['train_wall_time_s']:.0f}"
            lines.append(f"| {s['variant']} | {settings_text(s['variant'], stage, rows)} | {s['runs']} | "
                         f"{_pct(s['test_acc_mean'], s['test_acc_std'])} | {delta} | {time_s} | {_pct(s['generalisation_gap'])} |"
                         + "".join(f" {_pct(s['noise'].get(k))} |" for k in noise))
        lines.append("")
    return "\n".join(lines)


def figure(rows: list[dict], path: Path) -> None:
    """Mean ± std test accuracy per variant, one panel a stage, the baseline's mean as a line."""
    import matplotlib.pyplot as plt

    stages = [s for s in ("short", "long") if summarize(rows, s)]
    fig, axes = plt.subplots(1, max(1, len(stages)), figsize=(6.5 * max(1, len(stages)), 0.32 * len(VARIANTS) + 1.5), squeeze=False)
    for ax, stage in zip(axes[0], stages):
        summary = summarize(rows, stage)[::-1]
        y = range(len(summary))
        ax.errorbar([100 * s["test_acc_mean"] for s in summary], y, xerr=[100 * (s["test_acc_std"] or 0) for s in summary],
                    fmt="o", capsize=3)
        base = next((s for s in summary if s["variant"] == BASELINE), None)
        if base:
            ax.axvline(100 * base["test_acc_mean"], color="grey", linestyle="--", label="baseline mean")
            ax.legend(loc="best")
        ax.set_yticks(list(y), [s["variant"] for s in summary])
        ax.set_xlabel("test accuracy (%), mean ± std over seeds")
        ax.set_title(f"{stage} budget" if stage == "short" else "full budget")
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle("fashion: tricks against the budget recipe")
    plots.save_figure(fig, path)


def write_results(rows: list[dict], out: Path) -> None:
    exp_queue.write_results(out, rows, "tricks experiments", {"tricks.md": table(rows)},
                            {"tricks.png": lambda path: figure(rows, path)})


def collect(out: Path) -> list[dict]:
    rows = exp_queue.with_earlier(out, tricks_runs(exp_queue.exp_show()))
    write_results(rows, out)
    return rows


def planned(args: argparse.Namespace) -> list[list[str]]:
    """The stage's commands; the long stage's winners from --winners or the short stage's results."""
    chosen = exp_queue.long_winners(args, lambda rows, top: winners(summarize(rows, "short"), top))
    if args.stage == "long":
        log.info("long stage: winners %s", chosen or "none (baseline and the Lipschitz variants only)")
    return queue_commands(args.stage, tuple(args.seeds), chosen)


def main(argv: list[str] | None = None) -> int:
    parser = exp_queue.add_stage_options(exp_queue.parser(__doc__), SEEDS, "long stage: how many short-stage winners (default 2)",
                                         "long stage: these variants instead of the short stage's winners",
                                         choices=sorted(set(VARIANTS) - {BASELINE}))
    args = exp_queue.parse_args(parser, argv, OUT)
    return exp_queue.sweep(args, lambda: planned(args), collect, MINUTES[args.stage])


if __name__ == "__main__":
    sys.exit(main())
