"""The privacy boundary: the audit reads the student's final prompt, whatever built it;
trusted aggregation releases only the selection; every message has a sender and a recipient."""

from __future__ import annotations

from typing import ClassVar, Literal

from sociallearn.models.fake import FakeModel
from sociallearn.tasks.base import Example, Task
from sociallearn.teaching.boundary import Boundary
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.methods import Method, methods
from sociallearn.teaching.rounds import MethodContext, Plan, run_rounds
from sociallearn.teaching.student import Student
from sociallearn.teaching.teacher import SynthesisSettings, Teacher
from sociallearn.teaching.transcript import AGGREGATOR, STUDENT, Transcript

SECRET = Example({"text": "the vault code is 4817 call now"}, "spam", uid="canary")


def _classroom(
    task: Task, private: list[Example], aggregation: Literal["student", "trusted"] = "student"
) -> tuple[Boundary, Transcript]:
    transcript = Transcript("u")
    model = FakeModel()
    teachers = [
        Teacher(f"teacher-{i}", task, model, private[i::4], transcript=transcript, heldout=2)
        for i in range(4)
    ]
    boundary = Boundary(
        task,
        teachers,
        transcript,
        aggregation=aggregation,
        student_model=model,
    )
    return boundary, transcript


class Smuggler(Method):
    """A method written carelessly: it puts examples it obtained outside the protocol (here
    handed to it at construction, as if read from the data) straight into the curriculum."""

    name: ClassVar[str] = "smuggler"
    loot: tuple[Example, ...] = ()

    def plan(self, context: MethodContext) -> Plan:
        return Curriculum(examples=self.loot)
        yield  # no round: nothing is recorded as sent to the student


def _audit(task: Task, private: list[Example], loot: tuple[Example, ...]) -> tuple[int, int, int]:
    boundary, _ = _classroom(task, private)
    boundary.plant(SECRET, secrets=["4817"])
    context = MethodContext(task, len(loot), 0, boundary)
    taught = run_rounds(Smuggler(loot=loot).plan, context, boundary)
    prompt = boundary.present(Student(FakeModel(), task), taught.curriculum)
    assert boundary.private_blocks_to_student() == 0  # the transcript alone sees nothing
    audit = boundary.audit(prompt)
    return audit.private_examples, audit.near_copies, audit.canaries


def test_audit_catches_a_smuggled_private_example(
    spam_task: Task, private_examples: list[Example]
) -> None:
    assert _audit(spam_task, private_examples, (private_examples[5],)) == (1, 0, 0)


def test_audit_catches_a_near_copy_and_a_canary(
    spam_task: Task, private_examples: list[Example]
) -> None:
    original = private_examples[6]
    near = Example({"text": original.fields["text"].replace("about", "abuot")}, original.target)
    assert _audit(spam_task, private_examples, (near,)) == (0, 1, 0)
    paraphrased_canary = Example({"text": "remember: code 4817, call now"}, "spam")
    assert _audit(spam_task, private_examples, (paraphrased_canary,))[2] == 1
    assert _audit(spam_task, private_examples, (SECRET,)) == (1, 0, 1)


def test_audit_of_new_text_is_clean(spam_task: Task, private_examples: list[Example]) -> None:
    fresh = Example({"text": "a completely new message about zebras and quilts"}, "not spam")
    assert _audit(spam_task, private_examples, (fresh,)) == (0, 0, 0)


def _synthetic(
    task: Task, private: list[Example], aggregation: Literal["student", "trusted"]
) -> tuple[Curriculum, Transcript]:
    boundary, transcript = _classroom(task, private, aggregation)
    context = MethodContext(task, 3, 0, boundary, synthesis=SynthesisSettings(samples=2, top_k=2))
    taught = run_rounds(methods.create("synthetic_examples").plan, context, boundary)
    return taught.curriculum, transcript


def test_trusted_aggregation_sends_the_student_only_the_selection(
    spam_task: Task, private_examples: list[Example]
) -> None:
    curriculum, transcript = _synthetic(spam_task, private_examples, "trusted")
    assert len(curriculum.examples) == 3
    to_student = transcript.to_student()
    assert [m.kind for m in to_student] == ["release"] * 3
    assert all(m.sender == AGGREGATOR for m in to_student)
    assert [m.text for m in to_student] == [spam_task.render(e) for e in curriculum.examples]
    lessons = [m for m in transcript if m.kind == "lesson"]
    assert lessons and all(m.recipient == AGGREGATOR for m in lessons)


def test_student_aggregation_sends_the_student_every_candidate(
    spam_task: Task, private_examples: list[Example]
) -> None:
    curriculum, transcript = _synthetic(spam_task, private_examples, "student")
    trusted, _ = _synthetic(spam_task, private_examples, "trusted")
    assert curriculum == trusted  # where aggregation happens does not change the choice
    to_student = transcript.to_student()
    assert {m.kind for m in to_student} == {"lesson"}
    assert len(to_student) >= 4 * 3 and len(to_student) % 4 == 0  # every lesson, every round
    shown = "\n\n".join(m.text for m in to_student)
    assert all(spam_task.render(e) in shown for e in curriculum.examples)
    assert all(m.recipient in (STUDENT, *(f"teacher-{i}" for i in range(4))) for m in transcript)
