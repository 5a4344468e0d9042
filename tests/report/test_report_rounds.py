"""A run with a multi-round method gets a "Teaching rounds" section in both report formats."""

from __future__ import annotations

from pathlib import Path

from fake_runs import fake_run_config
from sociallearn.experiment.runner import run_experiment
from sociallearn.report import build_report


def test_feedback_rounds_are_reported(tmp_path: Path) -> None:
    cfg = fake_run_config(
        tmp_path / "run",
        methods=["synthetic_examples", {"name": "feedback", "rounds": 2, "patience": 3}],
        aggregators=["random"],
        seeds=[0, 1],
        silo_size=16,
        heldout=3,
        limit=5,
    )
    rows = run_experiment(cfg).run_dir_rows
    feedback = [r for r in rows if r["method"].startswith("feedback")]
    assert len(feedback) == 2
    for row in feedback:
        assert [r["iteration"] for r in row["rounds"]] == [0, 1, 2]
        chosen = [r for r in row["rounds"] if r["chosen"]]
        assert len(chosen) == 1 and chosen[0]["test_accuracy"] == row["accuracy"]
        assert all(r["heldout_accuracy"] is not None for r in row["rounds"])
    # Round 0 of feedback is the one-shot synthetic-examples curriculum of the same seed.
    synthetic = {r["seed"]: r["accuracy"] for r in rows if r["method"] == "synthetic_examples"}
    assert {r["seed"]: r["rounds"][0]["test_accuracy"] for r in feedback} == synthetic
    paths = build_report(tmp_path / "run", n_resamples=200)
    md = paths.markdown.read_text()
    assert "## Teaching rounds" in md and "Accuracy per teaching round" in md
    assert "feedback(patience=3,rounds=2)" in md
    assert "Teaching rounds" in paths.html.read_text()
