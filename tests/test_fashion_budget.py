"""benchmarks/fashion_budget.py: its collector and table on a hand-made `dvc exp show --json` (no dvc runs)."""

from __future__ import annotations

import importlib.util

from tests.conftest import REPO

_spec = importlib.util.spec_from_file_location("fashion_budget", REPO / "benchmarks" / "fashion_budget.py")
fashion_budget = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fashion_budget)


def _exp(name: str, acc: float, seconds: float, profile: str = "budget", model: dict | None = None) -> dict:
    params = {"profile": profile, "seed": 1, "fashion": {"model": {"width": 2.0}, "train": {"batch_size": 128, "augment": "flip+shift"},
                                                           "budget": {"model": {"width": 0.5, **(model or {})}, "train": {"batch_size": 64}}}}
    metrics = {"test_acc": acc, "best_val_acc": acc, "epochs": 6, "train_wall_time_s": seconds, "train_device": "cpu"}
    data = {"rev": f"rev-{name}", "params": {"params.yaml": {"data": params}},
            "metrics": {"metrics/fashion.json": {"data": metrics}}}
    return {"name": name, "revs": [{"rev": data["rev"], "name": name, "data": data, "experiments": None}]}


def test_a_candidate_meets_the_goal_only_with_both_accuracy_and_time():
    shown = [{"experiments": [_exp("budget-fast-good", 0.931, 590.0), _exp("budget-slow-good", 0.935, 640.0),
                              _exp("tricks-long-baseline-seed1", 0.92, 300.0), _exp("other", 0.99, 10.0),
                              _exp("tricks-long-act-leaky_relu-seed1", 0.937, 580.0, model={"activation": "leaky_relu"}),
                              _exp("tricks-long-act-gelu-seed1", 0.94, 580.0, model={"activation": "gelu"}),
                              _exp("budget-full", 0.95, 100.0, profile="full")]}]
    rows = fashion_budget.rows_of(shown)
    assert [r["name"] for r in rows] == ["budget-fast-good", "budget-full", "budget-slow-good",
                                         "tricks-long-act-leaky_relu-seed1", "tricks-long-baseline-seed1"]
    table = fashion_budget.table(rows)
    assert "| budget-fast-good | 0.5 | relu | 6 | 64 | flip+shift | 93.10% | 93.10% | 590 s | cpu | yes |" in table
    assert "| budget-slow-good | 0.5 | relu | 6 | 64 | flip+shift | 93.50% | 93.50% | 640 s | cpu | no |" in table
    # the budget as it is now: the budget section's activation over the full run's default
    assert "| tricks-long-act-leaky_relu-seed1 | 0.5 | leaky_relu | 6 | 64 | flip+shift | 93.70% | 93.70% | 580 s | cpu | yes |" in table
    assert "| tricks-long-baseline-seed1 |" in table and "budget-full" not in table  # not the budget profile


def test_a_collect_keeps_earlier_sessions_rows_and_prefers_the_new_run_of_a_name(tmp_path):
    import json

    earlier = [{"name": "budget-old", "test_acc": 0.92}, {"name": "budget-again", "test_acc": 0.5}]
    (tmp_path / "experiments.json").write_text(json.dumps(earlier))
    rows = fashion_budget.exp_queue.with_earlier(tmp_path, [{"name": "budget-again", "test_acc": 0.93},
                                                            {"name": "budget-new", "test_acc": 0.91}])
    assert [(r["name"], r["test_acc"]) for r in rows] == [("budget-again", 0.93), ("budget-new", 0.91), ("budget-old", 0.92)]
    assert fashion_budget.exp_queue.with_earlier(tmp_path / "none", []) == []
