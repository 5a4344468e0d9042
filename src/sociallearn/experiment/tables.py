"""The end-of-run table: method × n (× aggregator) -> accuracy, counts and leakage."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from sociallearn.evaluation.stats import mean_sem


def results_table(rows: Sequence[dict[str, Any]]) -> Table:
    groups: dict[tuple[str, str, int, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["task"], row["method"], row["n"], row.get("aggregator") or "-")].append(row)
    table = Table(title="results (accuracy, mean over seeds)")
    for col in (
        "task",
        "method",
        "n",
        "aggregator",
        "accuracy",
        "± sem",
        "correct/items",
        "seeds",
        "copy rate",
        "rejected",
        "mean dist.",
    ):
        table.add_column(
            col, justify="right" if col not in ("task", "method", "aggregator") else "left"
        )
    # Methods in the order the grid lists them (rows come in grid order): no name is special.
    first_seen: dict[str, int] = {}
    for row in rows:
        first_seen.setdefault(row["method"], len(first_seen))

    def order(item: tuple[tuple[str, str, int, str], Any]) -> tuple[str, int, int, str]:
        task, method, n, agg = item[0]
        return task, first_seen[method], n, agg

    for (task, method, n, agg), group in sorted(groups.items(), key=order):
        accs = [r["accuracy"] for r in group]
        sem = mean_sem(accs).sem
        correct = sum(r["n_correct"] for r in group)
        items = sum(r["n_items"] for r in group)
        leak = [r["leakage"] for r in group if r.get("leakage")]
        copy = _mean([lk["copy_rate"] for lk in leak])
        rejected = _mean([lk["rejection_rate"] for lk in leak])
        dist = _mean([lk["mean_distance"] for lk in leak if lk.get("mean_distance") is not None])
        table.add_row(
            # Text, not str: a task or method name from a user is never read as rich markup.
            Text(task),
            Text(method),
            str(n),
            Text(agg),
            f"{100 * statistics.fmean(accs):.1f}%",
            "-" if sem != sem else f"{100 * sem:.1f}",
            f"{correct}/{items}",
            str(len(group)),
            _pct(copy),
            _pct(rejected),
            "-" if dist is None else f"{dist:.2f}",
        )
    return table


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"
