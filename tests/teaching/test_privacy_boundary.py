"""No private example or canary reaches the student, except in the original-examples baseline."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from rapidfuzz.distance import Indel

from sociallearn.models.base import GenerationParams
from sociallearn.models.fake import FakeModel
from sociallearn.privacy.gate import LeakageGate
from sociallearn.tasks.base import Example, Task
from sociallearn.teaching.aggregators import Aggregator, RandomAggregator, VotingAggregator
from sociallearn.teaching.boundary import Boundary
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.methods import methods
from sociallearn.teaching.rounds import MethodContext, run_rounds
from sociallearn.teaching.teacher import SynthesisSettings, Teacher
from sociallearn.teaching.transcript import STUDENT, Transcript

CANARY = Example(
    {"text": "my secret code is 4817 call now"},
    "spam",
    uid="canary",
    verbatim="Text: my secret code is 4817 call now\nClass: spam",
)


def _script(private: Sequence[Example], task: Task):  # type: ignore[no-untyped-def]
    """A teacher model that copies, near-copies, leaks the canary, and sometimes writes new text."""
    novel = iter(f"brand new words number {i} zebra quilt" for i in range(10_000))

    def reply(prompt: str, params: GenerationParams, index: int) -> str:
        kind = index % 4
        if kind == 0:  # verbatim copy of a private example shown in the prompt
            return prompt.split("\n\n")[0] + "\n\n"
        if kind == 1:  # near copy: one character changed
            block = prompt.split("\n\n")[1]
            return block.replace("about", "abuot", 1) + "\n\n"
        if kind == 2:
            return CANARY.verbatim + "\n\n"  # type: ignore[operator]
        return f"Text: {next(novel)}\nClass: not spam\n\n"

    return reply


def _teachers(
    task: Task, private: list[Example], gate: bool, transcript: Transcript, force: bool = False
) -> list[Teacher]:
    model = FakeModel(_script(private, task))
    filters = [LeakageGate(min_distance=0.25, max_ngram=6)] if gate else []
    teachers = []
    for i in range(4):
        t = Teacher(
            f"teacher-{i}",
            task,
            model,
            private[i::4],
            transcript=transcript,
            heldout=2,
            filters=filters,
        )
        t.plant(CANARY, force=force)
        teachers.append(t)
    return teachers


def teach(
    method: str,
    task: Task,
    teachers: list[Teacher],
    transcript: Transcript,
    n: int,
    seed: int,
    aggregator: Aggregator | None = None,
    synthesis: SynthesisSettings | None = None,
) -> Curriculum:
    """Run a registered method through a boundary around ``teachers``."""
    boundary = Boundary(task, teachers, transcript)
    context = MethodContext(
        task,
        n,
        seed,
        boundary,
        aggregator=aggregator or RandomAggregator(),
        synthesis=synthesis or SynthesisSettings(),
    )
    return run_rounds(methods.create(method).plan, context, boundary).curriculum


def _near(a: str, b: str) -> bool:
    return Indel.normalized_distance(a, b) < 0.25


@pytest.mark.parametrize(
    "method", ["zero_shot", "hand_written", "synthetic_examples", "synthetic_instruction"]
)
@pytest.mark.parametrize("aggregator", [RandomAggregator(), VotingAggregator()])
def test_no_private_text_reaches_the_student(
    spam_task: Task, private_examples: list[Example], method: str, aggregator: object
) -> None:
    transcript = Transcript("u")
    teachers = _teachers(spam_task, private_examples, gate=True, transcript=transcript)
    curriculum = teach(
        method,
        spam_task,
        teachers,
        transcript,
        4,
        0,
        aggregator=aggregator,  # type: ignore[arg-type]
        synthesis=SynthesisSettings(samples=4, top_k=4),
    )
    private_texts = [spam_task.render(e) for e in (*private_examples, CANARY)]
    to_student = transcript.to_student()
    for message in to_student:
        for private in private_texts:
            assert private not in message.text
            for block in message.text.split("\n\n"):
                assert not _near(block, private), (block, private)
        assert "4817" not in message.text
    if method == "synthetic_examples":
        # The novel candidates did get through, so the test is not vacuous.
        assert curriculum.examples and all("zebra" in e.fields["text"] for e in curriculum.examples)
        rejections = [m for m in transcript if m.kind == "rejection"]
        assert rejections and all(m.recipient == m.sender != STUDENT for m in rejections)


def test_without_the_gate_copies_are_caught_only_for_prompt_examples(
    spam_task: Task, private_examples: list[Example]
) -> None:
    transcript = Transcript("u")
    teachers = _teachers(spam_task, private_examples, gate=False, transcript=transcript)
    teach(
        "synthetic_examples",
        spam_task,
        teachers,
        transcript,
        8,
        1,
        synthesis=SynthesisSettings(samples=4, top_k=4),
    )
    text = "\n".join(m.text for m in transcript.to_student())
    # Exact copies of prompt examples are always dropped; near copies and the canary are not.
    assert "4817" in text
    assert "abuot" in text
    assert sum(t.stats.prompt_copies for t in teachers) > 0


def test_original_examples_is_marked_as_leaking(
    spam_task: Task, private_examples: list[Example]
) -> None:
    transcript = Transcript("u")
    teachers = _teachers(spam_task, private_examples, gate=True, transcript=transcript, force=True)
    curriculum = teach("original_examples", spam_task, teachers, transcript, 4, 0)
    assert curriculum.contains_private
    assert CANARY in curriculum.examples  # forced, as in the audit's baseline
    private_texts = {spam_task.render(e) for e in (*private_examples, CANARY)}
    assert all(spam_task.render(e) in private_texts for e in curriculum.examples)


def test_teacher_exposes_no_private_attribute(
    spam_task: Task, private_examples: list[Example]
) -> None:
    teacher = Teacher("t", spam_task, FakeModel(), private_examples, transcript=Transcript())
    public = [name for name in dir(teacher) if not name.startswith("_")]
    for name in public:
        value = getattr(teacher, name)
        if isinstance(value, (list, tuple)):
            assert not any(isinstance(v, Example) for v in value), name
    assert "private" not in repr(teacher).lower() or "examples" in repr(teacher)


def test_gate_stops_an_instruction_that_quotes_a_private_example(
    spam_task: Task, private_examples: list[Example]
) -> None:
    transcript = Transcript("u")

    def quoting(prompt: str, params: GenerationParams, index: int) -> str:
        # The first two attempts quote an example shown in the prompt; the third does not.
        quoted = prompt.split("Confidential examples:\n\n")[1].split("\n\n")[0]
        if params.seed % 31 < 2:
            return f"Label messages like this one: {quoted}"
        return "Answer spam for adverts and prizes, otherwise not spam."

    gate = LeakageGate(min_distance=0.25, max_ngram=6)
    teachers = [
        Teacher(
            "t0",
            spam_task,
            FakeModel(quoting),
            private_examples,
            transcript=transcript,
            filters=[gate],
        )
    ]
    curriculum = teach("synthetic_instruction", spam_task, teachers, transcript, 0, 0)
    assert curriculum.instruction == "Answer spam for adverts and prizes, otherwise not spam."
    assert [m.kind for m in transcript].count("rejection") == 2
