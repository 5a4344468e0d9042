"""Aggregators: how the student picks one candidate per round from everything teachers sent."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sociallearn.registry import Registry
from sociallearn.tasks.base import Example, Task
from sociallearn.teaching.lesson import Candidate
from sociallearn.teaching.teacher import Teacher
from sociallearn.teaching.transcript import STUDENT, Transcript


@dataclass(frozen=True)
class AggregationRound:
    """What an aggregator may look at in one round."""

    task: Task
    teachers: Sequence[Teacher]
    chosen: Sequence[Example]
    transcript: Transcript
    round_no: int


class Aggregator(Protocol):
    """Picks the index of one candidate. Example::

    class First:
        name = "first"

        def select(self, candidates, context, rng):
            return 0
    """

    name: str

    def select(
        self, candidates: Sequence[Candidate], context: AggregationRound, rng: random.Random
    ) -> int: ...


class RandomAggregator:
    """Uniformly at random (the paper's default)."""

    name = "random"

    def select(
        self, candidates: Sequence[Candidate], context: AggregationRound, rng: random.Random
    ) -> int:
        return rng.randrange(len(candidates))


class VotingAggregator:
    """Every teacher votes for the candidate most likely after its held-out examples (length-
    normalised); the most votes win, ties broken at random (the paper does not say how)."""

    name = "voting"

    def select(
        self, candidates: Sequence[Candidate], context: AggregationRound, rng: random.Random
    ) -> int:
        listing = "\n\n".join(f"[{i}] {c.text}" for i, c in enumerate(candidates))
        votes: Counter[int] = Counter()
        for teacher in context.teachers:
            context.transcript.record(
                context.round_no, STUDENT, teacher.teacher_id, "candidates", listing
            )
            choice = teacher.vote(candidates)
            context.transcript.record(
                context.round_no, teacher.teacher_id, STUDENT, "vote", str(choice)
            )
            votes[choice] += 1
        top = max(votes.values())
        tied = sorted(i for i, v in votes.items() if v == top)
        return tied[rng.randrange(len(tied))]


class ClassBalancedAggregator:
    """Random among candidates whose label is the least represented so far.

    The paper found generated classification examples skewed towards one class (not spam, yes);
    this counters it without looking at any private data.
    """

    name = "class_balanced"

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
