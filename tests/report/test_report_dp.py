"""A run with differentially private methods gets a privacy–utility section: ε recomputed from
the stored event logs, what it covers, non-private references, a curve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fake_runs import fake_run_config
from sociallearn.experiment.runner import run_experiment
from sociallearn.report import build_report
from sociallearn.report.dp import dp_points

pytest.importorskip("dp_accounting", reason="the dp extra (dp-accounting) is not installed")


def test_privacy_utility_section(tmp_path: Path) -> None:
    cfg = fake_run_config(
        tmp_path / "run",
        aggregation="trusted",
        methods=[
            "zero_shot",
            "synthetic_examples",
            {"name": "private_labels", "sigma": 2.0, "shots": 2},
            {"name": "private_labels", "sigma": 8.0, "shots": 2},
        ],
        aggregators=[{"name": "dp_voting", "sigma": 2.0}, "random"],
        seeds=[0, 1],
    )
    rows = run_experiment(cfg).run_dir_rows
    points = dp_points(rows)
    labels = {p.mechanism: p for p in points if p.mechanism == "dp_voting"}
    assert labels["dp_voting"].covers == "selection"
    by_sigma = {p.method: p.epsilon for p in points if p.mechanism == "private_labels"}
    # More noise, less ε; recomputed from the logs, equal to what the unit stored at its δ.
    assert (
        by_sigma["private_labels(shots=2,sigma=8.0)"]
        < by_sigma["private_labels(shots=2,sigma=2.0)"]
    )
    stored = {
        r["method"]: r["privacy"]["epsilon"] for r in rows if r["method"].startswith("private")
    }
    for method, epsilon in by_sigma.items():
        assert epsilon == pytest.approx(stored[method], rel=1e-6)
    md = build_report(tmp_path / "run", n_resamples=100).markdown.read_text()
    assert "## Privacy and utility" in md
    assert "selection ε" in md and "non-private" in md
    # The non-private synthetic reference is kept apart per aggregator, not pooled.
    assert "| synthetic_examples (random) |" in md
    # Each mechanism's rows from the smallest ε up.
    label_epsilons = [p.epsilon for p in points if p.mechanism == "private_labels"]
    assert label_epsilons == sorted(label_epsilons)
    assert (tmp_path / "run" / "report_files" / "privacy_utility.png").exists()
    assert json.loads((tmp_path / "run" / "results.jsonl").read_text().splitlines()[0])
