"""Cloze: accuracy against the number of training questions, the default run otherwise.

The prepared training questions are in source order (fairy tales, then news, then novels), and
`cloze.train.train_limit: N` trains on the first N of them, so the runs below are the default recipe
(2 hops, 2 epochs, word2vec vectors) on the first 4,052 / 8,104 / 16,209 fairy-tale questions (the
in-domain source: a quarter, a half, all), then with the news (54,309), then everything (130,382, the
committed default run). Make the runs first, one after another, nothing else training:

    dvc exp run --temp -n cloze-lim-ft4k -S cloze.train.train_limit=4052 cloze-evaluate
    dvc exp run --temp -n cloze-lim-ft8k -S cloze.train.train_limit=8104 cloze-evaluate
    dvc exp run --temp -n cloze-lim-ft -S cloze.train.train_limit=16209 cloze-evaluate
    dvc exp run --temp -n cloze-lim-ftnews -S cloze.train.train_limit=54309 cloze-evaluate
    dvc exp run --temp -n cloze-lim-ft4k-8ep -S cloze.train.train_limit=4052 -S cloze.train.epochs=8 cloze-evaluate

(the last a control: a quarter of the fairy tales for 8 epochs, 512 steps, about the 508 of all of them for 2)

then `PYTHONPATH=src python benchmarks/cloze_data_size.py OUT_DIR`: it reads their metrics from the experiment refs
and the committed run's from `metrics/cloze.json`, and writes `OUT_DIR/data_size.json` and
`OUT_DIR/data_size.png`. A measurement, not a stage.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt

from kexue import files, plots

RUNS = {  # experiment name -> (training questions, what they are)
    "cloze-lim-ft4k": (4052, "fairy tales, first quarter"),
    "cloze-lim-ft8k": (8104, "fairy tales, first half"),
    "cloze-lim-ft": (16209, "fairy tales"),
    "cloze-lim-ftnews": (54309, "fairy tales + news"),
}
CONTROL = ("cloze-lim-ft4k-8ep", 4052, "fairy tales, first quarter, 8 epochs: 512 steps, about the 508 of all of them at 2")
TARGET = 0.7355  # the blog's cloze-valid accuracy, trained on the official 350k questions


def exp_metrics(name: str) -> dict:
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], check=True,
                          capture_output=True, text=True).stdout.split()
    found = [r for r in refs if r.rsplit("/", 1)[-1] == name]
    if not found:
        raise SystemExit(f"no experiment named {name!r} in refs/exps: run it first (see this file's docstring)")
    text = subprocess.run(["git", "show", f"{found[-1]}:metrics/cloze.json"], check=True, capture_output=True, text=True).stdout
    return json.loads(text)


def row(questions: int, what: str, m: dict) -> dict:
    return {"train_questions": questions, "what": what, "epochs": m["epochs"], "train_wall_time_s": m["train_wall_time_s"],
            "cloze_valid": m["cloze_valid"]["accuracy"], "user_valid": m["user_valid"]["accuracy"],
            "generated_val": m["generated_val"]["accuracy"],
            "cloze_valid_by_answer_occurrences": {k: round(v["accuracy"], 4) for k, v in m["cloze_valid"]["by_answer_occurrences"].items()}}


def main(out: Path) -> None:
    rows = [row(n, what, exp_metrics(name)) for name, (n, what) in RUNS.items()]
    full = json.loads(Path("metrics/cloze.json").read_text())
    rows.append(row(full["train_questions"], "fairy tales + news + novels (the committed default run)", full))
    control = row(CONTROL[1], CONTROL[2], exp_metrics(CONTROL[0]))
    files.write_json(out / "data_size.json", rows + [control])

    fig, ax = plt.subplots(figsize=(6.4, 4))
    x = [r["train_questions"] for r in rows]
    for key, label in (("cloze_valid", "cloze-valid"), ("user_valid", "user-valid")):
        ax.plot(x, [100 * r[key] for r in rows], marker="o", label=label)
    ax.plot([control["train_questions"]], [100 * control["cloze_valid"]], marker="x", linestyle="none", color="C0",
            markersize=9, label="cloze-valid, 8 epochs (about the steps of 16,209 at 2)")
    ax.axhline(100 * TARGET, color="grey", linestyle="--", label="blog, 350k official questions")
    ax.axvline(16209, color="lightgrey", linestyle=":", label="all the fairy tales (in-domain)")
    ax.set_xscale("log")
    ax.set_xlabel("training questions (first N: fairy tales, then news, then novels)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("cloze: default recipe (2 hops, 2 epochs), less training data")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, 0.88))  # below the target line, above the curves
    plots.save_figure(fig, out / "data_size.png")
    for r in rows + [control]:
        print(f"{r['train_questions']:>7}  cloze-valid {100 * r['cloze_valid']:.2f}%  user-valid {100 * r['user_valid']:.2f}%  {r['what']}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
