"""Teachers read eight of their examples and write an instruction; that is the whole prompt.

``teachers: 1`` is the paper's method. With ``teachers: m`` each of m teachers writes one and
``merge`` makes one prompt of them: ``concat`` joins them within a word budget, ``summarize``
has the aggregator's model write one from the m, ``vote`` keeps the one under which the
teachers' held-out answers are likeliest (each teacher votes).
"""

from __future__ import annotations

import random
from collections.abc import Generator, Sequence
from typing import ClassVar, Literal

from pydantic import Field

from sociallearn.errors import ConfigError
from sociallearn.seeds import mix_seed
from sociallearn.tasks.base import Task
from sociallearn.teaching.aggregators import plurality
from sociallearn.teaching.boundary import Answer, Ask
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.methods.base import CallBudget, Method, TeachingCost, methods
from sociallearn.teaching.rounds import MethodContext, Plan
from sociallearn.teaching.teacher import WriteInstruction

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

SUMMARY_PROMPT = """\
Several people wrote guidance for the same task. Combine their guidance into one clear \
guidance that keeps every useful rule about the format and the answer, without repeating \
yourself.

{guidance}

Combined guidance:
"""

InstructionPhase = Generator[Ask, Sequence[Answer], str]
Merge = Literal["concat", "summarize", "vote"]


def write_instruction(
    context: MethodContext, teachers: int = 1, merge: Merge = "concat", budget_words: int = 300
) -> InstructionPhase:
    """One round: ``teachers`` teachers write an instruction each; merged into one, released."""
    if teachers == 1:
        # The paper's method: one teacher chosen by the seed.
        asked = [context.seed % context.n_teachers]
        seeds = [context.seed]
    else:
        asked = sorted(
            random.Random(mix_seed(context.seed, 5)).sample(range(context.n_teachers), teachers)
        )
        seeds = [mix_seed(context.seed, t, 5) for t in asked]
    answers = yield Ask(
        "Write an instruction for the task.",
        tuple(asked),
        tuple(WriteInstruction(INSTRUCTION_PROMPT, context.instruction_examples, s) for s in seeds),
    )
    texts = [a.lesson.instruction or "" for a in answers]
    if teachers == 1:
        instruction = texts[0]
    elif merge == "concat":
        instruction = _concat([t for t in texts if t], budget_words)
    elif merge == "summarize":
        guidance = "\n\n".join(f"Guidance {i + 1}:\n{t}" for i, t in enumerate(texts) if t)
        instruction = (
            context.boundary.summarize(
                context.round_no, SUMMARY_PROMPT.format(guidance=guidance), context.seed
            )
            if guidance
            else ""
        )
    else:
        votes = context.boundary.instruction_votes(context.round_no, texts)
        instruction = texts[plurality(votes, random.Random(mix_seed(context.seed, 6)))]
    context.metric("instructions_written", float(sum(1 for t in texts if t)))
    context.release(instruction=instruction)
    return instruction


def _concat(texts: Sequence[str], budget_words: int) -> str:
    """The instructions joined, each cut to an equal share of the word budget."""
    if not texts:
        return ""
    share = max(1, budget_words // len(texts))
    return "\n\n".join(" ".join(t.split()[:share]) for t in texts)


def _instruction_cost(teachers: int, merge: Merge, budget: CallBudget) -> TeachingCost:
    if teachers == 1:
        return TeachingCost(generations=1)
    if merge == "summarize":
        return TeachingCost(generations=teachers + 1)
    if merge == "vote":
        return TeachingCost(teachers, budget.teachers * teachers * budget.heldout)
    return TeachingCost(generations=teachers)


class SyntheticInstruction(Method):
    """Teacher-written instruction(s); see the module docstring for ``teachers`` and ``merge``."""

    name: ClassVar[str] = "synthetic_instruction"
    n_free: ClassVar[bool] = True
    gated: ClassVar[bool] = True
    seed_family: ClassVar[str | None] = "synthetic_instruction"

    teachers: int = Field(1, ge=1, description="teachers who write an instruction")
    merge: Merge = Field("concat", description="how m instructions become one")
    budget_words: int = Field(300, ge=10, description="concat: words kept in all")

    def check(self, task: Task, n_teachers: int) -> None:
        if self.teachers > n_teachers:
            raise ConfigError(
                f"methods: synthetic_instruction teachers={self.teachers} but the classroom "
                f"has {n_teachers} teachers (expected 1..{n_teachers})"
            )

    def teaching_cost(self, budget: CallBudget) -> TeachingCost:
        return _instruction_cost(self.teachers, self.merge, budget)

    def plan(self, context: MethodContext) -> Plan:
        instruction = yield from write_instruction(
            context, self.teachers, self.merge, self.budget_words
        )
        return Curriculum(instruction=instruction)


class InstructedExamples(Method):
    """A teacher-written instruction followed by n synthetic examples."""

    name: ClassVar[str] = "instructed_examples"
    uses_aggregator: ClassVar[bool] = True
    gated: ClassVar[bool] = True
    metrics: ClassVar[tuple[str, ...]] = ("leakage",)
    seed_family: ClassVar[str | None] = "synthetic_examples"

    teachers: int = Field(1, ge=1, description="teachers who write an instruction")
    merge: Merge = Field("concat", description="how m instructions become one")
    budget_words: int = Field(300, ge=10, description="concat: words kept in all")

    def check(self, task: Task, n_teachers: int) -> None:
        SyntheticInstruction(teachers=self.teachers).check(task, n_teachers)

    def teaching_cost(self, budget: CallBudget) -> TeachingCost:
        instruction = _instruction_cost(self.teachers, self.merge, budget)
        return instruction + budget.example_rounds(budget.n)

    def plan(self, context: MethodContext) -> Plan:
        from sociallearn.teaching.methods.synthetic_examples import write_examples

        instruction = yield from write_instruction(
            context, self.teachers, self.merge, self.budget_words
        )
        chosen = yield from write_examples(context, context.n)
        return Curriculum(
            instruction=instruction, examples=chosen, shortfall=context.n - len(chosen)
        )


methods.register("synthetic_instruction", SyntheticInstruction)
methods.register("instructed_examples", InstructedExamples)
