"""Checks a teacher applies to its own candidates before anything leaves it.

A filter sees the candidate *and* the teacher's private data, so it runs inside the teacher; the
student never sees a rejected candidate, only the lessons that passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sociallearn.tasks.base import Example


class CandidateFilter(Protocol):
    """Decides whether a synthetic candidate may be shared.

    Example::

        class NoDigits:
            name = "no_digits"

            def reject_reason(self, candidate, rendered, private, prompt):
                return "contains a digit" if any(c.isdigit() for c in rendered) else None
    """

    name: str

    def reject_reason(
        self,
        candidate: Example,
        rendered: str,
        private: Sequence[Example],
        prompt: str,
    ) -> str | None:
        """Return why ``candidate`` must not be shared, or ``None`` to let it through.

        ``rendered`` is the candidate as the student would see it; ``private`` is the teacher's
        whole silo (planted canaries included); ``prompt`` is the generation prompt it came from.
        """
        ...
