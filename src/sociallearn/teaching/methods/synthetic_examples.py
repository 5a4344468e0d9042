"""Teachers write new examples; the student keeps one per round until it has n (SPEC §3.2)."""

from __future__ import annotations

import random

from sociallearn.tasks.base import Example
from sociallearn.teaching.aggregators import AggregationRound
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.lesson import Candidate
from sociallearn.teaching.methods.base import TeachingContext, deliver, methods, request


def _unit_seed(*parts: int) -> int:
    acc = 1469598103
    for p in parts:
        acc = (acc * 1099511 + p + 7) % (2**31 - 1)
    return acc


class SyntheticExamples:
    """Per round every teacher writes candidates from its own private few-shot prompt; the
    aggregator keeps one. Generation seeds depend on (unit seed, teacher, round) only, so two
    units that differ only in the aggregator see the same candidates (and share cached calls)."""

    name = "synthetic_examples"
    uses_aggregator = True

    def teach(self, context: TeachingContext) -> Curriculum:
        rng = random.Random(_unit_seed(context.seed, 99))
        chosen: list[Example] = []
        chosen_texts: set[str] = set()
        max_rounds = max(1, context.n) * context.max_rounds_factor
        round_no = 0
        while len(chosen) < context.n and round_no < max_rounds:
            round_no += 1
            pool: list[Candidate] = []
            asked = list(enumerate(context.teachers))
            if context.teachers_per_round and context.teachers_per_round < len(asked):
                picker = random.Random(_unit_seed(context.seed, round_no, 7))
                asked = sorted(picker.sample(asked, context.teachers_per_round))
            for t_index, teacher in asked:
                request(context, teacher, "Write new examples of the task.", round_no)
                lesson = teacher.synthesize_examples(
                    context.synthesis, round_no, _unit_seed(context.seed, t_index, round_no)
                )
                deliver(context, lesson, round_no)
                pool.extend(c for c in lesson.candidates if c.text not in chosen_texts)
            # One candidate text once, whoever wrote it.
            unique = list({c.text: c for c in pool}.values())
            if not unique:
                continue
            view = AggregationRound(
                context.task, context.teachers, chosen, context.transcript, round_no
            )
            pick = unique[context.aggregator.select(unique, view, rng)]
            chosen.append(pick.example)
            chosen_texts.add(pick.text)
        return Curriculum(examples=tuple(chosen), shortfall=context.n - len(chosen))


methods.register("synthetic_examples", SyntheticExamples)
