"""Small end-to-end runs on the fake model, shared by the tests of the runner, the executors,
the DP methods and the report: one config to start from, and the rows a run wrote."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sociallearn.experiment.config import ExperimentConfig

# SMS spam, 2 examples taught, 3 teachers with small silos and a few test items: seconds per
# unit, yet every method has examples to teach from and to vote with. Synthesis asks for no
# grammar: the fake model would ignore it. Each test names the fields it varies.
FAKE_RUN: dict[str, Any] = {
    "tasks": ["sms_spam"],
    "n": [2],
    "model": "fake",
    "teachers": 3,
    "silo_size": 12,
    "heldout": 2,
    "limit": 4,
    "synthesis": {"constrained": False},
}

# One unit of a differentially private method: trusted aggregation (the only kind those methods
# accept), smaller silos with no held-out examples, 3 test items.
DP_UNIT: dict[str, Any] = {"aggregation": "trusted", "silo_size": 10, "heldout": 0, "limit": 3}


def fake_run_config(out: Path, *grids: Mapping[str, Any], **fields: Any) -> ExperimentConfig:
    """:data:`FAKE_RUN` writing to ``out``, updated by each of ``grids`` in turn, then by
    ``fields``."""
    config: dict[str, Any] = {**FAKE_RUN, "out": out}
    for grid in grids:
        config.update(grid)
    return ExperimentConfig.model_validate(config | fields)


def fake_audit_config(out: Path, runs: int, **fields: Any) -> ExperimentConfig:
    """A small audit on the fake model: SMS spam's 2 templates x 2 methods per run, 20 texts."""
    return ExperimentConfig.model_validate(
        {
            "tasks": ["sms_spam"],
            "model": "fake",
            "teachers": 3,
            "silo_size": 12,
            "heldout": 0,
            "out": out,
            "synthesis": {"constrained": False},
            "audit": {"n_references": 20, "runs": runs, "n": 2},
            **fields,
        }
    )


def result_rows(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of a run's results.jsonl, in the order written."""
    return [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]
