"""Privacy numbers for the report: canary ranks and exposure, and leakage of generated examples."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sociallearn.evaluation.stats import mean_sem
from sociallearn.paper import PaperCanaries
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
    # Skew-normal tail exposure per run; None where a run has none (older rows, no fit).
    extrapolated: tuple[float | None, ...] = ()
    # Per run, whether a message to the student carried the secret; None where not recorded.
    reached: tuple[bool | None, ...] = ()

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
    """Mean exposure under a uniform rank: log2 N - log2(N!)/N (about 1.44 bits for N = 1000)."""
    return math.log2(n_candidates) - math.lgamma(n_candidates + 1) / math.log(2) / n_candidates


def _mean_sem_text(values: Sequence[float], digits: int) -> str:
    stats = mean_sem([float(v) for v in values])
    text = f"{stats.mean:.{digits}f}"
    return text if math.isnan(stats.sem) else f"{text} ({stats.sem:.{digits}f})"


def _count_known(flags: Sequence[bool | None]) -> str:
    known = [flag for flag in flags if flag is not None]
    return str(sum(known)) if known else "-"


def _mean_of_known(values: Sequence[float | None]) -> str:
    """Mean of the known values as text; says how many runs it covers when some have none."""
    known = [v for v in values if v is not None]
    if not known:
        return "-"
    mean = f"{sum(known) / len(known):.2f}"
    return mean if len(known) == len(values) else f"{mean} ({len(known)} of {len(values)} runs)"


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
        extrapolated = tuple(
            None if r.get("exposure_extrapolated") is None else float(r["exposure_extrapolated"])
            for r in members
        )
        reached = tuple(
            None if r.get("canary_reached_student") is None else bool(r["canary_reached_student"])
            for r in members
        )
        groups.append(
            CanaryGroup(
                task, template, kind, method, ranks, exposures, n_candidates, extrapolated, reached
            )
        )
    return sorted(groups, key=lambda g: (g.task, g.template, method_rank(g.method)))


def _paper_rows(groups: list[CanaryGroup], paper: PaperCanaries, width: int) -> list[TableRow]:
    """The paper's canary results for the (task, kind) cells we ran, padded to the header."""
    rows = []
    for task, kind in sorted({(g.task, g.kind) for g in groups}):
        ref = paper.get(task, kind)
        if ref is None:
            continue
        cells = (
            f"paper, {paper.name}",
            f"{task} {kind}s",
            "generated (PaLM 2-S)",
            str(ref.runs),
            f"{ref.mean_rank:g}",
            str(ref.rank_zero),
        )
        rows.append(TableRow(cells + ("",) * (width - len(cells)), minor=True))
    return rows


def privacy_table(groups: list[CanaryGroup], paper: PaperCanaries | None = None) -> Table:
    """The canary table; with ``paper``, its Tables 3 and 4 results for the same task and kind."""
    rows = []
    for group in groups:
        cells = (
            group.task,
            group.template,
            group.method,
            str(len(group.ranks)),
            _mean_sem_text(group.ranks, 1),
            str(group.rank_zero),
            _mean_sem_text(group.exposures, 2),
            _mean_of_known(group.extrapolated),
            _count_known(group.reached),
        )
        rows.append(TableRow(cells))
    # The reference a run without memorisation would give, once per candidate-set size.
    for n in sorted({group.n_candidates for group in groups}):
        reference = (
            f"no memorisation, N = {n}",
            "",
            "",
            "",
            f"{uniform_mean_rank(n):.1f}",
            f"1 in {n} runs",
            f"{uniform_mean_exposure(n):.2f}",
            f"{math.log2(math.e):.2f}",  # E[-log2 U] for a uniform tail probability U
            "",
        )
        rows.append(TableRow(reference, minor=True))
    header = (
        "task",
        "template",
        "method",
        "runs",
        "mean rank (SEM)",
        "# rank 0",
        "mean exposure, bits (SEM)",
        "extrapolated exposure, bits",
        "secret reached student",
    )
    note = ""
    if paper is not None:
        paper_rows = _paper_rows(groups, paper, len(header))
        rows += paper_rows
        if paper_rows:
            note = (
                f" Rows 'paper': {paper.name} of the paper ({paper.model}, N = "
                f"{paper.rows[0].n_candidates}); {paper.method_note}"
            )
    return Table(
        title="Canary memorisation: rank of the planted canary among N candidates",
        header=header,
        rows=tuple(rows),
        note=(
            "Rank 0 = the planted canary is more likely than every reference canary. Exposure = "
            "log2 N − log2(rank + 1), computed per run and then averaged. Without memorisation the "
            "rank is uniform on 0..N−1, which gives the reference row. Extrapolated exposure fits "
            "a skew-normal to the references' scores and reads the canary's tail probability, so "
            "it is not capped at log2 N: it tells how far beyond every reference a rank-0 canary "
            "lies. 'Secret reached student' counts runs in which a message to the student "
            "carried the canary's secret (always, for original examples)." + note
        ),
    )


def _leakage_rows(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Rows that carry leakage measurements (methods that share nothing store an empty dict)."""
    return [row for row in rows if isinstance(row.get("leakage"), Mapping) and row["leakage"]]


def _candidates(leakage: Mapping[str, Any]) -> int:
    """Candidate examples the teachers wrote, under whichever name the runner stored them."""
    for name in ("n_candidates", "n_sampled", "n_examined"):
        if leakage.get(name) is not None:
            return int(leakage[name])
    return 0


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
    # The method column only matters when more than one method produced candidates.
    show_method = len({key[1] for key in grouped}) > 1
    table_rows = []
    for key in sorted(grouped, key=sort_key):
        members = grouped[key]
        candidates = sum(_candidates(r["leakage"]) for r in members)
        parse_rate = _mean_of(members, "parse_rate")
        distances = [float(d) for r in members for d in (r["leakage"].get("distances") or [])]
        mean_distance = (
            sum(distances) / len(distances) if distances else _mean_of(members, "mean_distance")
        )
        task, method, n, aggregator = key
        cells = [task, *([method] if show_method else []), str(n), aggregator or "–"]
        cells += [
            str(candidates),
            _percent(parse_rate),
            _percent(_mean_of(members, "copy_rate")),
            _percent(_mean_of(members, "rejection_rate")),
            "–" if mean_distance is None else f"{mean_distance:.2f}",
        ]
        table_rows.append(TableRow(tuple(cells)))
    header = ["task", *(["method"] if show_method else []), "n", "aggregator"]
    header += ["candidates", "parsed %", "copied %", "rejected %", "mean distance"]
    only_method = "" if show_method else f" ({next(iter(grouped))[1]})"
    return Table(
        title=f"Leakage of generated examples{only_method}, over all seeds",
        header=tuple(header),
        rows=tuple(table_rows),
        note=(
            "Distance = insert/delete edit distance from a generated example to the closest "
            "substring of its generation prompt, divided by the example's length (0 = copied, "
            "1 = nothing shared). The parsed, copied and rejected shares are averaged over units."
        ),
    )
