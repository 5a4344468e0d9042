"""The canary audit of a multi-round method measures the canary after every round."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from sociallearn.experiment.audit import run_audit
from sociallearn.experiment.config import ExperimentConfig


def test_feedback_audit_has_a_rank_per_round(tmp_path: Path) -> None:
    cfg = ExperimentConfig.model_validate(
        {
            "tasks": ["sms_spam"],
            "model": "fake",
            "teachers": 3,
            "silo_size": 16,
            "heldout": 3,
            "out": tmp_path / "audit",
            "limit": 4,
            "synthesis": {"constrained": False},
            "audit": {
                "n_references": 30,
                "runs": 1,
                "n": 2,
                "templates": ["sms_spam-code"],
                "methods": [{"name": "feedback", "rounds": 2, "patience": 5}],
            },
        }
    )
    with (tmp_path / "log.txt").open("w") as log:
        [row] = run_audit(cfg, Console(file=log, width=200))
    assert row["method"] == "feedback(patience=5,rounds=2)"
    rounds = row["rounds"]
    assert [r["iteration"] for r in rounds] == [0, 1, 2]
    assert sum(r["chosen"] for r in rounds) == 1
    chosen = next(r for r in rounds if r["chosen"])
    assert (chosen["rank"], chosen["exposure"]) == (row["rank"], row["exposure"])
    assert all(0 <= r["rank"] < 30 for r in rounds)
