"""Runs on the fake model whose student calls are recorded: what each export must reproduce."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fake_runs import fake_run_config
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.runner import run_experiment
from sociallearn.models.base import GenerationParams
from sociallearn.models.fake import FakeModel

STUDENT = "fake:student"


@dataclass
class RecordedRun:
    """A run directory and every text the student's model was given in it."""

    run_dir: Path
    prompts: set[str] = field(default_factory=set)  # generate mode
    scored: set[tuple[str, str]] = field(default_factory=set)  # score mode: (context, label text)


# The one-round methods, voted; the student is a fake model of its own name, so that its calls
# can be told from the teachers' and recorded.
GRID: dict[str, Any] = {
    "methods": [
        "zero_shot",
        "hand_written",
        "original_examples",
        "synthetic_examples",
        "synthetic_instruction",
    ],
    "aggregators": ["voting"],
    "student_model": STUDENT,
    "silo_size": 20,
    "limit": 5,
}


def config(out: Path, **extra: Any) -> ExperimentConfig:
    return fake_run_config(out, GRID, **extra)


def recorded_run(out: Path, **extra: Any) -> RecordedRun:
    record = RecordedRun(out)
    generate, score = FakeModel.generate, FakeModel.score

    def recording_generate(self: FakeModel, prompts: Any, params: GenerationParams) -> Any:
        if self.model_id == STUDENT:
            record.prompts.update(prompts)
        return generate(self, prompts, params)

    def recording_score(self: FakeModel, requests: Any) -> Any:
        if self.model_id == STUDENT:
            record.scored.update((r.context, r.continuation) for r in requests)
        return score(self, requests)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FakeModel, "generate", recording_generate)
        patch.setattr(FakeModel, "score", recording_score)
        run_experiment(config(out, **extra))
    return record


def docs_of(path: Path) -> list[dict[str, Any]]:
    """The exported test items (one JSON object per line)."""
    import json

    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
