"""Every seed in sociallearn is derived here, from the unit key and fixed salts.

Seeds never come from global state or execution order, so a unit gives the same result
in-process, in a worker pool or on a cluster. The formulas are frozen: changing one changes
every stored result (the pinned-results test would say so).
"""

from __future__ import annotations

import hashlib

_MODULUS = 2**31 - 1


def text_seed(*parts: str) -> int:
    """A 32-bit seed from text (a unit key and salts): SHA-256, first four bytes."""
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:4], "big")


def mix_seed(*parts: int) -> int:
    """A seed from integers (a unit seed, a teacher index, a round number ...)."""
    acc = 1469598103
    for part in parts:
        acc = (acc * 1099511 + part + 7) % _MODULUS
    return acc


def sample_seed(seed: int, sample_index: int) -> int:
    """A per-sample seed: different across sample indices, fixed for a given (seed, index)."""
    return (seed * 1_000_003 + sample_index * 7_919 + 17) % _MODULUS


def attempt_seed(seed: int, attempt: int) -> int:
    """The seed of the ``attempt``-th sampling round of one request."""
    return seed * 31 + attempt
