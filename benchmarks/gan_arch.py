"""Issue 38's equal-compute comparison of GAN architectures with DVC's own machinery: every
configuration trained for the same wall-clock budget (`gan.train.time_budget_min`), two seeds each,
with WGAN-GP and with the hinge loss; then the two best at the full 80-minute budget.

    python benchmarks/gan_arch.py --stage short --dry-run   # print the dvc commands, run nothing
    python benchmarks/gan_arch.py --stage short             # queue, run (`dvc queue start -j 1`), wait, collect
    python benchmarks/gan_arch.py --stage long              # the short stage's two best at 80 minutes
    python benchmarks/gan_arch.py --collect-only            # only collect what `dvc exp show` already holds
    python benchmarks/gan_arch.py --record-baseline         # the committed gan-evaluate run -> baseline.json

0. baseline: issue 38's goal is half the FID of the default before this comparison (dcgan, WGAN-GP,
   60 epochs), measured in gan-features' network. `--record-baseline` writes the committed
   gan-evaluate run of that default (metrics/gan.json, the checkpoint of the locked gan-train) to
   `benchmarks/results/gan_arch/baseline.json`; gan-evaluate reads it and reports `fid_baseline` and
   `fid_vs_baseline` (src/kexue/tasks/gan/baseline.py). Recorded once; rerecord only when
   gan-features changes (then every FID moves), after rerunning the baseline configuration.

1. short: `dvc exp run --queue -n gan-arch-short-<config>-<loss>-seed<S> -S gan.model.<key>=<value> ...
   -S gan.train.loss=<loss> -S gan.train.time_budget_min=10 -S gan.train.epochs=1000 -S seed=S gan-evaluate`
   for every configuration of `CONFIGS` (dcgan, dcgan with nearest upsampling for the checkerboard,
   dcgan + spectral norm, resnet, selfmod) and both losses: 5 x 2 x 2 = 20 runs of ~12 minutes (10 of
   training, evaluation and dvc's overhead: an estimate) ~ 4 hours with one worker on 2 CPU cores.
   The epochs are set out of reach, so the budget alone stops each run. Everything else stays at its
   default: the hinge runs keep the gradient penalty (`gp_weight` 10) and 5 critic steps, so only the
   loss differs.
2. long: the two best (configuration, loss) pairs of the short stage by mean FID (from its collected
   `experiments.json`, or `--winners CONFIG:LOSS ...`) at `time_budget_min=80`: 2 x 2 runs ~ 5.5
   hours. Today's default is not rerun: its 60 epochs (73 minutes on the 2-core AMD EPYC) are the
   recorded baseline, and the tables divide every FID by its FID.
3. `dvc queue start -j N` (1 on 2 cores: the budget is wall-clock time, so runs must not share the
   CPU), then wait until the queue holds nothing queued or running.
4. `dvc exp show --json` -> `benchmarks/results/gan_arch/experiments.json` (each run's settings and
   metrics), `gan_arch.md` (the tables: FID, precision, recall, steps reached, parameters; generated),
   `samples.png` (each configuration's sample grid side by side, read from its experiment commit with
   `git show <rev>:metrics/gan/eval/samples.png`) and `fid_over_time.png` (FID of the generator
   snapshots against training time: with a budget gan-train spreads its snapshots over the time and
   gan-evaluate scores each, `fid_curve` in metrics/gan.json).

Before queueing, `gan-features` must be in `dvc.lock` (`dvc repro gan-features`, commit): every run
is scored in that one frozen classifier, and an experiment would otherwise train its own copy first
(the same weights, minutes lost per run). Queued experiments start from the last commit plus the
workspace's changes to tracked files: commit first. Nothing here is run by the tests but the collector
and the command lists.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import re
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import exp_queue  # noqa: E402  the shared dvc-queue machinery
from exp_queue import ROOT, hydra_value  # noqa: E402

from kexue import files, plots  # noqa: E402
from kexue.tasks.gan import baseline as baselines  # noqa: E402
from kexue.tasks.gan.baseline import Baseline  # noqa: E402

log = logging.getLogger("gan_arch")

OUT = exp_queue.RESULTS / "gan_arch"
SEEDS = (1, 2)
TARGET = "gan-evaluate"
# Each configuration: keys under `gan.model`.
CONFIGS: dict[str, dict[str, object]] = {
    "dcgan": {},
    "dcgan-nearest": {"upsample": "nearest"},
    "dcgan-sn": {"spectral_norm": True},
    "resnet": {"generator": "resnet", "critic": "resnet"},
    "selfmod": {"generator": "selfmod", "critic": "resnet"},
}
LOSSES = ("wgan-gp", "hinge")
BUDGET_MIN = {"short": 10, "long": 80}
EPOCHS = 1000  # out of reach of either budget: the time stops every run
MINUTES = {"short": 12.0, "long": 82.0}  # a run with its evaluation and dvc's overhead, 2 CPU cores: estimates
NAME = re.compile(r"^gan-arch-(short|long)-(.+)-(" + "|".join(map(re.escape, LOSSES)) + r")-seed(\d+)$")
SAMPLES = "metrics/gan/eval/samples.png"


def exp_name(stage: str, config: str, loss: str, seed: int) -> str:
    return f"gan-arch-{stage}-{config}-{loss}-seed{seed}"


def queue_commands(stage: str, seeds: tuple[int, ...], winners: list[tuple[str, str]] | None = None) -> list[list[str]]:
    if stage == "short":
        plan = [(config, loss) for config in CONFIGS for loss in LOSSES]
    else:  # today's default is the recorded baseline (step 0), not rerun
        plan = list(dict.fromkeys(winners or []))
    cmds = []
    for config, loss in plan:
        settings = {**{f"model.{k}": v for k, v in CONFIGS[config].items()}, "train.loss": loss,
                    "train.time_budget_min": BUDGET_MIN[stage], "train.epochs": EPOCHS}
        sets = [a for key, value in settings.items() for a in ("-S", f"gan.{key}={hydra_value(value)}")]
        cmds += [["dvc", "exp", "run", "--queue", "-n", exp_name(stage, config, loss, seed), *sets, "-S", f"seed={seed}", TARGET]
                 for seed in seeds]
    return cmds


# --- collecting ------------------------------------------------------------------------------------------

METRICS = ("fid", "fid_without_ema", "fid_floor", "precision", "recall", "generator_steps", "generator_params", "critic_params", "train_wall_time_s",
           "stopped_by_budget", "time_budget_min", "feature_net_test_acc", "feature_net_digest", "fid_curve")


def arch_runs(shown: object) -> list[dict]:
    """One row per gan-arch experiment with gan metrics: stage, configuration, loss, seed, the gan.model
    and gan.train params, and the metrics the tables and plots read."""
    rows = []
    for exp in exp_queue.experiments(shown, "metrics/gan.json", NAME):
        match = NAME.match(exp.name)
        gan = exp.params.get("gan", {})
        rows.append({
            "name": exp.name, "rev": exp.rev, "stage": match[1], "config": match[2], "loss": match[3], "seed": int(match[4]),
            "model": gan.get("model"), "train": gan.get("train"), "metrics": {k: exp.metrics.get(k) for k in METRICS},
        })
    return sorted(rows, key=lambda r: (r["stage"], r["config"], r["loss"], r["seed"]))


def in_baseline_net(row: dict, baseline: Baseline | None) -> bool:
    """Whether `row` was scored in the baseline's feature net (any row, without a baseline). Before
    `gan.features.seed`, gan-features trained with each run's own `seed`, so a run of seed 1 was scored
    in another network than the baseline's and than seed 2's."""
    return baseline is None or (row.get("metrics") or {}).get("feature_net_digest") == baseline.feature_net_digest


def split_by_net(rows: list[dict], baseline: Baseline | None) -> tuple[list[dict], list[dict]]:
    """The runs scored in the baseline's feature net (the tables, plots and winners compare these) and the others."""
    return [r for r in rows if in_baseline_net(r, baseline)], [r for r in rows if not in_baseline_net(r, baseline)]


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.mean(values) if values else None


def summarize(rows: list[dict], stage: str) -> list[dict]:
    """Per (configuration, loss) of `stage`: runs, mean and sample std of FID, mean FID without EMA (where
    every run has it), precision, recall and steps reached, the parameter counts; best mean FID first."""
    by: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        if r["stage"] == stage and r["metrics"].get("fid") is not None:
            by.setdefault((r["config"], r["loss"]), []).append(r["metrics"])
    out = []
    for (config, loss), ms in by.items():
        fid = [m["fid"] for m in ms]
        out.append({
            "config": config, "loss": loss, "runs": len(ms), "fid_mean": statistics.mean(fid),
            "fid_std": statistics.stdev(fid) if len(fid) > 1 else None,
            **{k: _mean([m.get(k) for m in ms]) for k in ("precision", "recall", "generator_steps", "train_wall_time_s", "fid_floor")},
            # over every run or none: the rows collected before 2026-12-07 do not hold it
            "fid_without_ema": None if any(m.get("fid_without_ema") is None for m in ms) else _mean([m["fid_without_ema"] for m in ms]),
            "generator_params": ms[0].get("generator_params"), "critic_params": ms[0].get("critic_params"),
        })
    return sorted(out, key=lambda s: s["fid_mean"])


def winners(summary: list[dict], top: int) -> list[tuple[str, str]]:
    return [(s["config"], s["loss"]) for s in summary[:top]]


def _num(x: float | None, fmt: str = "{:.2f}") -> str:
    return "–" if x is None else fmt.format(x)


def settings_text(config: str) -> str:
    return ", ".join(f"`{k}={hydra_value(v)}`" for k, v in CONFIGS.get(config, {}).items()) or "defaults"


def baseline_text(baseline: Baseline | None) -> list[str]:
    if baseline is None:
        return ["No baseline recorded (`--record-baseline`): the FID ÷ baseline column stays empty.", ""]
    minutes = _num(baseline.train_wall_time_s / 60 if baseline.train_wall_time_s else None, "{:.0f}")
    return [f"Baseline (`baseline.json`, commit {baseline.commit[:7]}): today's default before this comparison, {baseline.generator} "
            f"generator and {baseline.critic} critic, {baseline.loss}, {baseline.epochs} epochs ({_num(baseline.generator_steps, '{:,}')} "
            f"steps in {minutes} minutes): FID {baseline.fid:.2f}, precision {_num(baseline.precision, '{:.3f}')}, recall "
            f"{_num(baseline.recall, '{:.3f}')}. Issue 38's goal: FID ÷ baseline ≤ 0.5 with recall ≥ 0.5 at the 80-minute budget.", ""]


def table(rows: list[dict], baseline: Baseline | None = None, other_net: list[dict] | None = None) -> str:
    acc = _mean([r["metrics"].get("feature_net_test_acc") for r in rows])
    lines = ["# gan: architectures at equal wall-clock budgets (issue 38)", "",
             "Generated by `benchmarks/gan_arch.py` from `dvc exp show --json` (experiments "
             "`gan-arch-<stage>-<config>-<loss>-seed<S>`). Each run trained for the same wall-clock budget on the "
             "same machine; FID (10k generated vs the test images), precision and recall (k = 3 nearest neighbours) "
             "in the features of the gan-features classifier"
             + (f" (test accuracy {100 * acc:.2f}%)" if acc is not None else "")
             + "; mean ± sample std over seeds; FID without EMA: the raw generator weights instead of their EMA "
             "(collected since 2026-12-07; – where a row's earlier runs were collected without it); steps: generator steps reached in the budget.", "", *baseline_text(baseline)]
    for stage in ("short", "long"):
        summary = summarize(rows, stage)
        if not summary:
            continue
        lines += [f"## {BUDGET_MIN[stage]}-minute budget ({stage} stage)", "",
                  "| configuration | `gan.model` | loss | runs | FID | FID without EMA | precision | recall | steps | generator params | critic params | FID ÷ baseline |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for s in summary:
            fid = _num(s["fid_mean"]) + (f" ± {s['fid_std']:.2f}" if s["fid_std"] is not None else "")
            lines.append(f"| {s['config']} | {settings_text(s['config'])} | {s['loss']} | {s['runs']} | {fid} | {_num(s['fid_without_ema'])} | "
                         f"{_num(s['precision'], '{:.3f}')} | {_num(s['recall'], '{:.3f}')} | {_num(s['generator_steps'], '{:.0f}')} | "
                         f"{_num(s['generator_params'], '{:,}')} | {_num(s['critic_params'], '{:,}')} | "
                         f"{_num(s['fid_mean'] / baseline.fid if baseline else None)} |")
        floor = _mean([s["fid_floor"] for s in summary])
        lines += ["", f"FID floor (10k training images vs test; each run draws its subset with its own seed, so this is "
                      f"the mean over the configurations): {_num(floor, '{:.4f}')}.", ""]
    if other_net:
        lines += ["## Left out: scored in another feature network", "",
                  "These runs' gan-features was trained with the run's own `seed` (before `gan.features.seed`), so their FIDs "
                  "compare neither with the baseline nor with the runs of another seed. Kept for the record, not ranked.", "",
                  "| experiment | feature net | FID | precision | recall | steps |", "|---|---|---|---|---|---|"]
        for r in other_net:
            m = r["metrics"]
            lines.append(f"| {r['name']} | {m.get('feature_net_digest') or '–'} | {_num(m.get('fid'))} | {_num(m.get('precision'), '{:.3f}')} | "
                         f"{_num(m.get('recall'), '{:.3f}')} | {_num(m.get('generator_steps'), '{:.0f}')} |")
        lines.append("")
    return "\n".join(lines)


def fid_over_time_figure(rows: list[dict], path: Path) -> None:
    """FID of each run's generator snapshots against training time, one panel a stage, one colour a
    (configuration, loss), one line style a seed."""
    import matplotlib.pyplot as plt

    stages = [s for s in ("short", "long") if any(r["stage"] == s for r in rows)] or ["short"]
    fig, axes = plt.subplots(1, len(stages), figsize=(7 * len(stages), 4.5), squeeze=False)
    for ax, stage in zip(axes[0], stages):
        keys = sorted({(r["config"], r["loss"]) for r in rows if r["stage"] == stage})
        colours = {k: plt.get_cmap("tab10")(i % 10) for i, k in enumerate(keys)}
        for key in keys:
            runs = sorted((r for r in rows if r["stage"] == stage and (r["config"], r["loss"]) == key), key=lambda r: r["seed"])
            for i, r in enumerate(runs):
                curve = [c for c in r["metrics"].get("fid_curve") or [] if c.get("train_time_s") is not None]
                if curve:
                    ax.plot([c["train_time_s"] / 60 for c in curve], [c["fid"] for c in curve], marker="o", markersize=3,
                            color=colours[key], linestyle="-" if i == 0 else "--", label=f"{key[0]} / {key[1]}" if i == 0 else None)
        ax.set_yscale("log")
        ax.set_xlabel("training time (min)")
        ax.set_ylabel("FID vs test (log scale)")
        ax.set_title(f"{BUDGET_MIN[stage]}-minute budget (dashed: the other seeds)")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle("gan: FID over training time, gan-features classifier")
    plots.save_figure(fig, path)


def git_file(rev: str, path: str) -> bytes | None:
    """`path` as committed in `rev` (an experiment's commit holds its cache: false outputs), or None."""
    proc = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True)
    return proc.stdout if proc.returncode == 0 else None


GRIDS = "grids"  # under the results folder: each figure's sample grid, kept in git


def sample_grid(row: dict, out: Path, read=git_file) -> bytes | None:
    """`row`'s sample grid from its experiment commit, kept as `out/grids/<name>.png` (experiments stay on
    the machine that ran them; the kept copy travels with the results), or the kept copy, or None."""
    kept = Path(out) / GRIDS / f"{row['name']}.png"
    png = read(row["rev"], SAMPLES)
    if png:
        with files.replacing(kept) as tmp:
            tmp.write_bytes(png)
        return png
    return kept.read_bytes() if kept.is_file() else None


def samples_figure(rows: list[dict], path: Path, read=git_file) -> None:
    """Each (configuration, loss)'s sample grid side by side: from the long stage where it ran there,
    else the short one; the lowest seed's run whose grid is found (`sample_grid`)."""
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    candidates: dict[tuple[str, str], list[dict]] = {}
    for r in sorted(rows, key=lambda r: (r["stage"] != "long", r["seed"])):
        candidates.setdefault((r["config"], r["loss"]), []).append(r)
    keys = sorted(candidates, key=lambda k: (list(CONFIGS).index(k[0]) if k[0] in CONFIGS else len(CONFIGS), k[1]))
    cols = len(LOSSES)
    n_rows = max(1, -(-len(keys) // cols))
    fig, axes = plt.subplots(n_rows, cols, figsize=(4.2 * cols, 4.6 * n_rows), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, key in zip(axes.flat, keys):
        r, png = candidates[key][0], None
        for candidate in candidates[key]:
            if png := sample_grid(candidate, path.parent, read):
                r = candidate
                break
        if png:
            ax.imshow(mpimg.imread(io.BytesIO(png), format="png"))
        else:
            ax.text(0.5, 0.5, "no sample grid: not in the experiment,\nnone kept under grids/", ha="center", va="center",
                    transform=ax.transAxes)
        fid = r["metrics"].get("fid")
        ax.set_title(f"{key[0]} / {key[1]} ({r['stage']}, seed {r['seed']})\nFID {_num(fid)}, {_num(r['metrics'].get('generator_steps'), '{:.0f}')} steps",
                     fontsize=9)
    fig.suptitle("gan: samples (fixed noise) of each configuration")
    plots.save_figure(fig, path)


def write_results(rows: list[dict], out: Path, read=git_file, baseline: Baseline | None = None) -> None:
    """Every row to experiments.json; the tables and figures of the runs scored in the baseline's network."""
    scored, other_net = split_by_net(rows, baseline)
    exp_queue.write_results(out, rows, "gan-arch experiments", {"gan_arch.md": table(scored, baseline, other_net)},
                            {"samples.png": lambda path: samples_figure(scored, path, read),
                             "fid_over_time.png": lambda path: fid_over_time_figure(scored, path)})


def read_baseline(out: Path) -> Baseline | None:
    path = Path(out) / "baseline.json"
    return baselines.read(path) if path.is_file() else None


def with_curves(rows: list[dict], read=git_file) -> list[dict]:
    """`dvc exp show --json` leaves out list-valued metrics: each run's `fid_curve` from the
    metrics/gan.json its experiment commit holds, where the row has none."""
    for r in rows:
        if r["metrics"].get("fid_curve") is None and (raw := read(r["rev"], "metrics/gan.json")):
            r["metrics"]["fid_curve"] = json.loads(raw).get("fid_curve")
    return rows


def collect(out: Path) -> list[dict]:
    """This repo's gan-arch experiments, with their FID curves, plus the earlier sessions' rows (`exp_queue.with_earlier`)."""
    rows = exp_queue.with_earlier(out, with_curves(arch_runs(exp_queue.exp_show())))
    write_results(rows, out, baseline=read_baseline(out))
    return rows


def check_locked(*stages: str) -> None:
    """Exit unless `stages` (and what they need) are up to date in dvc.lock: see the docstring."""
    proc = subprocess.run(["dvc", "status", "--json", *stages], cwd=ROOT, capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or (lines and json.loads(lines[-1])):
        sys.exit(f"{' and '.join(stages)} must be up to date in dvc.lock: `dvc repro {' '.join(stages)}`, commit dvc.lock "
                 f"(dvc status: {proc.stdout.strip() or proc.stderr.strip()})")


def _winner(text: str) -> tuple[str, str]:
    config, _, loss = text.partition(":")
    if config not in CONFIGS or loss not in LOSSES:
        raise argparse.ArgumentTypeError(f"{text!r}: expected CONFIG:LOSS, CONFIG one of {', '.join(CONFIGS)}, LOSS one of {', '.join(LOSSES)}")
    return config, loss


def planned(args: argparse.Namespace) -> list[list[str]]:
    """The stage's commands, once gan-features is locked (unless a dry run); the long stage's winners from
    --winners or the short stage's results."""
    baseline = read_baseline(args.out)
    chosen = exp_queue.long_winners(args, lambda rows, top: winners(summarize(split_by_net(rows, baseline)[0], "short"), top))
    if args.stage == "long":
        log.info("long stage: %s (the default is the recorded baseline)", chosen)
    if not args.dry_run:
        check_locked("gan-features")
    return queue_commands(args.stage, tuple(args.seeds), chosen)


def record_baseline(out: Path) -> int:
    """Write the committed gan-evaluate run as the baseline record, after checking that its metrics come
    from the locked feature net and checkpoint; see the docstring's step 0."""
    from kexue import params as params_mod
    from kexue import tasks
    from kexue.tasks.gan.feature_net import load_feature_net
    from kexue.tasks.gan.params import GanParams

    check_locked("gan-features", "gan-train")
    metrics_path = "metrics/gan.json"
    if subprocess.run(["git", "status", "--porcelain", metrics_path], cwd=ROOT, capture_output=True, text=True).stdout.strip():
        sys.exit(f"{metrics_path} has uncommitted changes: commit the gan-evaluate run first, so the record can name its commit")
    metrics = json.loads((ROOT / metrics_path).read_text())
    summary = json.loads((ROOT / "models" / "gan" / "summary.json").read_text())
    for key in ("generator_steps", "train_wall_time_s"):
        if metrics.get(key) != summary.get(key):
            sys.exit(f"{metrics_path}: {key} {metrics.get(key)!r} is not the locked checkpoint's ({summary.get(key)!r} in "
                     "models/gan/summary.json): rerun gan-evaluate first")
    _, p = params_mod.load(ROOT / "params.yaml", "gan", GanParams, known_tasks=tasks.TASKS)
    if (p.model.generator, p.model.critic) != (metrics["generator"], metrics["critic"]):
        sys.exit(f"{metrics_path} is a {metrics['generator']}/{metrics['critic']} run, params.yaml says "
                 f"{p.model.generator}/{p.model.critic}")
    commit = subprocess.run(["git", "log", "-1", "--format=%H", "--", metrics_path], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    digest = baselines.weights_digest(load_feature_net(ROOT / "models" / "gan_features"))
    try:
        record = baselines.record(metrics, p.train.loss, digest, commit, "python benchmarks/gan_arch.py --record-baseline")
    except baselines.BaselineError as err:
        sys.exit(str(err))
    files.write_json(out / "baseline.json", record.model_dump())
    log.info("baseline: FID %.4f (%s/%s, %s) from %s, feature net %s -> %s", record.fid, record.generator, record.critic,
             record.loss, commit[:10], digest, out / "baseline.json")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = exp_queue.add_stage_options(exp_queue.parser(__doc__), SEEDS, "long stage: how many of the short stage's best (default 2)",
                                         "long stage: these CONFIG:LOSS pairs instead of the short stage's best", type=_winner)
    parser.add_argument("--record-baseline", action="store_true", help="write the committed gan-evaluate run to OUT/baseline.json")
    args = exp_queue.parse_args(parser, argv, OUT, "dvc queue start -j (default 1: a wall-clock budget wants the CPU to itself)")
    if args.record_baseline:
        return record_baseline(args.out)
    # a collected run scored in another feature net than the baseline's is queued again, under the same
    # name: remove its old experiment first (`dvc exp remove NAME`), DVC keeps one experiment a name
    baseline = read_baseline(args.out)
    return exp_queue.sweep(args, lambda: planned(args), collect, MINUTES[args.stage], lambda r: in_baseline_net(r, baseline))


if __name__ == "__main__":
    sys.exit(main())
