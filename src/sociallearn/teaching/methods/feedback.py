"""Feedback-loop teaching: the paper's named next step, with the data kept with the teachers.

Round 0 is synthetic examples as in the paper. In each later round every teacher runs the
student's model behind the current (public) learned prompt on its own held-out private
examples, inside its own trust domain, and writes new examples from the ones it got wrong;
its gate screens them. The aggregator picks ``replace`` of them, which replace the oldest
examples of the curriculum (n stays fixed, so the comparison with one-shot synthetic examples
at the same n is fair). Teaching stops early when the teachers' mean held-out accuracy has not
improved by more than ``min_gain`` for ``patience`` rounds; the student gets the curriculum
with the best held-out accuracy.

What leaves a teacher per round: its held-out accuracy (a number about its private data, sent
as a "report" message) and its gated candidates.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field

from sociallearn.seeds import mix_seed
from sociallearn.teaching.boundary import Answer, Ask
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.lesson import Candidate
from sociallearn.teaching.methods.base import CallBudget, Method, TeachingCost, methods
from sociallearn.teaching.methods.synthetic_examples import write_examples
from sociallearn.teaching.rounds import MethodContext, Plan
from sociallearn.teaching.teacher import EvaluateAndRevise

REVISE_REQUEST = (
    "Evaluate this lesson on your held-out examples and write new examples for what it got wrong."
)
EVALUATE_REQUEST = "Evaluate this lesson on your held-out examples."


class Feedback(Method):
    """Rounds of teacher-side evaluation and revision after synthetic examples."""

    name: ClassVar[str] = "feedback"
    uses_aggregator: ClassVar[bool] = True
    gated: ClassVar[bool] = True
    metrics: ClassVar[tuple[str, ...]] = ("leakage", "rounds")
    seed_family: ClassVar[str | None] = "synthetic_examples"

    rounds: int = Field(3, ge=1, description="feedback rounds after round 0")
    replace: int = Field(2, ge=1, description="examples replaced per feedback round")
    patience: int = Field(1, ge=1, description="rounds without improvement before stopping")
    min_gain: float = Field(0.0, ge=0.0, le=1.0, description="held-out accuracy gain that counts")

    def teaching_cost(self, budget: CallBudget) -> TeachingCost:
        """Round 0, then per feedback round: every teacher answers its held-out items behind
        the prompt and writes new examples; the picks may be voted on. (An upper bound: early
        stopping saves rounds.)"""
        answers = budget.teachers * budget.heldout
        writing = budget.teachers * budget.samples
        picks = (
            self.replace * budget.teachers * budget.teachers * budget.top_k if budget.votes else 0
        )
        rounds = TeachingCost(self.rounds * writing, self.rounds * (answers + picks) + answers)
        return budget.example_rounds(budget.n) + rounds

    def plan(self, context: MethodContext) -> Plan:
        examples = list((yield from write_examples(context, context.n)))
        current = Curriculum(examples=tuple(examples), shortfall=context.n - len(examples))
        completed = context.round_no
        rng = random.Random(mix_seed(context.seed, 77))
        best: tuple[float, Curriculum] | None = None
        stale = 0
        everyone = tuple(range(context.n_teachers))
        for iteration in range(1, self.rounds + 2):
            final = iteration == self.rounds + 1  # only measure the last curriculum
            prompt = current.render(context.task)
            answers = yield Ask(
                EVALUATE_REQUEST if final else REVISE_REQUEST,
                everyone,
                tuple(
                    EvaluateAndRevise(
                        prompt,
                        context.synthesis,
                        mix_seed(context.seed, t, 1000 + iteration),
                        write=not final,
                        answer_mode="score" if context.answer_mode == "score" else "generate",
                        calibrate=context.calibrate,
                    )
                    for t in everyone
                ),
            )
            reports = [a.lesson.report.get("heldout_accuracy", 0.0) for a in answers]
            accuracy = sum(reports) / len(reports)
            context.snapshot(current, completed, {"heldout_accuracy": accuracy})
            if best is None or accuracy > best[0] + self.min_gain:
                best, stale = (accuracy, current), 0
            else:
                stale += 1
            if final or stale >= self.patience:
                break
            current = self._revise(context, current, answers, rng)
            completed = context.round_no
        assert best is not None
        return best[1]

    def _revise(
        self,
        context: MethodContext,
        current: Curriculum,
        answers: Sequence[Answer],
        rng: random.Random,
    ) -> Curriculum:
        """Replace the oldest examples with the aggregator's picks among the new candidates."""
        taken = {context.task.render(e) for e in current.examples}
        pool = [c for a in answers for c in a.lesson.candidates if c.text not in taken]
        unique = list({c.text: c for c in pool}.values())
        examples = list(current.examples)
        picks: list[Candidate] = []
        for _ in range(min(self.replace, len(unique))):
            pick = context.select(unique, examples, rng)
            unique.remove(pick)
            picks.append(pick)
        context.release(picks)
        # Keep n examples: the oldest make room (a curriculum short of n just grows).
        drop = max(0, len(examples) + len(picks) - context.n)
        revised = Curriculum(
            examples=(*examples[drop:], *(p.example for p in picks)),
            shortfall=max(0, context.n - len(examples[drop:]) - len(picks)),
        )
        context.keep(revised)
        return revised


methods.register("feedback", Feedback)
