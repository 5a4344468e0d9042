"""Privacy numbers for the report: canary ranks and exposure, and leakage of generated examples."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sociallearn.report.summary import method_rank, row_key, sort_key
from sociallearn.report.tables import Table, TableRow

# The paper's canary set: one planted canary plus 999 references. Used only when a privacy row
# does not say how many references it was ranked against.
DEFAULT_CANDIDATES = 1000


@dataclass(frozen=True)
class CanaryGroup:
    """All canary runs of one (task, template, kind, method)."""

    task: str
    template: str
    kind: str
    method: str
    ranks: tuple[int, ...]
    exposures: tuple[float, ...]
    n_candidates: int

    @property
    def label(self) -> str:
        return f"{self.task} · {self.template} · {self.method}"

    @property
    def mean_rank(self) -> float:
        return sum(self.ranks) / len(self.ranks)

    @property
    def rank_zero(self) -> int:
        return sum(1 for rank in self.ranks if rank == 0)


def exposure_from_rank(rank: int, n_candidates: int) -> float:
    """Exposure in bits of a 0-indexed rank among ``n_candidates`` (canary plus references)."""
    return math.log2(n_candidates) - math.log2(rank + 1)


def uniform_mean_rank(n_candidates: int) -> float:
    """Expected 0-indexed rank when nothing is memorised: uniform on 0..N-1."""
    return (n_candidates - 1) / 2


def uniform_mean_exposure(n_candidates: int) -> float:
    """Expected exposure under a uniform rank: log2 N - log2(N!)/N (about 1.44 bits for N = 1000)."""
    return math.log2(n_candidates) - math.lgamma(n_candidates + 1) / math.log(2) / n_candidates


def canary_groups(rows: Iterable[Mapping[str, Any]]) -> list[CanaryGroup]:
    grouped: dict[tuple[str, str, str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        key = (
            str(row.get("task", "?")),
            str(row.get("template", "?")),
            str(row.get("kind", "?")),
            str(row.get("method", "?")),
        )
        grouped.setdefault(key, []).append(row)
    groups = []
    for (task, template, kind, method), members in grouped.items():
        references = {int(r["n_references"]) for r in members if r.get("n_references") is not None}
        n_candidates = max(references) + 1 if references else DEFAULT_CANDIDATES
        ranks = tuple(int(r["rank"]) for r in members)
        exposures = tuple(
            float(r["exposure"])
            if r.get("exposure") is not None
            else exposure_from_rank(int(r["rank"]), n_candidates)
            for r in members
        )
        groups.append(CanaryGroup(task, template, kind, method, ranks, exposures, n_candidates))
    return sorted(groups, key=lambda g: (g.task, g.template, method_rank(g.method)))


def privacy_table(groups: list[CanaryGroup]) -> Table:
    rows = []
    for group in groups:
        n = group.n_candidates
        exposures = group.exposures
        rows.append(
            TableRow(
                (
                    group.task,
                    group.template,
                    group.kind,
                    group.method,
                    str(len(group.ranks)),
                    f"{group.mean_rank:.1f}",
                    f"{uniform_mean_rank(n):.1f}",
                    str(group.rank_zero),
                    f"{len(group.ranks) / n:.2f}",
                    f"{sum(exposures) / len(exposures):.2f}",
                    f"{uniform_mean_exposure(n):.2f}",
                )
            )
        )
    return Table(
        title="Canary memorisation: rank of the planted canary among the candidates",
        header=(
            "task",
            "template",
            "kind",
            "method",
            "runs",
            "mean rank",
            "mean rank if not memorised",
            "# rank 0",
            "# rank 0 expected",
            "mean exposure (bits)",
            "exposure if not memorised",
        ),
        rows=tuple(rows),
        note=(
            "Rank 0 = the planted canary is more likely than every reference. Exposure = log2 N − "
            "log2(rank + 1), averaged over runs. Without memorisation the rank is uniform on "
            "0..N−1 (mean (N−1)/2, P(rank 0) = 1/N, mean exposure ≈ 1.44 bits for N = 1000)."
        ),
    )


def _leakage_rows(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [row for row in rows if isinstance(row.get("leakage"), Mapping)]


def leakage_distances(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[float]]:
    """Normalised distances of generated examples to the prompt, pooled per task."""
    by_task: dict[str, list[float]] = {}
    for row in _leakage_rows(rows):
        distances = row["leakage"].get("distances") or []
        by_task.setdefault(str(row["task"]), []).extend(float(d) for d in distances)
    return {task: values for task, values in sorted(by_task.items()) if values}


def _mean_of(rows: list[Mapping[str, Any]], field: str) -> float | None:
    values = [float(r["leakage"][field]) for r in rows if r["leakage"].get(field) is not None]
    return sum(values) / len(values) if values else None


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def leakage_table(rows: Iterable[Mapping[str, Any]]) -> Table | None:
    grouped: dict[tuple[str, str, int, str | None], list[Mapping[str, Any]]] = {}
    for row in _leakage_rows(rows):
        grouped.setdefault(row_key(row), []).append(row)
    if not grouped:
        return None
    table_rows = []
    for key in sorted(grouped, key=sort_key):
        members = grouped[key]
        candidates = sum(int(r["leakage"].get("n_candidates") or 0) for r in members)
        parsed = [r for r in members if r["leakage"].get("n_parsed") is not None]
        if candidates and len(parsed) == len(members):
            parse_rate: float | None = sum(int(r["leakage"]["n_parsed"]) for r in members) / candidates
        else:
            parse_rate = _mean_of(members, "parse_rate")
        distances = [float(d) for r in members for d in (r["leakage"].get("distances") or [])]
        mean_distance = (
            sum(distances) / len(distances) if distances else _mean_of(members, "mean_distance")
        )
        task, method, n, aggregator = key
        table_rows.append(
            TableRow(
                (
                    task,
                    method,
                    str(n),
                    aggregator or "–",
                    str(len(members)),
                    str(candidates),
                    _percent(parse_rate),
                    _percent(_mean_of(members, "copy_rate")),
                    _percent(_mean_of(members, "rejection_rate")),
                    "–" if mean_distance is None else f"{mean_distance:.2f}",
                )
            )
        )
    return Table(
        title="Leakage of generated examples (teacher side)",
        header=(
            "task",
            "method",
            "n",
            "aggregator",
            "units",
            "candidates",
            "parse rate %",
            "copy rate %",
            "rejected %",
            "mean distance",
        ),
        rows=tuple(table_rows),
        note=(
            "Distance = insert/delete edit distance from a generated example to the closest "
            "substring of its generation prompt, divided by the example's length (0 = copied, "
            "1 = nothing shared). Rates are averaged over units; parse rate pools candidates."
        ),
    )
