"""Turning a source's examples into a teacher pool and a disjoint, seeded test set.

Three policies (SPEC §2, §8):
- ``balanced`` (SMS spam): undersample every class to the smallest one, then take a class-balanced
  test set (500 by default) whose every even-length prefix is balanced, so ``--limit`` stays fair;
- ``standard``: a source with ``train`` and a test split uses them as pool and test;
- a source with a single split is shuffled and cut into a pool and a test set.
Exact duplicates (same rendered input) are dropped first, and no test input is ever in the pool.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sociallearn.errors import DataError
from sociallearn.tasks.base import Example, Task, TaskData

TEST_SPLITS = ("test", "validation", "dev")


@dataclass(frozen=True)
class SplitPolicy:
    """How one task's data is split; ``default_test_size`` None means the whole test split."""

    balanced: bool = False
    default_test_size: int | None = None
    # Test size carved out of a single-split source when the caller gives none.
    single_split_test_size: int = 1000


@dataclass(frozen=True)
class SplitResult:
    """The split plus the counts that explain it (reported in ``TaskData.origin``)."""

    pool: tuple[Example, ...]
    test: tuple[Example, ...]
    rows: int
    unique: int
    note: str


def dedupe(task: Task, examples: Sequence[Example]) -> list[Example]:
    """Drop examples whose rendered input was already seen; the first occurrence wins."""
    seen: set[str] = set()
    out: list[Example] = []
    for e in examples:
        key = task.render_query(e)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def split_examples(
    task: Task,
    splits: Mapping[str, Sequence[Example]],
    policy: SplitPolicy,
    *,
    test_size: int | None,
    seed: int,
) -> SplitResult:
    """Apply ``policy`` to a source's splits; see the module docstring."""
    if test_size is not None and test_size < 1:
        raise DataError(f"{task.name}: test size must be at least 1 (got {test_size})")
    rng = random.Random(f"split:{seed}")
    rows = sum(len(v) for v in splits.values())
    test_name = next((s for s in TEST_SPLITS if s in splits), None)
    if not policy.balanced and "train" in splits and test_name is not None:
        train = dedupe(task, splits["train"])
        test = dedupe(task, splits[test_name])
        unique = len(train) + len(test)
        pool, chosen = _standard(task, train, test, test_size, rng)
        note = f"pool from 'train', test from '{test_name}'"
    else:
        everything = dedupe(task, [e for name in sorted(splits) for e in splits[name]])
        unique = len(everything)
        if policy.balanced:
            size = test_size if test_size is not None else policy.default_test_size
            pool, chosen, note = _balanced(task, everything, size, test_size is not None, rng)
        else:
            size = test_size if test_size is not None else policy.single_split_test_size
            pool, chosen = _single(task, everything, size, test_size is not None, rng)
            note = "seeded split of a single split"
    _check_disjoint(task, pool, chosen)
    return SplitResult(pool=tuple(pool), test=tuple(chosen), rows=rows, unique=unique, note=note)


def to_task_data(result: SplitResult, source: str, seed: int) -> TaskData:
    origin = (
        f"{source}: {result.unique:,} unique of {result.rows:,} rows; {result.note}; "
        f"pool {len(result.pool):,}, test {len(result.test):,} (seed {seed})"
    )
    return TaskData(pool=result.pool, test=result.test, origin=origin)


def _standard(
    task: Task,
    train: list[Example],
    test: list[Example],
    test_size: int | None,
    rng: random.Random,
) -> tuple[list[Example], list[Example]]:
    if not test:
        raise DataError(f"{task.name}: the test split is empty")
    if test_size is not None and test_size > len(test):
        raise DataError(
            f"{task.name}: test size {test_size} is larger than the test split ({len(test)})"
        )
    order = list(test)
    rng.shuffle(order)
    chosen = order[:test_size] if test_size is not None else order
    # Standard splits can still share a text; the test split wins and the pool loses it.
    test_inputs = {task.render_query(e) for e in test}
    pool = [e for e in train if task.render_query(e) not in test_inputs]
    rng.shuffle(pool)
    return pool, chosen


def _single(
    task: Task, examples: list[Example], size: int, explicit: bool, rng: random.Random
) -> tuple[list[Example], list[Example]]:
    if len(examples) < 2:
        raise DataError(f"{task.name}: need at least 2 examples to split, found {len(examples)}")
    if size >= len(examples):
        if explicit:
            raise DataError(
                f"{task.name}: test size {size} leaves no teacher pool (only {len(examples)} "
                "unique examples)"
            )
        size = len(examples) // 2
    order = list(examples)
    rng.shuffle(order)
    return order[size:], order[:size]


def _balanced(
    task: Task, examples: list[Example], size: int | None, explicit: bool, rng: random.Random
) -> tuple[list[Example], list[Example], str]:
    by_class: dict[str, list[Example]] = {}
    for e in examples:
        by_class.setdefault(task.gold(e) or e.target, []).append(e)
    classes = sorted(by_class)
    if len(classes) < 2:
        raise DataError(f"{task.name}: need at least two classes to balance, found {classes}")
    per_class = min(len(v) for v in by_class.values())
    kept = {c: rng.sample(by_class[c], per_class) for c in classes}
    k = len(classes)
    if size is None:
        size = (per_class // 2) * k
    per_test = math.ceil(size / k)
    if per_test >= per_class:
        if explicit:
            raise DataError(
                f"{task.name}: a balanced test set of {size} needs {per_test} per class, but the "
                f"smallest class has {per_class} (and the pool needs some)"
            )
        per_test = per_class // 2
        size = per_test * k
    interleaved: list[Example] = []
    for i in range(per_test):
        order = list(classes)
        rng.shuffle(order)
        interleaved.extend(kept[c][i] for c in order)
    chosen = interleaved[:size]
    pool = interleaved[size:] + [e for c in classes for e in kept[c][per_test:]]
    rng.shuffle(pool)
    note = f"balanced by undersampling to {per_class:,} per class ({', '.join(classes)})"
    return pool, chosen, note


def _check_disjoint(task: Task, pool: Sequence[Example], test: Sequence[Example]) -> None:
    # A cheap last line of defence: a leak here would silently inflate every result.
    test_uids = {e.uid for e in test if e.uid}
    test_inputs = {task.render_query(e) for e in test}
    for e in pool:
        if (e.uid and e.uid in test_uids) or task.render_query(e) in test_inputs:
            raise AssertionError(f"{task.name}: pool example {e.uid!r} is also in the test set")
