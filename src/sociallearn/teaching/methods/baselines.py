"""Baselines: zero-shot, original examples, a hand-written instruction."""

from __future__ import annotations

from typing import ClassVar

from sociallearn.errors import ConfigError
from sociallearn.tasks.base import Task
from sociallearn.teaching.boundary import Ask
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.methods.base import Method, methods
from sociallearn.teaching.rounds import MethodContext, Plan
from sociallearn.teaching.teacher import ShareOriginals


class ZeroShot(Method):
    """Empty prompt: the low bar."""

    name: ClassVar[str] = "zero_shot"
    n_free: ClassVar[bool] = True

    def plan(self, context: MethodContext) -> Plan:
        return Curriculum()
        yield  # a plan with no round


class OriginalExamples(Method):
    """n private examples from one teacher, as they are: the high bar, and it leaks by design."""

    name: ClassVar[str] = "original_examples"
    contains_private: ClassVar[bool] = True
    needs_n_private: ClassVar[bool] = True

    def plan(self, context: MethodContext) -> Plan:
        teacher = context.seed % context.n_teachers
        ask = Ask(
            f"Share {context.n} of your own examples (baseline).",
            (teacher,),
            (ShareOriginals(context.n, context.seed),),
        )
        [answer] = yield ask
        context.release(answer.lesson.candidates)
        return Curriculum(examples=answer.lesson.examples, contains_private=True)


class HandWritten(Method):
    """The task's hand-written instruction; no teacher involved."""

    name: ClassVar[str] = "hand_written"
    n_free: ClassVar[bool] = True

    def check(self, task: Task, n_teachers: int) -> None:
        if not task.instruction:
            raise ConfigError(
                f"method 'hand_written': task {task.name!r} has no instruction "
                "(add 'instruction:' to the task YAML)"
            )

    def plan(self, context: MethodContext) -> Plan:
        self.check(context.task, context.n_teachers)
        return Curriculum(instruction=context.task.instruction)
        yield  # a plan with no round


methods.register("zero_shot", ZeroShot)
methods.register("original_examples", OriginalExamples)
methods.register("hand_written", HandWritten)
