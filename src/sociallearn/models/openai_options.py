"""Option values of the OpenAI-compatible backend, checked where they are given: ``-O
timeout=abc`` is one clear error, not a traceback at the first request."""

from __future__ import annotations

import math
from typing import Any

from sociallearn.errors import UserError
from sociallearn.models.endpoint_pool import DEFAULT_MAX_CONNECTIONS


def number_option(name: str, value: Any, *, integer: bool = False, minimum: float = 0.0) -> Any:
    """A numeric option (``-O timeout=abc`` is one clear error, not a traceback later)."""
    kind = "an integer" if integer else "a number"
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and integer and isinstance(value, float):
        ok = value.is_integer()
    if not ok or not math.isfinite(float(value)) or value < minimum:
        raise UserError(f"option {name}: expected {kind} >= {minimum:g}, got {value!r}")
    return int(value) if integer else float(value)


def max_connections_option(max_connections: Any, concurrency: Any) -> int:
    """``max_connections``, or ``concurrency`` (its older name); both set must agree."""
    if concurrency is not None:
        concurrency = number_option("concurrency", concurrency, integer=True, minimum=1)
    if max_connections is None:
        return DEFAULT_MAX_CONNECTIONS if concurrency is None else int(concurrency)
    limit = int(number_option("max_connections", max_connections, integer=True, minimum=1))
    if concurrency is not None and concurrency != limit:
        raise UserError(
            f"options concurrency={concurrency} and max_connections={limit} disagree: "
            "concurrency is the older name of max_connections; set only max_connections"
        )
    return limit
