"""A privacy policy as a wrapper: the wrapped method runs unchanged, with every teacher
screening its own candidates through ``filters`` before anything is sent."""

from __future__ import annotations

from collections.abc import Sequence

from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.filters import CandidateFilter
from sociallearn.teaching.methods.base import TeachingContext, TeachingMethod


class Gated:
    """``Gated(SyntheticExamples(), [LeakageGate()])`` behaves like the inner method, but a
    candidate a filter rejects is dropped (and regenerated) inside its teacher."""

    def __init__(self, inner: TeachingMethod, filters: Sequence[CandidateFilter]) -> None:
        self.inner = inner
        self.filters = tuple(filters)
        self.name = inner.name
        self.uses_aggregator = inner.uses_aggregator

    def teach(self, context: TeachingContext) -> Curriculum:
        for teacher in context.teachers:
            for candidate_filter in self.filters:
                teacher.add_filter(candidate_filter)
        return self.inner.teach(context)
