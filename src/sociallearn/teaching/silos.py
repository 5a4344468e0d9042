"""Dealing a task's teacher pool into disjoint private silos, one per teacher."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Literal

from sociallearn.errors import ConfigError
from sociallearn.tasks.base import Example

SplitStrategy = Literal["iid", "dirichlet"]


def split_silos(
    pool: Sequence[Example],
    n_teachers: int,
    seed: int,
    *,
    strategy: SplitStrategy = "iid",
    alpha: float = 0.5,
    silo_size: int | None = None,
    label_of: Callable[[Example], str] | None = None,
) -> list[list[Example]]:
    """Deal ``pool`` into ``n_teachers`` disjoint silos.

    ``iid`` shuffles and deals round-robin, so every silo has the same distribution (the paper's
    setting). ``dirichlet`` gives each label a Dirichlet(alpha) share per teacher, a standard way to
    simulate label skew between users; smaller ``alpha`` means more skew. ``silo_size`` caps each
    silo (the rest of the pool is unused), which keeps generation prompts cheap on big pools.
    """
    if n_teachers < 1:
        raise ConfigError(f"teachers: expected at least 1 teacher, got {n_teachers}")
    if len(pool) < n_teachers:
        raise ConfigError(
            f"teachers: {n_teachers} teachers need at least {n_teachers} pool examples, "
            f"the task's pool has {len(pool)}"
        )
    rng = random.Random(seed)
    if strategy == "iid":
        shuffled = list(pool)
        rng.shuffle(shuffled)
        silos = [shuffled[i::n_teachers] for i in range(n_teachers)]
    elif strategy == "dirichlet":
        if label_of is None:
            raise ConfigError("silo_split: 'dirichlet' needs a task with labels")
        silos = _dirichlet(pool, n_teachers, alpha, rng, label_of)
    else:
        raise ConfigError(
            f"silo_split: unknown strategy {strategy!r} (expected 'iid' or 'dirichlet')"
        )
    if silo_size is not None:
        silos = [s[:silo_size] for s in silos]
    return silos


def _dirichlet(
    pool: Sequence[Example],
    n_teachers: int,
    alpha: float,
    rng: random.Random,
    label_of: Callable[[Example], str],
) -> list[list[Example]]:
    by_label: dict[str, list[Example]] = defaultdict(list)
    for ex in pool:
        by_label[label_of(ex)].append(ex)
    silos: list[list[Example]] = [[] for _ in range(n_teachers)]
    for label in sorted(by_label):
        items = by_label[label]
        rng.shuffle(items)
        weights = [rng.gammavariate(alpha, 1.0) for _ in range(n_teachers)]
        total = sum(weights) or 1.0
        cuts, acc = [], 0.0
        for w in weights[:-1]:
            acc += w / total
            cuts.append(round(acc * len(items)))
        bounds = [0, *cuts, len(items)]
        for t in range(n_teachers):
            silos[t].extend(items[bounds[t] : bounds[t + 1]])
    for silo in silos:
        rng.shuffle(silo)
    # Every teacher needs something to teach from; move one example to any empty silo.
    for silo in silos:
        if not silo:
            donor = max(silos, key=len)
            silo.append(donor.pop())
    return silos
