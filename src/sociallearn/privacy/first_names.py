"""Common US first names for name canaries, read from the ``names`` registry package.

``names`` 0.3.0 ships the 1990 US Census first-name frequency tables (``dist.male.first``, 1,219
names; ``dist.female.first``, 4,275 names), one ``NAME  percent  cumulative  rank`` row per line.
The paper drew from the most common US baby names of 2020; the census tables are the closest list
available offline, and the canary method only needs a large, fixed pool of plausible names.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Literal

from sociallearn.errors import DataError

Gender = Literal["any", "male", "female"]
_FILES = {"male": "dist.male.first", "female": "dist.female.first"}


@lru_cache(maxsize=4)
def _table(gender: str) -> tuple[tuple[str, float], ...]:
    try:
        package = resources.files("names")
    except ModuleNotFoundError:
        raise DataError(
            "name canaries need the 'names' package: pip install names==0.3.0"
        ) from None
    rows: list[tuple[str, float]] = []
    text = (package / _FILES[gender]).read_text(encoding="utf-8")
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            rows.append((parts[0].capitalize(), float(parts[1])))
    return tuple(rows)


def common_first_names(n: int, gender: Gender = "any") -> tuple[str, ...]:
    """The ``n`` most common first names, most common first, each spelled ``"Mary"``-style.

    ``gender="any"`` merges both tables by frequency within each sex (names in both keep their
    higher frequency); ties keep file order, so the result is deterministic. Fewer than ``n`` names
    are returned when the tables hold fewer (5,163 distinct names in all).
    """
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    genders = ("male", "female") if gender == "any" else (gender,)
    best: dict[str, float] = {}
    for g in genders:
        for name, freq in _table(g):
            if freq > best.get(name, -1.0):
                best[name] = freq
    # sorted() is stable and dict order is file order, so ties resolve the same way every time.
    ranked = sorted(best, key=lambda name: -best[name])
    return tuple(ranked[:n])
