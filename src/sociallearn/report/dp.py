"""The report's privacy–utility view of differentially private teaching.

Every DP unit's row keeps its event log; ε is recomputed here from the log at the report's δ
(never read from a stored number), so the report and a resumed run always agree with the
accountant. Each line says what its ε covers: "selection" (the noisy vote picks among texts
written from private data; the text itself is not protected) or an end-to-end guarantee
("labels", "generation"). Audit rows of the same methods give the canary's exposure and the
empirical lower bound on ε, set beside the accounted ε.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sociallearn.evaluation.stats import mean_sem
from sociallearn.report.tables import Table, TableRow, md_text

Row = dict[str, Any]

DELTA = 1e-5
# The non-private references drawn beside the curves (when the run has them).
REFERENCES = ("zero_shot", "original_examples", "synthetic_examples")


@dataclass(frozen=True)
class DPPoint:
    """One (task, method variant, n, aggregator): accuracy over seeds at its accounted ε."""

    task: str
    method: str
    mechanism: str
    n: int
    aggregator: str
    covers: str
    epsilon: float
    accuracy: float
    accuracy_sem: float
    seeds: int
    copy_rate: float | None


def _epsilon(row: Row, delta: float) -> float:
    from sociallearn.privacy.accounting import PrivacyLedger

    events = (row.get("privacy") or {}).get("events") or []
    return PrivacyLedger.from_list(events).epsilon(delta) if events else 0.0


def _mechanism(row: Row) -> str:
    """The DP mechanism of a row: the method's name, or the private aggregator's."""
    aggregator = str(row.get("aggregator") or "")
    if aggregator.startswith("dp_"):
        return aggregator.split("(")[0]
    return str(row.get("method_name") or row["method"]).split("(")[0]


def dp_points(results: Sequence[Row], delta: float = DELTA) -> list[DPPoint]:
    groups: dict[tuple[str, str, int, str], list[Row]] = defaultdict(list)
    for row in results:
        if (row.get("privacy") or {}).get("events"):
            groups[(row["task"], row["method"], row["n"], row.get("aggregator") or "-")].append(row)
    points: list[DPPoint] = []
    for (task, method, n, agg), group in groups.items():
        accuracy = mean_sem([float(r["accuracy"]) for r in group])
        copies = [r["leakage"]["copy_rate"] for r in group if r.get("leakage")]
        covers = sorted({c for r in group for c in (r["privacy"].get("covers") or [])})
        points.append(
            DPPoint(
                task,
                method,
                _mechanism(group[0]),
                n,
                agg,
                ", ".join(covers) or "-",
                max(_epsilon(r, delta) for r in group),
                accuracy.mean,
                accuracy.sem,
                len(group),
                sum(copies) / len(copies) if copies else None,
            )
        )
    # Each mechanism's rows together, from the most private (smallest ε) up.
    return sorted(points, key=lambda p: (p.task, p.mechanism, p.n, p.epsilon, p.method))


def _canaries(privacy: Sequence[Row]) -> dict[tuple[str, str], tuple[float, int]]:
    """(task, method) -> (mean exposure, runs) over the audit's rows."""
    by: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row in privacy:
        by[(row["task"], row["method"])].append(float(row["exposure"]))
    return {k: (sum(v) / len(v), len(v)) for k, v in by.items()}


def _empirical(privacy: Sequence[Row], delta: float) -> dict[tuple[str, str], float]:
    from sociallearn.privacy.empirical_dp import audit_comparison

    out: dict[tuple[str, str], float] = {}
    for cell in audit_comparison(privacy, delta=delta):
        if cell.comparable:
            key = (cell.task, cell.method)
            out[key] = max(out.get(key, 0.0), cell.empirical.epsilon)
    return out


def _pct(mean: float, sem: float) -> str:
    return f"{100 * mean:.1f}%" + ("" if math.isnan(sem) else f" ({100 * sem:.1f})")


def dp_table(results: Sequence[Row], privacy: Sequence[Row], delta: float = DELTA) -> Table | None:
    points = dp_points(results, delta)
    if not points:
        return None
    exposure = _canaries(privacy)
    empirical = _empirical(privacy, delta) if privacy else {}
    rows: list[TableRow] = []
    for p in points:
        canary = exposure.get((p.task, p.method))
        bound = empirical.get((p.task, p.method))
        rows.append(
            TableRow(
                (
                    md_text(p.task),
                    md_text(p.method),
                    md_text(p.aggregator),
                    str(p.n),
                    md_text(p.mechanism),
                    md_text("selection ε" if p.covers == "selection" else p.covers),
                    f"{p.epsilon:.3g}",
                    f"{delta:g}",
                    _pct(p.accuracy, p.accuracy_sem),
                    "-" if p.copy_rate is None else f"{100 * p.copy_rate:.1f}%",
                    "-" if canary is None else f"{canary[0]:.2f} ({canary[1]} runs)",
                    "-" if bound is None else f"{bound:.3g}",
                )
            )
        )
    references = _reference_rows(results)
    return Table(
        "Differentially private teaching: accuracy against the accounted ε",
        (
            "task",
            "method",
            "aggregator",
            "n",
            "mechanism",
            "ε covers",
            "ε",
            "δ",
            "accuracy (SEM)",
            "copy rate",
            "canary exposure, bits",
            "empirical ε ≥",
        ),
        tuple(rows + references),
        note="ε is recomputed from each unit's stored event log (dp-accounting, the smaller of "
        "RDP and PLD) at δ; the largest over seeds is shown. 'selection ε' bounds only which "
        "candidate was picked: the picked text was written from private data and is screened by "
        "the gate, not by the noise. 'labels' and 'generation' are end-to-end teacher-level "
        "guarantees. The empirical bound comes from the canary audit of the same method "
        "(Clopper–Pearson on the canary's rank); it must stay below the accounted ε.",
    )


def _reference_rows(results: Sequence[Row]) -> list[TableRow]:
    out: list[TableRow] = []
    for task, method, stats in _references(results):
        out.append(
            TableRow(
                (
                    md_text(task),
                    method,
                    "-",
                    "-",
                    "non-private",
                    "-",
                    "∞",
                    "-",
                    _pct(stats[0], stats[1]),
                    "-",
                    "-",
                    "-",
                ),
                minor=True,
            )
        )
    return out


def _references(results: Sequence[Row]) -> list[tuple[str, str, tuple[float, float]]]:
    """(task, method, (mean, SEM)) of each non-private reference; synthetic examples once per
    aggregator (``voting`` is what ``dp_voting`` adds noise to; pooling it with ``random`` would
    hide the comparison)."""
    tasks = sorted({r["task"] for r in results if (r.get("privacy") or {}).get("events")})
    out: list[tuple[str, str, tuple[float, float]]] = []
    for task in tasks:
        for method in REFERENCES:
            by_aggregator: dict[str, list[float]] = defaultdict(list)
            for r in results:
                if r["task"] == task and r["method"] == method and not r.get("privacy"):
                    by_aggregator[str(r.get("aggregator") or "")].append(float(r["accuracy"]))
            for aggregator, accs in sorted(by_aggregator.items()):
                stats = mean_sem(accs)
                label = f"{method} ({aggregator})" if aggregator else method
                out.append((task, label, (stats.mean, stats.sem)))
    return out


def dp_figure(results: Sequence[Row], delta: float = DELTA) -> bytes | None:
    """Accuracy against ε (log scale), one line per mechanism and task; non-private methods as
    horizontal reference lines."""
    points = dp_points(results, delta)
    if not points:
        return None
    from sociallearn.report.plots import _figure, _png

    lines: dict[tuple[str, str], list[DPPoint]] = defaultdict(list)
    for p in points:
        lines[(p.task, p.mechanism)].append(p)
    with _figure(4.5) as fig:
        ax = fig.subplots()
        for (task, mechanism), pts in sorted(lines.items()):
            pts.sort(key=lambda p: p.epsilon)
            label = f"{task}: {mechanism}" + (
                " (selection ε)" if pts[0].covers == "selection" else ""
            )
            ax.errorbar(
                [max(p.epsilon, 1e-3) for p in pts],
                [100 * p.accuracy for p in pts],
                yerr=[0.0 if math.isnan(p.accuracy_sem) else 100 * p.accuracy_sem for p in pts],
                marker="o",
                capsize=3,
                label=label,
            )
        styles = {"zero_shot": ":", "original_examples": "--", "synthetic_examples": "-."}
        for task, method, (mean, _sem) in _references(results):
            ax.axhline(
                100 * mean,
                linestyle=styles[method.split(" ")[0]],
                color="#777777",
                linewidth=1.2,
                label=f"{task}: {method} (non-private)",
            )
        ax.set_xscale("log")
        ax.set_xlabel(f"accounted ε at δ = {delta:g} (log scale)")
        ax.set_ylabel("accuracy (%)")
        ax.legend(loc="best", fontsize=9)
        return _png(fig)
