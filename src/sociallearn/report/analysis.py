"""The comparisons the report shows, computed once: O vs G per n, random vs voting, methods vs
zero-shot. Each builder returns the table and the numbers its plot needs."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sociallearn.evaluation.stats import Comparison, compare
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
from sociallearn.report.tables import Table, TableRow

ORIGINAL = "original_examples"
GENERATED = "synthetic_examples"
INSTRUCTION = "synthetic_instruction"
ZERO_SHOT = "zero_shot"
HAND_WRITTEN = "hand_written"
# The paper's instruction table compares against the 8-shot prompts.
REFERENCE_N = 8


@dataclass(frozen=True)
class Point:
    """One accuracy (fractions) with its test against the series' baseline, if any."""

    n: int
    mean: float
    sem: float
    p_value: float | None = None


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


class Analysis:
    """Summaries and cached permutation tests over one run's result rows."""

    def __init__(
        self,
        rows: Iterable[Mapping[str, Any]],
        n_resamples: int = 10_000,
        seed: int = 0,
        level: float = 0.05,
    ) -> None:
        row_list = list(rows)
        self.groups = group_rows(row_list)
        self.summaries: dict[GroupKey, SummaryRow] = {s.key: s for s in summarize(row_list)}
        self.n_resamples = n_resamples
        self.seed = seed
        self.level = level
        self._cache: dict[tuple[GroupKey, GroupKey], Comparison] = {}

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

    def point(self, key: GroupKey | None, baseline: GroupKey | None = None) -> Point | None:
        if key is None or key not in self.summaries:
            return None
        summary = self.summaries[key]
        p_value = None
        if baseline is not None and baseline in self.groups and baseline != key:
            p_value = self.compare(baseline, key).p_value
        return Point(n=summary.n, mean=summary.mean, sem=summary.sem, p_value=p_value)

    def compare(self, baseline: GroupKey, method: GroupKey) -> Comparison:
        cache_key = (baseline, method)
        if cache_key not in self._cache:
            self._cache[cache_key] = compare(
                self.groups[baseline],
                self.groups[method],
                n_resamples=self.n_resamples,
                seed=self.seed,
            )
        return self._cache[cache_key]

    def cell(self, point: Point | None) -> str:
        """'86.5 (0.9)*' with the star when p < level; '–' when there is no such cell."""
        if point is None:
            return "–"
        text = format_percent(point.mean, point.sem)
        if point.p_value is not None and point.p_value < self.level:
            text += "*"
        return text


def format_p(p_value: float | None) -> str:
    return "–" if p_value is None or math.isnan(p_value) else f"{p_value:.4f}"


def _with_aggregator(label: str, aggregator: str | None, show: bool) -> str:
    return f"{label} ({aggregator})" if show and aggregator else label


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


def task_curves(analysis: Analysis, task: str) -> TaskCurves | None:
    """Series of accuracy against n for every example/instruction method with n > 0."""
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
                baseline = (
                    None
                    if method == ORIGINAL
                    else _baseline_for(analysis, task, key[2], aggregator)
                )
                point = analysis.point(key, baseline if method == GENERATED else None)
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


def paper_table(analysis: Analysis, task: str) -> Table | None:
    """The paper's layout: rows n, columns O and G per aggregator, each G with its p vs O."""
    o_aggs = analysis.aggregators(task, ORIGINAL)
    g_aggs = analysis.aggregators(task, GENERATED)
    if not o_aggs and not g_aggs:
        return None
    header: list[str] = ["n"]
    header += [_with_aggregator("O", agg, len(o_aggs) > 1) for agg in o_aggs]
    for agg in g_aggs:
        header += [_with_aggregator("G", agg, True), "p (G vs O)"]
    ns = sorted({key[2] for m in (ORIGINAL, GENERATED) for key in analysis.keys(task, m)} - {0})
    zero_key = analysis.first(task, ZERO_SHOT)
    rows: list[TableRow] = []
    if zero_key is not None:
        zero_cell = analysis.cell(analysis.point(zero_key))
        rows.append(TableRow(("0", zero_cell, *[""] * (len(header) - 2))))
    for n in ns:
        cells = [str(n)]
        for agg in o_aggs:
            cells.append(analysis.cell(analysis.point((task, ORIGINAL, n, agg))))
        for agg in g_aggs:
            key = (task, GENERATED, n, agg)
            point = analysis.point(key, _baseline_for(analysis, task, n, agg))
            cells += [analysis.cell(point), format_p(point.p_value if point else None)]
        rows.append(TableRow(tuple(cells)))
    return Table(
        title=f"{task}: accuracy % (SEM over seeds), original (O) vs generated (G) examples",
        header=tuple(header),
        rows=tuple(rows),
        note=(
            "n = 0 is the zero-shot student. * = p < "
            f"{analysis.level:g} in the one-sided permutation test of G against O at the same n "
            f"(items pooled over seeds, {analysis.n_resamples:,} permutations)."
        ),
    )


def aggregator_tables(analysis: Analysis, task: str) -> list[tuple[Table, Series, Series]]:
    """Random vs voting per n, for each method run with both (voting is tested against random)."""
    results: list[tuple[Table, Series, Series]] = []
    for method in analysis.methods(task):
        if not {"random", "voting"} <= set(analysis.aggregators(task, method)):
            continue
        ns = sorted(
            {k[2] for k in analysis.keys(task, method) if k[3] == "random" and k[2] > 0}
            & {k[2] for k in analysis.keys(task, method) if k[3] == "voting"}
        )
        rows: list[TableRow] = []
        random_points: list[Point] = []
        voting_points: list[Point] = []
        for n in ns:
            random_key = (task, method, n, "random")
            rand = analysis.point(random_key)
            vote = analysis.point((task, method, n, "voting"), random_key)
            if rand is None or vote is None:
                continue
            random_points.append(rand)
            voting_points.append(vote)
            cells = (str(n), analysis.cell(rand), analysis.cell(vote), format_p(vote.p_value))
            rows.append(TableRow(cells))
        if not rows:
            continue
        table = Table(
            title=f"{task}: random vs voting aggregator — {method_label(method)}",
            header=("n", "random", "voting", "p (voting vs random)"),
            rows=tuple(rows),
            note=f"* = p < {analysis.level:g}, one-sided permutation test, voting against random.",
        )
        results.append(
            (
                table,
                Series("random", method, "random", tuple(random_points)),
                Series("voting", method, "voting", tuple(voting_points)),
            )
        )
    return results


def _overview_specs(analysis: Analysis) -> list[tuple[str, str, int | None, str | None]]:
    """Rows of the overview: (label, method, n or None for 'no n', aggregator)."""
    all_keys = list(analysis.groups)
    original_ns = sorted({k[2] for k in all_keys if k[1] == ORIGINAL and k[2] > 0})
    ref_n = (
        REFERENCE_N if REFERENCE_N in original_ns else (original_ns[-1] if original_ns else None)
    )
    specs: list[tuple[str, str, int | None, str | None]] = []
    methods = sorted({k[1] for k in all_keys}, key=method_rank)
    for method in methods:
        keys = [k for k in all_keys if k[1] == method]
        if method in (ZERO_SHOT, HAND_WRITTEN):
            specs.append((method_label(method), method, None, None))
            continue
        # Methods run only at n = 0 (an instruction written without examples) still get a row.
        ns = sorted({k[2] for k in keys if k[2] > 0}) or [0]
        n = ref_n if ref_n in ns else ns[-1]
        aggs = sorted({k[3] for k in keys if k[2] == n}, key=aggregator_rank)
        for agg in aggs:
            show_agg = agg is not None and (method != ORIGINAL or len(aggs) > 1)
            suffix = f", {agg}" if show_agg else ""
            if method == ORIGINAL:
                label = f"{n}-shot original (O{suffix})"
            elif method == GENERATED:
                label = f"{n}-shot generated (G{suffix})"
            elif n == 0:
                label = f"{method_label(method)}{f' ({agg})' if agg else ''}"
            else:
                label = f"{method_label(method)} (n = {n}{suffix})"
            specs.append((label, method, n, agg))
    return specs


def methods_overview(analysis: Analysis) -> tuple[Table, list[BarGroup]] | None:
    """The instruction table's layout: methods as rows, tasks as columns, tests vs zero-shot."""
    tasks = analysis.tasks()
    specs = _overview_specs(analysis)
    if not specs or not any(spec[1] == ZERO_SHOT for spec in specs) or len(specs) < 2:
        return None
    rows: list[TableRow] = []
    groups: dict[str, list[Bar]] = {task: [] for task in tasks}
    for label, method, n, agg in specs:
        cells, p_cells = [label], ["p vs zero-shot"]
        for task in tasks:
            zero_key = analysis.first(task, ZERO_SHOT)
            key = analysis.first(task, method) if n is None else (task, method, n, agg)
            point = analysis.point(key, zero_key if method != ZERO_SHOT else None)
            cells.append(analysis.cell(point))
            p_cells.append(format_p(point.p_value if point else None))
            groups[task].append(Bar(label, method, agg, point))
        rows.append(TableRow(tuple(cells)))
        if method != ZERO_SHOT:
            rows.append(TableRow(tuple(p_cells), minor=True))
    table = Table(
        title="Methods compared with the zero-shot student: accuracy % (SEM over seeds)",
        header=("method", *tasks),
        rows=tuple(rows),
        note=(
            f"* = p < {analysis.level:g} in the one-sided permutation test against zero-shot on "
            "the same task (items pooled over seeds)."
        ),
    )
    return table, [BarGroup(task, tuple(groups[task])) for task in tasks]
