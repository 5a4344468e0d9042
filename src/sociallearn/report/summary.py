"""Accuracy per (task, method, n, aggregator) over seeds, and a compact text table of it."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sociallearn.evaluation.stats import mean_sem

GroupKey = tuple[str, str, int, str | None]
"""(task, method, n, aggregator) — the unit key without the seed."""

METHOD_ORDER = (
    "zero_shot",
    "hand_written",
    "original_examples",
    "synthetic_examples",
    "synthetic_instruction",
)
METHOD_LABELS = {
    "zero_shot": "Zero-shot",
    "hand_written": "Hand-written instruction",
    "original_examples": "Original examples (O)",
    "synthetic_examples": "Generated examples (G)",
    "synthetic_instruction": "Generated instruction",
}
AGGREGATOR_ORDER = ("random", "voting")


@dataclass(frozen=True)
class SummaryRow:
    """Accuracy of one (task, method, n, aggregator) cell over its seeds.

    ``mean`` and ``sem`` are fractions in [0, 1] (the SEM is over the per-seed accuracies, NaN
    with a single seed); the totals count every evaluated item over all seeds.
    """

    task: str
    method: str
    n: int
    aggregator: str | None
    mean: float
    sem: float
    n_seeds: int
    n_items_total: int
    n_correct_total: int

    @property
    def key(self) -> GroupKey:
        return (self.task, self.method, self.n, self.aggregator)


def method_rank(method: str) -> tuple[int, str]:
    """Sort key putting the built-in methods in the paper's order, then others by name."""
    if method in METHOD_ORDER:
        return (METHOD_ORDER.index(method), method)
    return (len(METHOD_ORDER), method)


def aggregator_rank(aggregator: str | None) -> tuple[int, str]:
    if aggregator is None:
        return (0, "")
    if aggregator in AGGREGATOR_ORDER:
        return (1 + AGGREGATOR_ORDER.index(aggregator), aggregator)
    return (1 + len(AGGREGATOR_ORDER), aggregator)


def method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method.replace("_", " "))


def _args_text(row: Mapping[str, Any]) -> str:
    args = row.get("method_args")
    if not isinstance(args, Mapping) or not args:
        return ""
    return ", ".join(f"{name}={args[name]}" for name in sorted(args))


def variant_names(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """Display name per (method, method_args text).

    A method keeps its plain name unless its rows carry different ``method_args``; then each
    variant is named "method (arg=value, ...)", so that variants are never averaged together.
    """
    variants: dict[str, set[str]] = {}
    for row in rows:
        variants.setdefault(str(row["method"]), set()).add(_args_text(row))
    names: dict[tuple[str, str], str] = {}
    for method, texts in variants.items():
        for text in texts:
            names[(method, text)] = f"{method} ({text})" if len(texts) > 1 and text else method
    return names


def row_key(row: Mapping[str, Any], names: Mapping[tuple[str, str], str] | None = None) -> GroupKey:
    """Group key of a results row; a missing n counts as 0 and an empty aggregator as None.

    ``names`` (from :func:`variant_names`) tells apart variants of one method.
    """
    aggregator = row.get("aggregator")
    method = str(row["method"])
    if names is not None:
        method = names.get((method, _args_text(row)), method)
    return (
        str(row["task"]),
        method,
        int(row.get("n") or 0),
        str(aggregator) if aggregator else None,
    )


def row_accuracy(row: Mapping[str, Any]) -> float:
    accuracy = row.get("accuracy")
    if isinstance(accuracy, int | float):
        return float(accuracy)
    return float(row["n_correct"]) / float(row["n_items"])


def group_rows(rows: Iterable[Mapping[str, Any]]) -> dict[GroupKey, list[Mapping[str, Any]]]:
    row_list = list(rows)
    names = variant_names(row_list)
    groups: dict[GroupKey, list[Mapping[str, Any]]] = {}
    for row in row_list:
        groups.setdefault(row_key(row, names), []).append(row)
    return groups


def sort_key(key: GroupKey) -> tuple[Any, ...]:
    task, method, n, aggregator = key
    return (task, method_rank(method), aggregator_rank(aggregator), n)


def summarize(rows: Iterable[Mapping[str, Any]]) -> list[SummaryRow]:
    """One :class:`SummaryRow` per (task, method, n, aggregator), in a stable, readable order."""
    summaries: list[SummaryRow] = []
    for key, members in sorted(group_rows(rows).items(), key=lambda item: sort_key(item[0])):
        stats = mean_sem([row_accuracy(row) for row in members])
        items = sum(int(row.get("n_items") or 0) for row in members)
        correct = sum(int(row.get("n_correct") or 0) for row in members)
        task, method, n, aggregator = key
        summaries.append(
            SummaryRow(
                task=task,
                method=method,
                n=n,
                aggregator=aggregator,
                mean=stats.mean,
                sem=stats.sem,
                n_seeds=stats.n,
                n_items_total=items,
                n_correct_total=correct,
            )
        )
    return summaries


def format_percent(mean: float, sem: float = math.nan, digits: int = 1) -> str:
    """'87.3 (0.9)' in percent; the SEM is left out when it is undefined."""
    if math.isnan(mean):
        return "–"
    text = f"{100 * mean:.{digits}f}"
    if not math.isnan(sem):
        text += f" ({100 * sem:.{digits}f})"
    return text


def results_table(rows: Iterable[Mapping[str, Any]]) -> str:
    """A Markdown table (readable as plain text) of accuracy per task, method, aggregator and n."""
    header = ("task", "method", "aggregator", "n", "accuracy % (SEM)", "seeds", "correct / items")
    lines = [header]
    for summary in summarize(rows):
        lines.append(
            (
                summary.task,
                summary.method,
                summary.aggregator or "–",
                str(summary.n),
                format_percent(summary.mean, summary.sem),
                str(summary.n_seeds),
                f"{summary.n_correct_total} / {summary.n_items_total}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

    def render(cells: tuple[str, ...]) -> str:
        return (
            "| "
            + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            + " |"
        )

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([render(lines[0]), separator, *(render(line) for line in lines[1:])])
