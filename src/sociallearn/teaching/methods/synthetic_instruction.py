"""One teacher reads eight of its examples and writes an instruction; that is the whole prompt."""

from __future__ import annotations

from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.methods.base import TeachingContext, deliver, methods, request

# Our own wording of the idea in SPEC §3.3: the examples are private, the text written here is
# all the other participants will get, so it must describe the format and the patterns.
INSTRUCTION_PROMPT = """\
You are helping other people solve a task. Below are some solved examples of it. They are \
confidential: nobody else will ever see them. Write guidance for the others instead. Explain \
exactly how each item is laid out (including any markers or special symbols the answer must \
use), what patterns decide the correct answer, and any general advice you can draw from the \
examples. Your guidance is the only help the others will get, and they must answer correctly \
and in exactly the right format. Do not copy any example.

Confidential examples:

{examples}

Guidance for the task format, with detailed instructions:
"""


class SyntheticInstruction:
    """A single teacher (chosen by the seed) writes the instruction; the student forwards it."""

    name = "synthetic_instruction"
    uses_aggregator = False

    def teach(self, context: TeachingContext) -> Curriculum:
        teacher = context.teachers[context.seed % len(context.teachers)]
        request(context, teacher, "Write an instruction for the task.")
        lesson = teacher.write_instruction(
            INSTRUCTION_PROMPT, context.instruction_examples, context.seed
        )
        deliver(context, lesson)
        return Curriculum(instruction=lesson.instruction)


methods.register("synthetic_instruction", SyntheticInstruction)
