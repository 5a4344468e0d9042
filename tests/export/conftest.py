"""Session fixtures: a generate-mode and a score-mode run with the student's inputs recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from export_fixtures import RecordedRun, recorded_run


@pytest.fixture(scope="session")
def generated_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordedRun]:
    """Answer mode ``generate``: every method, one seed, five test items."""
    yield recorded_run(tmp_path_factory.mktemp("export") / "generate")


@pytest.fixture(scope="session")
def scored_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordedRun]:
    """Answer mode ``score`` with calibration (label continuations are recorded too)."""
    yield recorded_run(
        tmp_path_factory.mktemp("export") / "score",
        methods=["original_examples", "synthetic_instruction"],
        answer_mode="score",
        calibrate=True,
    )
