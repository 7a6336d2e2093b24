"""`python -m kexue report`: the README's generated tables are current, a missing metrics file gives a
"not run" row, and a bad targets file fails naming the file and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kexue import report
from kexue.__main__ import main

ROOT = Path(__file__).resolve().parents[1]

TARGETS = {
    "alpha": {"post": "a post", "metric": "scores.acc", "label": "accuracy", "format": "{:.1%}",
              "target": 0.9, "better": "higher", "blog": "91%"},
    "beta": {"post": "another post", "metric": "loss", "label": "loss", "format": "{:.2f}",
             "target": "baseline_loss", "target_label": "baseline", "better": "lower", "blog": "none"},
}


def test_readme_tables_are_the_generated_ones():
    reports = report.collect(ROOT / "metrics", ROOT / "metrics" / "targets.yaml", ROOT / report.QUICK)
    fresh = report.tables(reports)
    committed = report.readme_blocks(ROOT / "README.md")
    for name in report.BLOCKS:
        assert committed[name] == fresh[name], (
            f"README.md's {name!r} table differs from metrics/*.json: run `python -m kexue report` and commit README.md"
        )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    metrics = tmp_path / "metrics"
    (metrics / "alpha" / "eval").mkdir(parents=True)
    (metrics / "targets.yaml").write_text(yaml.safe_dump(TARGETS, allow_unicode=True))
    (metrics / "alpha.json").write_text(json.dumps({
        "scores": {"acc": 0.9234}, "per_class": [0.5, 0.25], "train_wall_time_s": 4752.6,
        "train_device": "cpu: x86_64, 2 cores, 2 threads (32-true)", "eval_wall_time_s": 12.3, "eval_device": "cpu"}))
    (metrics / "alpha" / "eval" / "curves.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "quick.json").write_text(json.dumps({"tasks": {"alpha": {"seconds": 12.4, "value": 0.8123}}}))
    a, b = report._markers("status")
    c, d = report._markers("times")
    (tmp_path / "README.md").write_text(f"# x\n\n{a}\nold\n{b}\n\ntext\n\n{c}\n{d}\n")
    return tmp_path


def test_report_on_fake_metrics_and_a_missing_file(project: Path):
    metrics, readme = project / "metrics", project / "README.md"
    assert main(["report", "--metrics", str(metrics), "--readme", str(readme), "--quick", str(project / "quick.json")]) == 0
    text = readme.read_text()
    assert "| [`alpha`](docs/alpha.md) | a post | accuracy | 92.3% | ≥ 90.0% | yes | 91% | CPU, 2 cores |" in text
    assert "| [`beta`](docs/beta.md) | another post | loss | not run | ≤ baseline | — | none | — |" in text
    assert "| [`alpha`](docs/alpha.md) | 79 min on CPU, 2 cores | 12 s on CPU | 81.2% in 12 s |" in text
    assert "| [`beta`](docs/beta.md) | — | — | not measured |" in text
    assert "old" not in text and "\ntext\n" in text
    page = (metrics / "report.html").read_text()
    assert '<img src="alpha/eval/curves.png"' in page  # relative to the page: works offline
    assert "scores.acc" in page and "0.5, 0.25" in page and "not run" in page
    # a second run changes nothing, and --check agrees
    assert report.update_readme(readme, report.tables(report.collect(metrics, metrics / "targets.yaml", project / "quick.json"))) is False
    assert main(["report", "--metrics", str(metrics), "--readme", str(readme), "--quick", str(project / "quick.json"), "--check"]) == 0
    readme.write_text(text.replace("92.3%", "99.9%"))
    assert main(["report", "--metrics", str(metrics), "--readme", str(readme), "--quick", str(project / "quick.json"), "--check"]) == 1


@pytest.mark.parametrize("task, key, value, message", [
    ("alpha", "better", "more", "alpha.better"),
    ("beta", "format", "{:.2q}", "beta.format"),
    ("alpha", "colour", "red", "alpha.colour"),
    ("alpha", "metric", None, "alpha.metric"),
])
def test_bad_targets_file_names_file_and_key(project: Path, task, key, value, message):
    path = project / "metrics" / "targets.yaml"
    bad = json.loads(json.dumps(TARGETS))
    if value is None:
        del bad[task][key]
    else:
        bad[task][key] = value
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(report.ReportError, match=message) as err:
        report.collect(project / "metrics", path)
    assert str(path) in str(err.value)


def test_a_key_target_times_its_factor_and_a_null_baseline(project: Path):
    targets = json.loads(json.dumps(TARGETS))
    targets["beta"]["target_factor"] = 0.5
    (project / "metrics" / "targets.yaml").write_text(yaml.safe_dump(targets))
    beta = project / "metrics" / "beta.json"
    beta.write_text(json.dumps({"loss": 2.4, "baseline_loss": 4.0}))
    row = next(r for r in report.collect(project / "metrics", project / "metrics" / "targets.yaml") if r.task == "beta")
    assert (row.target_text(), row.met_text()) == ("≤ baseline (2.00)", "no")  # 2.4 > 4.0 x 0.5
    beta.write_text(json.dumps({"loss": 2.4, "baseline_loss": None}))  # no baseline comparable with this run
    row = next(r for r in report.collect(project / "metrics", project / "metrics" / "targets.yaml") if r.task == "beta")
    assert (row.target_text(), row.met_text()) == ("≤ baseline", "—")
    targets["beta"]["target_factor"] = 0
    (project / "metrics" / "targets.yaml").write_text(yaml.safe_dump(targets))
    with pytest.raises(report.ReportError, match="beta.target_factor"):
        report.collect(project / "metrics", project / "metrics" / "targets.yaml")


def test_metric_key_missing_from_metrics_file(project: Path, capsys):
    bad = json.loads(json.dumps(TARGETS))
    bad["alpha"]["metric"] = "scores.f1"
    (project / "metrics" / "targets.yaml").write_text(yaml.safe_dump(bad))
    assert main(["report", "--metrics", str(project / "metrics"), "--readme", str(project / "README.md")]) == 1
    err = capsys.readouterr().err
    assert "alpha.json" in err and "'scores.f1'" in err


def test_readme_without_markers_says_what_to_add(project: Path):
    (project / "README.md").write_text("# no tables here\n")
    with pytest.raises(report.ReportError, match="report:status begin"):
        report.readme_blocks(project / "README.md")


@pytest.mark.parametrize("content", ['{"alpha": 3}', '{"tasks": {"alpha": {"value": 0.5}}}', "not json"])
def test_a_bad_quick_file_fails_naming_it(project: Path, content: str):
    (project / "quick.json").write_text(content)
    with pytest.raises(report.ReportError, match="quick.json"):
        report.collect(project / "metrics", project / "metrics" / "targets.yaml", project / "quick.json")


def test_a_failed_quick_run_says_so(project: Path):
    (project / "quick.json").write_text(json.dumps({"tasks": {"alpha": {"seconds": 700, "value": None}}}))
    reports = report.collect(project / "metrics", project / "metrics" / "targets.yaml", project / "quick.json")
    assert reports[0].quick_text() == "failed after 12 min"
