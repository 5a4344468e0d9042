"""dp_voting: a GNMax selection under trusted aggregation, its event log, budget and errors."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dp_accounting")

from fake_runs import fake_run_config, result_rows
from sociallearn.errors import ConfigError
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.runner import run_experiment
from sociallearn.models.base import GenerationParams
from sociallearn.models.fake import FakeModel
from sociallearn.privacy.accounting import PrivacyEvent, PrivacyLedger
from sociallearn.tasks.base import Example, Task
from sociallearn.teaching.aggregators_dp import DpVoting
from sociallearn.teaching.boundary import Boundary
from sociallearn.teaching.methods.synthetic_examples import SyntheticExamples
from sociallearn.teaching.rounds import MethodContext, run_rounds
from sociallearn.teaching.teacher import Teacher
from sociallearn.teaching.transcript import STUDENT, Transcript

GRID: dict[str, Any] = {
    "methods": ["synthetic_examples"],
    "aggregators": [{"name": "dp_voting", "sigma": 4.0}],
    "aggregation": "trusted",
}


def _config(out: Path, **extra: Any) -> ExperimentConfig:
    return fake_run_config(out, GRID, **extra)


def test_dp_voting_row_stores_the_event_log_and_survives_resume(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run_experiment(_config(run))
    [row] = result_rows(run)
    privacy = row["privacy"]
    assert privacy["covers"] == ["selection"]
    events = PrivacyLedger.from_list(privacy["events"])
    assert events.releases == row["n_examples_taught"] == 2
    assert all(e.sensitivity == math.sqrt(2) and e.noise == 4.0 for e in events.events)
    assert privacy["epsilon"] == pytest.approx(events.epsilon(privacy["delta"]))
    assert privacy["delta"] == 1e-5 and privacy["epsilon"] > 0
    # Only the selected examples reached the student (trusted aggregation).
    messages = [json.loads(x) for x in (run / "transcript.jsonl").read_text().splitlines()]
    to_student = [m for m in messages if m["recipient"] == STUDENT and m["sender"] != STUDENT]
    assert [m["kind"] for m in to_student] == ["release", "release"]
    # Resume: the finished unit is not recomputed and its log reads back the same.
    again = run_experiment(_config(run))
    assert again.computed == 0
    assert result_rows(run)[0]["privacy"] == privacy


def test_dp_voting_needs_trusted_aggregation(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^aggregators\[0\]: 'dp_voting.*trusted"):
        run_experiment(_config(tmp_path / "r", aggregation="student"))


@pytest.mark.parametrize(
    ("args", "field"),
    [({"sigma": 0}, "sigma"), ({"sigma": -1.0}, "sigma"), ({"delta": 1.5}, "delta")],
)
def test_bad_dp_voting_arguments_are_one_line_errors(
    tmp_path: Path, args: dict[str, Any], field: str
) -> None:
    config = _config(tmp_path / "r", aggregators=[{"name": "dp_voting", **args}])
    with pytest.raises(ConfigError, match=rf"^aggregators\[0\]\.{field}: ") as err:
        run_experiment(config)
    assert "\n" not in str(err.value)


def test_a_budget_below_one_selection_is_refused(tmp_path: Path) -> None:
    config = _config(tmp_path / "r", aggregators=[{"name": "dp_voting", "max_epsilon": 0.01}])
    with pytest.raises(ConfigError, match="max_epsilon: one selection at sigma 4 already costs"):
        run_experiment(config)


def _classroom(
    task: Task, private: list[Example], transcript: Transcript
) -> tuple[Boundary, list[Teacher]]:
    def writer(prompt: str, params: GenerationParams, index: int) -> str:
        return f"Text: fresh note {params.seed % 991} {index}\nClass: spam\n\n"

    model = FakeModel(writer)
    teachers = [
        Teacher(f"teacher-{i}", task, model, private[i::4], transcript=transcript, heldout=2)
        for i in range(4)
    ]
    return Boundary(task, teachers, transcript, aggregation="trusted"), teachers


def test_max_epsilon_stops_before_the_release_that_would_not_fit(
    spam_task: Task, private_examples: list[Example]
) -> None:
    one = PrivacyEvent("gaussian", 4.0, math.sqrt(2))
    budget = PrivacyLedger([one, one]).epsilon(1e-5) + 1e-6  # exactly two selections fit
    transcript = Transcript("u")
    boundary, _ = _classroom(spam_task, private_examples, transcript)
    aggregator = DpVoting(sigma=4.0, max_epsilon=budget)
    context = MethodContext(spam_task, 5, 0, boundary, aggregator=aggregator)
    taught = run_rounds(SyntheticExamples().plan, context, boundary)
    assert len(taught.curriculum.examples) == 2
    assert taught.curriculum.shortfall == 3
    assert taught.ledger is not None
    summary = taught.ledger.summary()
    assert summary["releases"] == 2 and summary["stopped_by_budget"]
    assert summary["epsilon"] <= budget
    assert len(taught.rounds) == 2  # the third round was never asked


def test_confident_vote_without_consensus_releases_nothing_but_is_charged(
    spam_task: Task, private_examples: list[Example]
) -> None:
    transcript = Transcript("u")
    boundary, _ = _classroom(spam_task, private_examples, transcript)
    # Four teachers can never give a noisy top count near 50.
    aggregator = DpVoting(sigma=1.0, threshold=50.0, sigma_threshold=1.0)
    context = MethodContext(spam_task, 2, 0, boundary, aggregator=aggregator)
    context.max_rounds_factor = 2
    taught = run_rounds(SyntheticExamples().plan, context, boundary)
    assert taught.curriculum.examples == ()
    assert taught.ledger is not None
    assert taught.ledger.releases == 2 * 4  # threshold check + GNMax, four rounds
    assert not any(m.kind == "release" for m in transcript)


def test_an_abstaining_vote_with_a_method_that_must_pick_is_refused(tmp_path: Path) -> None:
    config = _config(
        tmp_path / "r",
        methods=["synthetic_examples", {"name": "feedback", "rounds": 2}],
        aggregators=[{"name": "dp_voting", "threshold": 2.0}],
    )
    with pytest.raises(ConfigError, match=r"^aggregators\[0\]: .*may abstain.*'feedback"):
        run_experiment(config)
    # Without threshold or budget it never abstains, so feedback may use it.
    ok = _config(tmp_path / "ok", methods=[{"name": "feedback", "rounds": 1}], limit=2)
    run_experiment(ok)
