"""Baselines that need no generation: zero-shot, original examples, a hand-written instruction."""

from __future__ import annotations

from sociallearn.errors import ConfigError
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.methods.base import TeachingContext, deliver, methods, request


class ZeroShot:
    """Empty prompt: the low bar."""

    name = "zero_shot"
    uses_aggregator = False

    def teach(self, context: TeachingContext) -> Curriculum:
        return Curriculum()


class OriginalExamples:
    """n private examples from one teacher, as they are: the high bar, and it leaks by design."""

    name = "original_examples"
    uses_aggregator = False

    def teach(self, context: TeachingContext) -> Curriculum:
        teacher = context.teachers[context.seed % len(context.teachers)]
        request(context, teacher, f"Share {context.n} of your own examples (baseline).")
        lesson = teacher.original_examples(context.n, context.seed)
        deliver(context, lesson)
        return Curriculum(examples=lesson.examples, contains_private=True)


class HandWritten:
    """The task's hand-written instruction; no teacher involved."""

    name = "hand_written"
    uses_aggregator = False

    def teach(self, context: TeachingContext) -> Curriculum:
        if not context.task.instruction:
            raise ConfigError(
                f"method 'hand_written': task {context.task.name!r} has no instruction "
                "(add 'instruction:' to the task YAML)"
            )
        return Curriculum(instruction=context.task.instruction)


methods.register("zero_shot", ZeroShot)
methods.register("original_examples", OriginalExamples)
methods.register("hand_written", HandWritten)
