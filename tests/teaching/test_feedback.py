"""Feedback rounds and multi-teacher instructions, on the fake model."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from sociallearn.models.base import GenerationParams
from sociallearn.models.fake import FakeModel
from sociallearn.tasks.base import Example, Task
from sociallearn.teaching.boundary import Answer, Ask, Boundary
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.lesson import Candidate, Lesson
from sociallearn.teaching.methods.feedback import Feedback
from sociallearn.teaching.methods.synthetic_instruction import SyntheticInstruction
from sociallearn.teaching.rounds import MethodContext, Snapshot, run_rounds
from sociallearn.teaching.teacher import EvaluateAndRevise, Teacher, WriteExamples
from sociallearn.teaching.transcript import Transcript


class Services:
    """Stands in for the boundary in a method's context (no teachers behind it)."""

    def __init__(self, n_teachers: int = 3) -> None:
        self.n_teachers = n_teachers
        self.released: list[str] = []

    def votes(self, round_no: int, candidates: Sequence[Candidate]) -> list[int]:
        return [0] * self.n_teachers

    def instruction_votes(self, round_no: int, instructions: Sequence[str]) -> list[int]:
        return [len(instructions) - 1] * self.n_teachers

    def release(
        self, round_no: int, candidates: Sequence[Candidate] = (), instruction: str | None = None
    ) -> None:
        self.released += [c.text for c in candidates] + ([instruction] if instruction else [])

    def summarize(self, round_no: int, prompt: str, seed: int) -> str:
        return "merged: " + str(prompt.count("Guidance "))


def _candidate(task: Task, i: int) -> Candidate:
    example = Example({"text": f"new message {i}"}, "spam" if i % 2 else "not spam")
    return Candidate(example, "t", -1.0, task.render(example))


def _drive(
    task: Task, method: Feedback, accuracies: list[float], n: int = 2
) -> tuple[tuple[Curriculum, list[Snapshot]], list[Ask]]:
    """Run the plan by hand: every synthetic round yields a fresh candidate; feedback rounds
    report the given held-out accuracies in turn."""
    context = MethodContext(task, n, 0, Services())  # type: ignore[arg-type]
    plan = method.plan(context)
    asks: list[Ask] = []
    ask = next(plan)
    counter = iter(range(1000))
    heard = iter(accuracies)
    try:
        while True:
            asks.append(ask)
            context._round += 1
            if isinstance(ask.requests[0], WriteExamples):
                answers = [
                    Answer(t, Lesson("t", "x", (_candidate(task, next(counter)),)))
                    for t in ask.teachers
                ]
            else:
                assert isinstance(ask.requests[0], EvaluateAndRevise)
                accuracy = next(heard)
                answers = [
                    Answer(
                        t,
                        Lesson(
                            "t",
                            "x",
                            (_candidate(task, next(counter)),),
                            report={"heldout_accuracy": accuracy},
                        ),
                    )
                    for t in ask.teachers
                ]
            ask = plan.send(answers)
    except StopIteration as done:
        return (done.value, context.snapshots), asks


def test_feedback_runs_all_rounds_while_held_out_accuracy_improves(spam_task: Task) -> None:
    (curriculum, snapshots), asks = _drive(spam_task, Feedback(rounds=3), [0.2, 0.4, 0.6, 0.8])
    kinds = [type(a.requests[0]).__name__ for a in asks]
    assert kinds == ["WriteExamples"] * 2 + ["EvaluateAndRevise"] * 4
    assert [a.requests[0].write for a in asks[2:]] == [True, True, True, False]  # type: ignore[union-attr]
    assert [s.metrics["heldout_accuracy"] for s in snapshots] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert curriculum == snapshots[-1].curriculum  # the best held-out accuracy is kept
    assert len(curriculum.examples) == 2  # n stays fixed: new examples replace the oldest


def test_feedback_stops_early_and_keeps_the_best_curriculum(spam_task: Task) -> None:
    (curriculum, snapshots), asks = _drive(
        spam_task, Feedback(rounds=5, patience=1), [0.5, 0.7, 0.6, 0.9]
    )
    assert [s.metrics["heldout_accuracy"] for s in snapshots] == pytest.approx([0.5, 0.7, 0.6])
    assert curriculum == snapshots[1].curriculum
    assert len(asks) == 2 + 3


def test_feedback_on_the_fake_model_gates_every_round(
    spam_task: Task, private_examples: list[Example]
) -> None:
    from sociallearn.privacy.gate import LeakageGate

    transcript = Transcript("u")

    def copier(prompt: str, params: GenerationParams, index: int) -> str:
        # Every other sample copies the first example of its prompt, with one word changed.
        if index % 2 == 0:
            return prompt.split("\n\n")[0].replace("the", "a", 1) + "\n\n"
        return f"Text: fresh words {params.seed % 997} {index} zebra\nClass: spam\n\n"

    model = FakeModel(copier)
    teachers = [
        Teacher(
            f"teacher-{i}",
            spam_task,
            model,
            private_examples[i::3],
            transcript=transcript,
            heldout=4,
        )
        for i in range(3)
    ]
    boundary = Boundary(spam_task, teachers, transcript, student_model=FakeModel())
    boundary.gate([LeakageGate(min_distance=0.25, max_ngram=6)])
    context = MethodContext(spam_task, 2, 0, boundary)
    taught = run_rounds(Feedback(rounds=2, patience=5).plan, context, boundary)
    feedback_rounds = [r for r in taught.rounds if r.round > taught.snapshots[0].completed_round]
    assert len(taught.snapshots) == 3
    assert all(r.rejected > 0 for r in feedback_rounds[:-1])  # the last round only evaluates
    reports = [m for m in transcript if m.kind == "report"]
    assert len(reports) == 3 * 3 and all("heldout_accuracy" in m.text for m in reports)
    assert all("zebra" in e.fields["text"] for e in taught.curriculum.examples)


@pytest.mark.parametrize(
    ("merge", "expected"),
    [("concat", "one\n\ntwo\n\nthree"), ("summarize", "merged: 3"), ("vote", "three")],
)
def test_instruction_merges(spam_task: Task, merge: str, expected: str) -> None:
    services = Services(n_teachers=5)
    context = MethodContext(spam_task, 0, 0, services)  # type: ignore[arg-type]
    plan = SyntheticInstruction(teachers=3, merge=merge).plan(context)
    ask = next(plan)
    assert len(ask.teachers) == 3 and len(set(ask.teachers)) == 3
    texts = ["one", "two", "three"]
    answers = [
        Answer(t, Lesson("t", "i", instruction=x)) for t, x in zip(ask.teachers, texts, strict=True)
    ]
    with pytest.raises(StopIteration) as done:
        plan.send(answers)
    assert done.value.value.instruction == expected
    assert services.released == [expected]


def test_concat_keeps_the_word_budget(spam_task: Task) -> None:
    services = Services(n_teachers=4)
    context = MethodContext(spam_task, 0, 0, services)  # type: ignore[arg-type]
    plan = SyntheticInstruction(teachers=2, merge="concat", budget_words=10).plan(context)
    ask = next(plan)
    long = " ".join(f"w{i}" for i in range(50))
    with pytest.raises(StopIteration) as done:
        plan.send([Answer(t, Lesson("t", "i", instruction=long)) for t in ask.teachers])
    assert len(done.value.value.instruction.split()) == 10
