"""Feedback rounds and a multi-teacher instruction on the real embedded model (small)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.runner import run_experiment

pytestmark = pytest.mark.embedded


def test_feedback_two_rounds_on_sms_spam(tmp_path: Path) -> None:
    cfg = ExperimentConfig.model_validate(
        {
            "tasks": ["sms_spam"],
            "methods": [
                {"name": "feedback", "rounds": 2, "patience": 2},
                {"name": "synthetic_instruction", "teachers": 2, "merge": "vote"},
            ],
            "aggregators": ["random"],
            "n": [2],
            "seeds": [0],
            "model": "llamacpp:smollm2",
            "teachers": 3,
            "silo_size": 12,
            "heldout": 3,
            "answer_mode": "score",
            "limit": 6,
            "synthesis": {"n_gen": 2, "samples": 2, "top_k": 1, "max_tokens": 64},
            "out": tmp_path / "run",
        }
    )
    rows = {r["method"]: r for r in run_experiment(cfg).run_dir_rows}
    feedback = rows["feedback(patience=2,rounds=2)"]
    assert [r["iteration"] for r in feedback["rounds"]] == [0, 1, 2]
    assert all(0.0 <= r["heldout_accuracy"] <= 1.0 for r in feedback["rounds"])
    assert sum(r["chosen"] for r in feedback["rounds"]) == 1
    assert feedback["rounds"][1]["tokens"] > 0  # the feedback round really generated
    assert feedback["private_examples_in_prompt"] == 0
    assert feedback["leakage"]["n_sampled"] > 0
    instruction = rows["synthetic_instruction(merge=vote,teachers=2)"]
    assert instruction["instruction"]  # a real instruction was written and kept
    assert instruction["private_examples_in_prompt"] == 0
