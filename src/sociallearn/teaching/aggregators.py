"""Aggregators: how one candidate per round is chosen from everything teachers wrote.

An aggregator sees candidate texts, the examples chosen so far, and a ``votes`` function that
asks every teacher through the privacy boundary; it never holds a teacher. Under
``aggregation: student`` the student runs it (the paper's protocol); under ``trusted`` a trusted
aggregator does, and only its pick is released to the student.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from sociallearn.privacy.accounting import PrivacyLedger
from sociallearn.registry import Registry
from sociallearn.tasks.base import Example, Task
from sociallearn.teaching.components import Component
from sociallearn.teaching.lesson import Candidate


@dataclass(frozen=True)
class AggregationRound:
    """What an aggregator may look at in one round."""

    task: Task
    chosen: Sequence[Example]
    round_no: int
    n_teachers: int
    # Each teacher's vote (an index into the candidates), asked through the boundary.
    votes: Callable[[Sequence[Candidate]], list[int]]
    # The unit's differential-privacy event log (DP aggregators charge their releases to it).
    ledger: PrivacyLedger | None = None


class Aggregator(Protocol):
    """Picks the index of one candidate. Example::

    class First(Component):
        name: ClassVar[str] = "first"

        def select(self, candidates, context, rng):
            return 0

    Class variables declare capabilities: ``requires_trusted = True`` an aggregator that only a
    trusted aggregator may run (e.g. a differentially private vote); ``asks_votes = True`` one
    that asks every teacher to vote each round (it costs model calls).
    """

    name: ClassVar[str]

    def select(
        self, candidates: Sequence[Candidate], context: AggregationRound, rng: random.Random
    ) -> int | None:
        """The chosen index; None abstains (nothing is released; see ``MethodContext.choose``)."""
        ...


class RandomAggregator(Component):
    """Uniformly at random (the paper's default)."""

    name: ClassVar[str] = "random"

    def select(
        self, candidates: Sequence[Candidate], context: AggregationRound, rng: random.Random
    ) -> int:
        return rng.randrange(len(candidates))


def plurality(votes: Sequence[int], rng: random.Random) -> int:
    """The most voted index; ties broken at random (the paper does not say how)."""
    counts = Counter(votes)
    top = max(counts.values())
    tied = sorted(i for i, v in counts.items() if v == top)
    return tied[rng.randrange(len(tied))]


class VotingAggregator(Component):
    """Every teacher votes for the candidate most likely after its held-out examples (length-
    normalised); the most votes win."""

    name: ClassVar[str] = "voting"
    asks_votes: ClassVar[bool] = True

    def select(
        self, candidates: Sequence[Candidate], context: AggregationRound, rng: random.Random
    ) -> int:
        return plurality(context.votes(candidates), rng)


class ClassBalancedAggregator(Component):
    """Random among candidates whose label is the least represented so far.

    The paper found generated classification examples skewed towards one class (not spam, yes);
    this counters it without looking at any private data.
    """

    name: ClassVar[str] = "class_balanced"

    def select(
        self, candidates: Sequence[Candidate], context: AggregationRound, rng: random.Random
    ) -> int:
        task = context.task
        if not task.labels:
            return rng.randrange(len(candidates))
        counts = Counter(task.gold(e) for e in context.chosen)
        label_of = [task.gold(c.example) for c in candidates]
        fewest = min(counts.get(label, 0) for label in label_of)
        eligible = [i for i, label in enumerate(label_of) if counts.get(label, 0) == fewest]
        return eligible[rng.randrange(len(eligible))]


aggregators: Registry[Aggregator] = Registry("aggregator")
aggregators.register("random", RandomAggregator)
aggregators.register("voting", VotingAggregator)
aggregators.register("class_balanced", ClassBalancedAggregator)
