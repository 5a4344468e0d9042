"""The teaching-method contract and its registry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sociallearn.registry import Registry
from sociallearn.tasks.base import Task
from sociallearn.teaching.aggregators import Aggregator, RandomAggregator
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.lesson import Lesson
from sociallearn.teaching.teacher import SynthesisSettings, Teacher
from sociallearn.teaching.transcript import STUDENT, Transcript


@dataclass
class TeachingContext:
    """Everything one run of the fixed conversation needs. ``seed`` comes from the unit key."""

    task: Task
    teachers: Sequence[Teacher]
    n: int
    seed: int
    transcript: Transcript
    aggregator: Aggregator = field(default_factory=RandomAggregator)
    synthesis: SynthesisSettings = field(default_factory=SynthesisSettings)
    instruction_examples: int = 8
    max_rounds_factor: int = 3  # rounds allowed per requested example before giving up
    teachers_per_round: int | None = None  # None: every teacher writes candidates each round


class TeachingMethod(Protocol):
    """Runs the fixed conversation between the student and the teachers. Example::

    class OneExample:
        name = "one_example"
        uses_aggregator = False

        def teach(self, context):
            lesson = context.teachers[0].original_examples(1, context.seed)
            deliver(context, lesson)
            return Curriculum(examples=lesson.examples, contains_private=True)
    """

    name: str
    uses_aggregator: bool

    def teach(self, context: TeachingContext) -> Curriculum: ...


def deliver(context: TeachingContext, lesson: Lesson, round_no: int = 0) -> None:
    """Record a lesson as a message to the student: the only path text takes to the student."""
    body = lesson.instruction or "\n\n".join(c.text for c in lesson.candidates)
    context.transcript.record(round_no, lesson.teacher_id, STUDENT, "lesson", body)


def request(context: TeachingContext, teacher: Teacher, text: str, round_no: int = 0) -> None:
    context.transcript.record(round_no, STUDENT, teacher.teacher_id, "request", text)


methods: Registry[TeachingMethod] = Registry("method")
