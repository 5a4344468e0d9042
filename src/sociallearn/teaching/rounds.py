"""Teaching as rounds the runner owns: ask → answer (gated) → aggregate → release → feedback.

A method is a plan: a generator that yields an :class:`~sociallearn.teaching.boundary.Ask` per
round, receives the teachers' answers (they crossed the boundary, screened by the gate), chooses
and releases through its context, and finally returns the :class:`Curriculum`. The runner here
drives every plan the same way, so what happens between rounds (per-round metrics, accounting,
early stopping) lives in one place — the hooks — and not inside each method.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sociallearn.models.base import GenerationParams
from sociallearn.privacy.accounting import PrivacyLedger
from sociallearn.tasks.base import Example, Task
from sociallearn.teaching.aggregators import AggregationRound, Aggregator, RandomAggregator
from sociallearn.teaching.boundary import Answer, Ask, Boundary
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.lesson import Candidate
from sociallearn.teaching.teacher import SynthesisSettings

Plan = Generator[Ask, Sequence[Answer], Curriculum]


@dataclass(frozen=True)
class Snapshot:
    """An intermediate curriculum of a multi-round method (iteration 0 = the first complete one)."""

    iteration: int
    completed_round: int
    curriculum: Curriculum
    metrics: dict[str, float]


@dataclass(frozen=True)
class RoundRecord:
    """What one round did: counts the runner measured and the metrics the method reported."""

    round: int
    asked: int
    answered: int
    released: int
    rejected: int
    tokens: int
    parsed: int
    silo_copies: int
    metrics: dict[str, float] = field(default_factory=dict)


class RoundHook(Protocol):
    """Called after every round; returns True to stop teaching (e.g. a spent privacy budget)."""

    def after_round(self, record: RoundRecord) -> bool: ...


@dataclass
class MethodContext:
    """What a method may use: public task facts, its settings, and the boundary's services.

    It holds no teacher: requests go out as :class:`Ask` values; votes and releases go through
    the boundary (``votes``, ``release``), which records every message.
    """

    task: Task
    n: int
    seed: int
    boundary: _BoundaryServices
    aggregator: Aggregator = field(default_factory=RandomAggregator)
    synthesis: SynthesisSettings = field(default_factory=SynthesisSettings)
    instruction_examples: int = 8
    max_rounds_factor: int = 3  # rounds allowed per requested example before giving up
    teachers_per_round: int | None = None  # None: every teacher writes candidates each round
    answer_mode: str = "generate"
    calibrate: bool = False
    # Set by the runner when a hook stopped teaching; ``kept`` is then the curriculum.
    stopped: bool = False
    kept: Curriculum | None = None
    _round: int = 0
    _released: int = 0
    _metrics: dict[str, float] = field(default_factory=dict)
    snapshots: list[Snapshot] = field(default_factory=list)
    # Differential-privacy releases of this unit (DP aggregators and methods charge it); with a
    # budget it is also a round hook that stops teaching before a release that would not fit.
    ledger: PrivacyLedger = field(default_factory=PrivacyLedger)

    @property
    def n_teachers(self) -> int:
        return self.boundary.n_teachers

    @property
    def round_no(self) -> int:
        return self._round

    def select(
        self, candidates: Sequence[Candidate], chosen: Sequence[Example], rng: random.Random
    ) -> Candidate:
        """The aggregator's pick among ``candidates`` (votes are asked through the boundary)."""
        pick = self.choose(candidates, chosen, rng)
        if pick is None:
            raise RuntimeError(
                f"aggregator {self.aggregator.name!r} abstained, which this method does not "
                "handle; use it without a threshold here"
            )
        return pick

    def choose(
        self, candidates: Sequence[Candidate], chosen: Sequence[Example], rng: random.Random
    ) -> Candidate | None:
        """Like :meth:`select`, but None when the aggregator abstains (confident DP voting
        without consensus, or a spent privacy budget): nothing is released then."""
        view = AggregationRound(
            self.task,
            chosen,
            self._round,
            self.n_teachers,
            lambda cands: self.boundary.votes(self._round, cands),
            self.ledger,
        )
        index = self.aggregator.select(candidates, view, rng)
        return None if index is None else candidates[index]

    def release(self, candidates: Sequence[Candidate] = (), instruction: str | None = None) -> None:
        self._released += len(candidates) + (1 if instruction else 0)
        self.boundary.release(self._round, candidates, instruction)

    def metric(self, name: str, value: float) -> None:
        """Report a per-round metric (shown in the unit's ``rounds`` and the report)."""
        self._metrics[name] = value

    def keep(self, curriculum: Curriculum) -> None:
        """The curriculum so far: what the student gets if a hook stops teaching here."""
        self.kept = curriculum

    def snapshot(
        self, curriculum: Curriculum, completed_round: int, metrics: dict[str, float]
    ) -> None:
        """Keep an intermediate curriculum (finished in ``completed_round``) with its metrics;
        the unit evaluates every snapshot on the test set (per-round accuracy)."""
        self.snapshots.append(Snapshot(len(self.snapshots), completed_round, curriculum, metrics))


class _BoundaryServices(Protocol):
    """The part of :class:`Boundary` a method context uses (tests may pass a fake)."""

    @property
    def n_teachers(self) -> int: ...

    def votes(self, round_no: int, candidates: Sequence[Candidate]) -> list[int]: ...

    def instruction_votes(self, round_no: int, instructions: Sequence[str]) -> list[int]: ...

    def release(
        self, round_no: int, candidates: Sequence[Candidate] = (), instruction: str | None = None
    ) -> None: ...

    def summarize(self, round_no: int, prompt: str, seed: int) -> str: ...

    # Differentially private methods (trusted aggregation only): see Boundary.
    def label_votes(
        self, round_no: int, queries: Sequence[str], shots: int, seed: int
    ) -> list[list[int]]: ...

    def next_token_distributions(
        self,
        round_no: int,
        partial: str,
        candidates: Sequence[str],
        label: str | None,
        shots: int,
        seed: int,
    ) -> list[dict[str, float]]: ...

    def public_texts(
        self, round_no: int, prompts: Sequence[str], params: GenerationParams
    ) -> list[str]: ...

    def public_next_tokens(self, round_no: int, prompt: str, top: int) -> list[str]: ...


@dataclass(frozen=True)
class TeachingResult:
    curriculum: Curriculum
    rounds: tuple[RoundRecord, ...]
    snapshots: tuple[Snapshot, ...]
    ledger: PrivacyLedger | None = None  # the unit's differential-privacy event log


def run_rounds(
    plan: Callable[[MethodContext], Plan],
    context: MethodContext,
    boundary: Boundary,
    hooks: Sequence[RoundHook] = (),
) -> TeachingResult:
    """Drive ``plan`` round by round through ``boundary``; hooks run after every round."""
    records: list[RoundRecord] = []
    steps = plan(context)
    try:
        ask = next(steps)
        while True:
            context._round += 1
            before = boundary.stats()
            current = ask
            answers = boundary.ask(context._round, current)
            try:
                ask = steps.send(answers)
            finally:
                records.append(_record(context, current, answers, before, boundary))
                stop = any(hook.after_round(records[-1]) for hook in (*hooks, context.ledger))
            if stop:
                # The round that was just asked for is not run; the plan ends with what it kept.
                steps.close()
                context.stopped = True
                curriculum = context.kept or Curriculum()
                break
    except StopIteration as done:
        curriculum = done.value
    return TeachingResult(curriculum, tuple(records), tuple(context.snapshots), context.ledger)


def _record(
    context: MethodContext, ask: Ask, answers: Sequence[Answer], before: Any, boundary: Boundary
) -> RoundRecord:
    after = boundary.stats()
    record = RoundRecord(
        round=context._round,
        asked=len(ask.teachers),
        answered=sum(1 for a in answers if a.lesson.candidates or a.lesson.instruction),
        released=context._released,
        rejected=after.rejected - before.rejected,
        tokens=after.tokens - before.tokens,
        parsed=after.parsed - before.parsed,
        silo_copies=after.silo_copies - before.silo_copies,
        metrics=dict(context._metrics),
    )
    context._released = 0
    context._metrics = {}
    return record
