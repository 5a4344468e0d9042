from __future__ import annotations

import pytest

from sociallearn.errors import ConfigError
from sociallearn.models.base import GenerationParams
from sociallearn.models.fake import FakeModel
from sociallearn.tasks.base import AnswerParser, Example, Task
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.student import Student


def test_prompt_is_instruction_then_examples(
    spam_task: Task, private_examples: list[Example]
) -> None:
    student = Student(FakeModel(), spam_task)
    prompt = student.learn(
        Curriculum(instruction="Classify.", examples=tuple(private_examples[:2]))
    )
    assert prompt.startswith("Classify.\n\nText: message 0")
    assert prompt.endswith("Class: not spam\n\n")


def test_generate_mode_appends_each_query_to_the_shared_prompt(
    spam_task: Task, private_examples: list[Example]
) -> None:
    seen: list[str] = []

    def reply(prompt: str, params: GenerationParams, index: int) -> str:
        seen.append(prompt)
        query = prompt.split("\n\n")[-1]
        return " not spam\nText: more" if "message 1 " in query else " spam"

    student = Student(FakeModel(reply), spam_task)
    student.learn(Curriculum(examples=tuple(private_examples[:2])))
    predictions = student.answer(private_examples[:2], mode="generate")
    assert all(p.startswith(student.prompt) for p in seen)
    assert [p.answer for p in predictions] == ["spam", "not spam"]
    assert [p.correct for p in predictions] == [True, True]


def test_score_mode_picks_the_most_likely_label(
    spam_task: Task, private_examples: list[Example]
) -> None:
    student = Student(FakeModel(preferences=[" not spam"]), spam_task)
    predictions = student.answer(private_examples[:4], mode="score")
    assert [p.answer for p in predictions] == ["not spam"] * 4
    assert [p.correct for p in predictions] == [False, True, False, True]


def test_score_mode_needs_labels() -> None:
    task = Task(name="free", input_template="Q: {q}\nA:", parser=AnswerParser("exact"))
    with pytest.raises(ConfigError, match="needs a task with a label set"):
        Student(FakeModel(), task).answer([Example({"q": "x"}, "y")], mode="score")


def test_progress_is_reported_per_batch(spam_task: Task, private_examples: list[Example]) -> None:
    counts: list[int] = []
    Student(FakeModel(), spam_task).answer(
        private_examples[:20], mode="score", batch_size=8, progress=counts.append
    )
    assert counts == [8, 8, 4]


def test_calibration_removes_a_constant_label_bias(
    spam_task: Task, private_examples: list[Example]
) -> None:
    # The fake prefers "not spam" everywhere (+5 nats): calibrated against a content-free
    # input that preference cancels, and the text-dependent part of the score decides.
    biased = Student(FakeModel(preferences=[" not spam"]), spam_task)
    calibrated = Student(FakeModel(preferences=[" not spam"]), spam_task, calibrate=True)
    raw = biased.answer(private_examples[:8], mode="score")
    fixed = calibrated.answer(private_examples[:8], mode="score")
    assert {p.answer for p in raw} == {"not spam"}
    assert any(p.answer == "spam" for p in fixed)
