"""Correction of p-values for a family of comparisons (Holm's step-down method)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p-values, in the input's order.

    With the m p-values sorted ascending, p_(i) (i = 1..m) becomes
    max over j <= i of min(1, (m - j + 1) * p_(j)); rejecting where the adjusted value is below
    the level controls the family-wise error rate at that level. Entries that are None or NaN
    (no test was run) stay None and do not count towards m.
    """
    known = [
        (index, float(p)) for index, p in enumerate(p_values) if p is not None and not math.isnan(p)
    ]
    for _, p in known:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p-values must lie in [0, 1], got {p}")
    adjusted: list[float | None] = [None] * len(p_values)
    m = len(known)
    running = 0.0
    # Stable sort: tied p-values keep their input order, and the running maximum makes ties equal.
    for rank, (index, p) in enumerate(sorted(known, key=lambda item: item[1])):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = running
    return adjusted
