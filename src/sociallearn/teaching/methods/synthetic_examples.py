"""Teachers write new examples; one is chosen per round until there are n (SPEC §3.2)."""

from __future__ import annotations

import random
from collections.abc import Generator, Sequence
from typing import ClassVar

from sociallearn.seeds import mix_seed
from sociallearn.tasks.base import Example
from sociallearn.teaching.boundary import Answer, Ask
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.lesson import Candidate
from sociallearn.teaching.methods.base import CallBudget, Method, TeachingCost, methods
from sociallearn.teaching.rounds import MethodContext, Plan
from sociallearn.teaching.teacher import WriteExamples

ExamplesPhase = Generator[Ask, Sequence[Answer], tuple[Example, ...]]


def asked_teachers(context: MethodContext, round_no: int) -> list[int]:
    """Every teacher, or a seeded sample of ``teachers_per_round`` of them."""
    asked = list(range(context.n_teachers))
    if context.teachers_per_round and context.teachers_per_round < len(asked):
        picker = random.Random(mix_seed(context.seed, round_no, 7))
        asked = sorted(picker.sample(asked, context.teachers_per_round))
    return asked


def write_examples(context: MethodContext, n: int) -> ExamplesPhase:
    """Rounds of "write new examples" until ``n`` are chosen (or the round budget is spent).

    Generation seeds depend on (unit seed, teacher, round) only, so two units that differ only
    in the aggregator see the same candidates (and share cached calls).
    """
    rng = random.Random(mix_seed(context.seed, 99))
    chosen: list[Example] = []
    chosen_texts: set[str] = set()
    max_rounds = max(1, n) * context.max_rounds_factor
    round_no = 0
    while len(chosen) < n and round_no < max_rounds:
        round_no += 1
        asked = asked_teachers(context, round_no)
        answers = yield Ask(
            "Write new examples of the task.",
            tuple(asked),
            tuple(
                WriteExamples(context.synthesis, mix_seed(context.seed, t, round_no)) for t in asked
            ),
        )
        pool: list[Candidate] = [
            c for a in answers for c in a.lesson.candidates if c.text not in chosen_texts
        ]
        # One candidate text once, whoever wrote it.
        unique = list({c.text: c for c in pool}.values())
        if not unique:
            continue
        pick = context.choose(unique, chosen, rng)
        if pick is None:  # a confident DP vote without consensus releases nothing
            continue
        context.release([pick])
        chosen.append(pick.example)
        chosen_texts.add(pick.text)
        context.keep(Curriculum(examples=tuple(chosen), shortfall=n - len(chosen)))
    return tuple(chosen)


class SyntheticExamples(Method):
    """Per round every teacher writes candidates from its own private few-shot prompt; the
    aggregator keeps one."""

    name: ClassVar[str] = "synthetic_examples"
    uses_aggregator: ClassVar[bool] = True
    gated: ClassVar[bool] = True
    tolerates_abstention: ClassVar[bool] = True
    metrics: ClassVar[tuple[str, ...]] = ("leakage",)

    def teaching_cost(self, budget: CallBudget) -> TeachingCost:
        return budget.example_rounds(budget.n)

    def plan(self, context: MethodContext) -> Plan:
        chosen = yield from write_examples(context, context.n)
        return Curriculum(examples=chosen, shortfall=context.n - len(chosen))


methods.register("synthetic_examples", SyntheticExamples)
