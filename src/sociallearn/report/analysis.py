"""The comparisons the report shows, computed once: O vs G per n, random vs voting, methods vs
zero-shot. Each builder returns the table and the numbers its plot needs.

Every table is one family of comparisons: its p-values are shown raw and Holm-corrected over the
family, and a star marks a corrected p below the level. With a paper (``--compare-paper``) each
table also carries the paper's value for the same cell as a reference row.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sociallearn.evaluation.correction import holm
from sociallearn.evaluation.paired import TestKind, compare_rows
from sociallearn.evaluation.stats import Comparison
from sociallearn.paper import PaperResults
from sociallearn.report.reference import (
    GENERATED,
    HAND_WRITTEN,
    INSTRUCTION,
    ORIGINAL,
    ZERO_SHOT,
    cell_reference,
    fraction,
)
from sociallearn.report.summary import (
    GroupKey,
    SummaryRow,
    aggregator_rank,
    format_percent,
    group_rows,
    method_label,
    method_rank,
    sort_key,
    summarize,
)

__all__ = ["GENERATED", "HAND_WRITTEN", "INSTRUCTION", "ORIGINAL", "ZERO_SHOT"]

# The paper's instruction table compares against the 8-shot prompts.
REFERENCE_N = 8
FALLBACK_MARK = "†"


@dataclass(frozen=True)
class Point:
    """One accuracy (fractions) with its test against the series' baseline, if any.

    ``p_holm`` is corrected over the point's table; ``test`` names the test ("paired" or
    "pooled") and ``fallback`` why a paired test could not be run; ``reference`` is the paper's
    value for the same cell (a fraction), with ``--compare-paper``.
    """

    n: int
    mean: float
    sem: float
    p_value: float | None = None
    p_holm: float | None = None
    test: str | None = None
    fallback: str = ""
    reference: float | None = None


@dataclass(frozen=True)
class Series:
    label: str
    method: str
    aggregator: str | None
    points: tuple[Point, ...]


@dataclass(frozen=True)
class Level:
    """A method without an n axis (zero-shot, hand-written, an instruction written from n = 0)."""

    label: str
    method: str
    aggregator: str | None
    point: Point


@dataclass(frozen=True)
class TaskCurves:
    """Accuracy against n for one task, with the levels of methods that have no n."""

    task: str
    series: tuple[Series, ...]
    levels: tuple[Level, ...]


@dataclass(frozen=True)
class Bar:
    label: str
    method: str
    aggregator: str | None
    point: Point | None


@dataclass(frozen=True)
class BarGroup:
    """Bars of one task in the methods overview; p-values are against zero-shot."""

    task: str
    bars: tuple[Bar, ...]


Pair = tuple[GroupKey, GroupKey]
"""(baseline cell, method cell)."""


class Analysis:
    """Summaries and cached significance tests over one run's result rows."""

    def __init__(
        self,
        rows: Iterable[Mapping[str, Any]],
        n_resamples: int = 10_000,
        seed: int = 0,
        level: float = 0.05,
        test: TestKind = "paired",
        paper: PaperResults | None = None,
    ) -> None:
        row_list = list(rows)
        self.groups = group_rows(row_list)
        self.summaries: dict[GroupKey, SummaryRow] = {s.key: s for s in summarize(row_list)}
        self.n_resamples = n_resamples
        self.seed = seed
        self.level = level
        self.test: TestKind = test
        self.paper = paper
        self._cache: dict[tuple[Pair, TestKind, bool], Comparison] = {}

    def tasks(self) -> list[str]:
        return sorted({key[0] for key in self.groups})

    def keys(self, task: str, method: str) -> list[GroupKey]:
        found = [key for key in self.groups if key[0] == task and key[1] == method]
        return sorted(found, key=sort_key)

    def aggregators(self, task: str, method: str) -> list[str | None]:
        found = {key[3] for key in self.keys(task, method) if key[2] > 0}
        return sorted(found, key=aggregator_rank)

    def methods(self, task: str) -> list[str]:
        return sorted({key[1] for key in self.groups if key[0] == task}, key=method_rank)

    def first(self, task: str, method: str) -> GroupKey | None:
        """The single cell of a method without n (zero-shot, hand-written): smallest n first."""
        keys = sorted(self.keys(task, method), key=lambda k: (k[2], aggregator_rank(k[3])))
        return keys[0] if keys else None

    def compare(
        self, baseline: GroupKey, method: GroupKey, test: TestKind | None = None, ci: bool = False
    ) -> Comparison:
        """The test of ``method`` against ``baseline`` (the analysis' test unless given)."""
        kind = test or self.test
        cache_key = ((baseline, method), kind, ci)
        if cache_key not in self._cache:
            self._cache[cache_key] = compare_rows(
                self.groups[baseline],
                self.groups[method],
                test=kind,
                n_resamples=self.n_resamples,
                seed=self.seed,
                ci=ci,
            )
        return self._cache[cache_key]

    def family(self, pairs: Sequence[Pair]) -> dict[Pair, tuple[Comparison, float]]:
        """Tests of a family of comparisons with their Holm-corrected p-values."""
        valid = [
            pair
            for pair in dict.fromkeys(pairs)
            if pair[0] in self.groups and pair[1] in self.groups and pair[0] != pair[1]
        ]
        comparisons = [self.compare(*pair) for pair in valid]
        corrected = holm([c.p_value for c in comparisons])
        return {
            pair: (comparison, p if p is not None else math.nan)
            for pair, comparison, p in zip(valid, comparisons, corrected, strict=True)
        }

    def point(
        self, key: GroupKey | None, tested: tuple[Comparison, float] | None = None
    ) -> Point | None:
        if key is None or key not in self.summaries:
            return None
        summary = self.summaries[key]
        reference = fraction(cell_reference(self.paper, *key))
        point = Point(n=summary.n, mean=summary.mean, sem=summary.sem, reference=reference)
        if tested is None:
            return point
        comparison, p_holm = tested
        return dataclasses.replace(
            point,
            p_value=comparison.p_value,
            p_holm=p_holm,
            test=comparison.kind,
            fallback=comparison.fallback,
        )

    def cell(self, point: Point | None) -> str:
        """'86.5 (0.9)*' with the star when the corrected p < level; '–' when there is none."""
        if point is None:
            return "–"
        text = format_percent(point.mean, point.sem)
        p_value = point.p_holm if point.p_holm is not None else point.p_value
        if p_value is not None and p_value < self.level:
            text += "*"
        return text

    def p_cell(self, point: Point | None, corrected: bool = False) -> str:
        """A p-value as text; the fallback mark when the pooled test stood in for the paired."""
        if point is None:
            return "–"
        text = format_p(point.p_holm if corrected else point.p_value)
        return text + FALLBACK_MARK if point.fallback and text != "–" else text

    def test_note(self, points: Iterable[Point | None], against: str) -> str:
        """The note under a table: which test gave the p-values, the family, the star."""
        tested = [p for p in points if p is not None and p.p_value is not None]
        permutations = f"{self.n_resamples:,} permutations"
        if self.test == "paired":
            test = (
                f"p: one-sided paired permutation test of {against}, in the direction of the "
                f"observed difference, outcomes swapped within each (item, seed) pair "
                f"({permutations})"
            )
        else:
            test = (
                f"p: the paper's one-sided pooled permutation test of {against}, items of all "
                f"seeds pooled ({permutations})"
            )
        text = (
            f"{test}; p Holm: corrected over the {len(tested)} comparisons of this table; "
            f"* = p Holm < {self.level:g}."
        )
        reasons = sorted({p.fallback for p in tested if p.fallback})
        if reasons:
            text += (
                f" {FALLBACK_MARK} = the pooled unpaired test, since the paired test was not "
                f"possible ({'; '.join(reasons)})."
            )
        return text


def format_p(p_value: float | None) -> str:
    return "–" if p_value is None or math.isnan(p_value) else f"{p_value:.4f}"


def _baseline_for(analysis: Analysis, task: str, n: int, aggregator: str | None) -> GroupKey | None:
    """The original-examples cell a generated cell is tested against: same n, same aggregator if
    the originals were run with it, else the first original aggregator."""
    candidates = [key for key in analysis.keys(task, ORIGINAL) if key[2] == n]
    if not candidates:
        return None
    for key in candidates:
        if key[3] == aggregator:
            return key
    return candidates[0]


def og_pairs(analysis: Analysis, task: str) -> list[Pair]:
    """The family of one task's paper-layout table: every G cell against O at the same n."""
    pairs: list[Pair] = []
    for key in analysis.keys(task, GENERATED):
        baseline = _baseline_for(analysis, task, key[2], key[3]) if key[2] > 0 else None
        if baseline is not None:
            pairs.append((baseline, key))
    return pairs


def og_points(analysis: Analysis, task: str) -> dict[GroupKey, Point]:
    """Points of every O and G cell of a task; G points carry their test against O."""
    tested = {pair[1]: result for pair, result in analysis.family(og_pairs(analysis, task)).items()}
    points: dict[GroupKey, Point] = {}
    for method in (ORIGINAL, GENERATED):
        for key in analysis.keys(task, method):
            point = analysis.point(key, tested.get(key))
            if point is not None:
                points[key] = point
    return points


def task_curves(analysis: Analysis, task: str) -> TaskCurves | None:
    """Series of accuracy against n for every example/instruction method with n > 0."""
    tested = og_points(analysis, task)
    series: list[Series] = []
    levels: list[Level] = []
    for method in analysis.methods(task):
        aggregators = analysis.aggregators(task, method)
        if method in (ZERO_SHOT, HAND_WRITTEN) or not aggregators:
            level = analysis.point(analysis.first(task, method))
            if level is not None:
                levels.append(Level(method_label(method), method, None, level))
            continue
        for aggregator in aggregators:
            points = []
            for key in analysis.keys(task, method):
                if key[2] == 0 or key[3] != aggregator:
                    continue
                point = tested.get(key) or analysis.point(key)
                if point is not None:
                    points.append(point)
            short = {ORIGINAL: "Original (O)", GENERATED: "Generated"}.get(
                method, method_label(method)
            )
            show = len(aggregators) > 1 or method == GENERATED
            label = f"{short}, {aggregator}" if show and aggregator else short
            series.append(Series(label, method, aggregator, tuple(points)))
    if not series and not levels:
        return None
    return TaskCurves(task=task, series=tuple(series), levels=tuple(levels))
