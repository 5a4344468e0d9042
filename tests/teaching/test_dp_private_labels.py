"""private_labels: public inputs, labels by the teachers' noisy vote (PromptPATE), fake model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dp_accounting")

from fake_runs import DP_UNIT, fake_run_config, result_rows
from sociallearn.errors import ConfigError
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.runner import run_experiment
from sociallearn.models.base import GenerationParams
from sociallearn.models.fake import FakeModel
from sociallearn.privacy.accounting import PrivacyEvent, PrivacyLedger
from sociallearn.tasks.base import AnswerParser, Example, Task
from sociallearn.teaching.boundary import Boundary
from sociallearn.teaching.methods.private_labels import PrivateLabels, template_parts
from sociallearn.teaching.rounds import MethodContext, run_rounds
from sociallearn.teaching.teacher import Teacher
from sociallearn.teaching.transcript import STUDENT, Transcript


def _boundary(
    task: Task,
    private: list[Example],
    teacher_model: FakeModel,
    public_model: FakeModel | None = None,
) -> Boundary:
    transcript = Transcript("u")
    teachers = [
        Teacher(f"teacher-{i}", task, teacher_model, private[i::4], transcript=transcript)
        for i in range(4)
    ]
    return Boundary(
        task, teachers, transcript, aggregation="trusted", student_model=public_model or FakeModel()
    )


def _public_writer(prompt: str, params: GenerationParams, index: int) -> str:
    return f" public words {params.seed % 89} {index}\n"


def test_labels_are_the_noisy_majority_of_the_teachers(
    spam_task: Task, private_examples: list[Example]
) -> None:
    # Every teacher's model prefers " not spam" (+5 nats), so every vote is "not spam".
    boundary = _boundary(
        spam_task, private_examples, FakeModel(preferences=["not"]), FakeModel(_public_writer)
    )
    context = MethodContext(spam_task, 3, 0, boundary)
    taught = run_rounds(PrivateLabels(sigma=0.5).plan, context, boundary)
    examples = taught.curriculum.examples
    assert len(examples) == 3 and taught.curriculum.shortfall == 0
    assert all(e.target == "not spam" for e in examples)
    assert all(e.fields["text"].startswith("public words") for e in examples)
    assert taught.ledger is not None
    assert taught.ledger.covers() == ("labels",)
    assert taught.ledger.releases == 3
    released = [m for m in boundary.transcript if m.recipient == STUDENT]
    assert len(released) == 1 and released[0].kind == "release"
    # Teachers saw the public queries; their votes went to the aggregator only.
    votes = [m for m in boundary.transcript if m.kind == "vote"]
    assert {m.recipient for m in votes} == {"aggregator"}


def test_inputs_from_a_user_file(
    tmp_path: Path, spam_task: Task, private_examples: list[Example]
) -> None:
    path = tmp_path / "inputs.jsonl"
    texts = [f"unlabelled message number {i}" for i in range(6)]
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    boundary = _boundary(spam_task, private_examples, FakeModel(preferences=["not"]))
    method = PrivateLabels(sigma=0.5, inputs=str(path))
    method.check(spam_task, 4)
    context = MethodContext(spam_task, 4, 0, boundary)
    taught = run_rounds(method.plan, context, boundary)
    assert {e.fields["text"] for e in taught.curriculum.examples} <= set(texts)
    assert len(taught.curriculum.examples) == 4


def test_max_epsilon_stops_labelling_and_records_the_shortfall(
    spam_task: Task, private_examples: list[Example]
) -> None:
    one = PrivacyEvent("gaussian", 4.0, 2**0.5)
    budget = PrivacyLedger([one] * 3).epsilon(1e-5) + 1e-6
    boundary = _boundary(spam_task, private_examples, FakeModel(), FakeModel(_public_writer))
    context = MethodContext(spam_task, 6, 0, boundary)
    taught = run_rounds(PrivateLabels(max_epsilon=budget).plan, context, boundary)
    assert len(taught.curriculum.examples) == 3
    assert taught.curriculum.shortfall == 3
    assert taught.ledger is not None
    summary = taught.ledger.summary()
    assert summary["stopped_by_budget"] and summary["epsilon"] <= budget


def test_task_without_labels_is_refused(spam_task: Task) -> None:
    cloze = Task("cloze", "Text: {text}\nWord:", AnswerParser("first_word"))
    with pytest.raises(ConfigError, match="private_labels needs a classification task"):
        PrivateLabels().check(cloze, 4)


def test_template_parts_split_fields_and_literals() -> None:
    task = Task("qa", "Passage: {passage}\nQuestion: {question}\nAnswer:", AnswerParser("choice"))
    assert template_parts(task) == [
        ("Passage: ", "passage"),
        ("\nQuestion: ", "question"),
        ("\nAnswer:", None),
    ]


def _config(out: Path, **extra: Any) -> ExperimentConfig:
    method = {"name": "private_labels", "sigma": 2.0}
    return fake_run_config(out, DP_UNIT, {"methods": [method]}, **extra)


def test_a_run_row_holds_the_label_events(tmp_path: Path) -> None:
    run_experiment(_config(tmp_path / "r"))
    [row] = result_rows(tmp_path / "r")
    assert row["privacy"]["covers"] == ["labels"]
    assert row["privacy"]["releases"] >= row["n_examples_taught"]
    assert row["private_examples_in_prompt"] == 0


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        ({"aggregation": "student"}, r"^methods\[0\]: 'private_labels.*trusted"),
        (
            {"methods": [{"name": "private_labels", "sigma": 0}]},
            r"^methods\[0\]\.sigma: ",
        ),
        (
            {"methods": [{"name": "private_labels", "delta": 2}]},
            r"^methods\[0\]\.delta: ",
        ),
        (
            {"methods": [{"name": "private_labels", "inputs": "/no/such/file.jsonl"}]},
            r"/no/such/file.jsonl: file not found",
        ),
    ],
)
def test_bad_input_is_one_error_line_before_any_unit(
    tmp_path: Path, extra: dict[str, Any], pattern: str
) -> None:
    with pytest.raises(ConfigError, match=pattern) as err:
        run_experiment(_config(tmp_path / "r", **extra))
    assert "\n" not in str(err.value)
    results = tmp_path / "r" / "results.jsonl"
    assert not results.exists() or not results.read_text()
