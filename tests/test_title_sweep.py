"""benchmarks/title_sweep.py: its collector and table on a hand-made `dvc exp show --json` (no dvc runs)."""

from __future__ import annotations

import importlib.util

from tests.conftest import REPO

_spec = importlib.util.spec_from_file_location("title_sweep", REPO / "benchmarks" / "title_sweep.py")
title_sweep = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(title_sweep)


def _scores(r: float) -> dict:
    return {"rouge1": r + 0.05, "rouge2": r - 0.1, "rougeL": r}


def _exp(name: str, seed: int, prior: bool, pointer: bool, r: float) -> dict:
    metrics = {"model": _scores(r), "lead": _scores(0.3), "oracle": _scores(0.35),
               "by_beam": {f"beam{b}": _scores(r + 0.01 * b) for b in title_sweep.BEAMS}}
    params = {"seed": seed, "profile": "full",
              "title": {"model": {"prior": prior, "pointer": pointer}, "decode": {"beam": 3}}}
    data = {"rev": f"rev-{name}", "params": {"params.yaml": {"data": params}},
            "metrics": {"metrics/title.json": {"data": metrics}}}
    return {"name": name, "revs": [{"rev": data["rev"], "name": name, "data": data, "experiments": None}]}


def test_the_table_averages_each_variant_over_seeds_beside_the_baselines(tmp_path):
    shown = [{"rev": "workspace", "data": {"rev": "workspace", "params": {}, "metrics": {}}},
             {"experiments": [_exp("title-prior1-seed1", 1, True, True, 0.36), _exp("title-prior1-seed2", 2, True, True, 0.38),
                              _exp("title-prior0-seed1", 1, False, True, 0.30), _exp("title-pointer0-seed1", 1, True, False, 0.20)]}]
    rows = title_sweep.title_runs(shown)
    assert {r["name"] for r in rows} == {"title-prior1-seed1", "title-prior1-seed2", "title-prior0-seed1", "title-pointer0-seed1"}
    assert next(r for r in rows if r["name"] == "title-pointer0-seed1")["pointer"] is False
    table = title_sweep.table(rows, (1, 2))
    # prior on, beam 3: the mean and sample std of 0.39 and 0.41 over the two seeds
    assert "| prior on, beam 3 | 2 | 0.4500 ± 0.0141 | 0.3000 ± 0.0141 | 0.4000 ± 0.0141 |" in table
    assert "| prior off, beam 1 (greedy) | 1 | 0.3600 | 0.2100 | 0.3100 |" in table
    assert "| the post's model (pointer off, prior on), beam 5 | 1 | 0.3000 | 0.1500 | 0.2500 |" in table
    assert "| lead baseline | 3 | 0.3500 ± 0.0000 |" in table  # only the sweep's runs, not the post's model
    assert list(title_sweep.variants(rows, (1, 2))) == ["prior on", "prior off", "the post's model (no pointer)"]
    title_sweep.draw(rows, (1, 2), tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 0


def test_exp_queue_reads_each_experiment_once_with_its_params_and_metrics():
    """benchmarks/exp_queue.py, which the three sweeps collect with: every record at any depth of
    `dvc exp show --json`, the first one of a revision, only those with data in the metrics file (and,
    with a pattern, a name it matches); params from params.yaml."""
    import re

    exp_queue = title_sweep.exp_queue

    def rec(name, rev, metrics):
        data = {"rev": rev, "params": {"params.yaml": {"data": {"seed": int(rev[-1])}}, "other.yaml": {"data": {"seed": 0}}},
                "metrics": {"metrics/gan.json": {"data": {"fid": 1.0}}, **({"metrics/title.json": {"data": metrics}} if metrics else {})}}
        return {"name": name, "revs": [{"rev": rev, "name": name, "data": data, "experiments": None}]}

    shown = [{"rev": "workspace", "data": {"rev": "workspace", "params": {}, "metrics": {}}},
             {"rev": "main", "data": {"rev": "main", "params": {}, "metrics": {}},
              "experiments": [rec("a-1", "r1", {"x": 1}), rec("b-2", "r2", {"x": 2}), rec("a-3", "r3", None),
                              {"nested": [rec("a-1-again", "r1", {"x": 9}), rec(None, "r4", {"x": 4})]}]}]
    got = [(e.name, e.rev, e.params, e.metrics) for e in exp_queue.experiments(shown, "metrics/title.json")]
    assert got == [("a-1", "r1", {"seed": 1}, {"x": 1}), ("b-2", "r2", {"seed": 2}, {"x": 2}), (None, "r4", {"seed": 4}, {"x": 4})]
    assert [e.name for e in exp_queue.experiments(shown, "metrics/title.json", re.compile(r"^a-\d+$"))] == ["a-1"]
    assert [e.rev for e in exp_queue.experiments(shown, "gan.json")] == ["r1", "r2", "r3", "r4"]
    assert exp_queue.file_data(None, "params.yaml") == {} and exp_queue.file_data({"p.yaml": "broken"}, "p.yaml") == {}


def test_the_collector_reads_every_commit_that_has_experiments():
    listing = "0300d0d:\n\tc2f5c41 [title-prior0-seed3]\n\t171e016 [title-pointer0-seed1]\nfe9c194:\n\tab12cd3 [x]\n"
    assert title_sweep.exp_queue.baselines(listing) == ["0300d0d", "fe9c194"]
    assert title_sweep.exp_queue.baselines("") == []
