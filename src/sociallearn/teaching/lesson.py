"""The only value that crosses from a teacher to the student."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sociallearn.tasks.base import Example


@dataclass(frozen=True)
class Candidate:
    """A synthetic example proposed by a teacher, with the log-prob evidence used to rank it."""

    example: Example
    teacher_id: str
    mean_logprob: float
    text: str


@dataclass(frozen=True)
class Lesson:
    """Synthetic examples and/or an instruction written by one teacher, plus provenance.

    ``contains_private`` is true only for the ``original_examples`` baseline, which deliberately
    puts private examples into a lesson; audits and reports key on it.
    """

    teacher_id: str
    method: str
    candidates: tuple[Candidate, ...] = ()
    instruction: str | None = None
    contains_private: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)
    # Statistics a teacher discloses about a *public* prompt on its private data (e.g. held-out
    # accuracy in feedback rounds); recorded as a "report" message.
    report: Mapping[str, float] = field(default_factory=dict)

    @property
    def examples(self) -> tuple[Example, ...]:
        return tuple(c.example for c in self.candidates)
