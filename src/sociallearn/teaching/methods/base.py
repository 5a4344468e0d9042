"""The teaching-method contract and its registry.

A method is a plan of rounds (see :mod:`sociallearn.teaching.rounds`): it yields what to ask
teachers, receives their gated answers, chooses and releases through its context, and returns
the curriculum. It declares what it needs and offers as class variables, so nothing outside
its module needs to know its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

from sociallearn.registry import Registry
from sociallearn.tasks.base import Task
from sociallearn.teaching.components import Component
from sociallearn.teaching.rounds import MethodContext, Plan


class TeachingMethod(Protocol):
    """A plan of rounds. Example::

    class OneExample(Method):
        name: ClassVar[str] = "one_example"
        contains_private: ClassVar[bool] = True

        def plan(self, context):
            answers = yield Ask("Share one example.", (0,), (ShareOriginals(1, context.seed),))
            context.release(answers[0].lesson.candidates)
            return Curriculum(examples=answers[0].lesson.examples, contains_private=True)
    """

    name: ClassVar[str]

    def plan(self, context: MethodContext) -> Plan: ...


@dataclass(frozen=True)
class TeachingCost:
    """Model requests of teaching: sampled continuations and scored ones (votes, answers)."""

    generations: int = 0
    scores: int = 0
    # Polls: a teacher scores a round's candidates behind its held-out examples, prefilled once
    # per poll (teachers share one model, whose KV cache holds the last context only).
    polls: int = 0

    @property
    def calls(self) -> int:
        return self.generations + self.scores

    def __add__(self, other: TeachingCost) -> TeachingCost:
        return TeachingCost(
            self.generations + other.generations,
            self.scores + other.scores,
            self.polls + other.polls,
        )


@dataclass(frozen=True)
class CallBudget:
    """What a method's request count depends on, from the config and the unit key."""

    n: int
    teachers: int
    asked_per_round: int  # teachers asked for candidates each round
    samples: int
    top_k: int
    heldout: int
    votes: bool  # the aggregator asks every teacher to vote each round

    def example_rounds(self, n: int) -> TeachingCost:
        """Requests of n rounds of "write new examples" (and votes on the candidates)."""
        writing = n * self.asked_per_round * self.samples
        if not self.votes:
            return TeachingCost(writing)
        return TeachingCost(
            writing, n * self.teachers * self.asked_per_round * self.top_k, n * self.teachers
        )


class Method(Component):
    """Base of the built-in methods: arguments as fields, capabilities as class variables."""

    # Runs once per aggregator of the grid (its units carry the aggregator in their key).
    uses_aggregator: ClassVar[bool] = False
    # The prompt does not depend on n: the grid runs it once, at n = 0.
    n_free: ClassVar[bool] = False
    # Teachers' outgoing texts pass the leakage gate (when the config enables it).
    gated: ClassVar[bool] = False
    # Puts private examples into the student's prompt on purpose (the leaking baseline).
    contains_private: ClassVar[bool] = False
    # Each teacher's silo must hold n examples (the method hands over n of them).
    needs_n_private: ClassVar[bool] = False
    # Extra row fields the method reports: "leakage" (generation statistics), "rounds"
    # (per-round test accuracy of intermediate curricula).
    metrics: ClassVar[tuple[str, ...]] = ()
    # Units of this method draw their teaching seed as if they were units of this method (None:
    # its own label), so a variant is a paired comparison with the method it extends (feedback's
    # round 0 is exactly the synthetic-examples curriculum of the same seed).
    seed_family: ClassVar[str | None] = None
    # Copes with an aggregator that abstains (a confident DP vote, a spent budget): it asks with
    # MethodContext.choose and skips the round. Methods that must pick refuse such aggregators.
    tolerates_abstention: ClassVar[bool] = False

    def teaching_cost(self, budget: CallBudget) -> TeachingCost:
        """About how many model requests teaching makes (for ``--dry-run`` and scheduling)."""
        return TeachingCost()

    def check(self, task: Task, n_teachers: int) -> None:
        """Raise a ConfigError when the method cannot run on ``task`` with this classroom."""

    def plan(self, context: MethodContext) -> Plan:
        raise NotImplementedError


methods: Registry[TeachingMethod] = Registry("method")
