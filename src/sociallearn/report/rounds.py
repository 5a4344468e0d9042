"""The report's view of multi-round methods: accuracy, cost and leakage per teaching round.

Rows of methods that report ``rounds`` (e.g. ``feedback``) carry one entry per iteration: the
test accuracy of that iteration's curriculum, the teachers' held-out accuracy, and what the
rounds that built it released, rejected, copied and cost. Audit rows carry the canary's rank
and exposure behind each iteration's prompt.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sociallearn.evaluation.stats import mean_sem
from sociallearn.report.tables import Table, TableRow, md_text

Row = dict[str, Any]


def _pct(values: Sequence[float]) -> str:
    stats = mean_sem(values)
    if stats.n == 0:
        return "-"
    sem = "" if stats.sem != stats.sem else f" ({100 * stats.sem:.1f})"
    return f"{100 * stats.mean:.1f}%{sem}"


def round_curves(results: Sequence[Row]) -> dict[tuple[str, str, int, str], dict[int, list[Row]]]:
    """(task, method, n, aggregator) -> iteration -> the per-round entries over seeds."""
    curves: dict[tuple[str, str, int, str], dict[int, list[Row]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for row in results:
        for entry in row.get("rounds") or ():
            key = (row["task"], row["method"], row["n"], row.get("aggregator") or "-")
            curves[key][int(entry["iteration"])].append(entry)
    return curves


def rounds_table(results: Sequence[Row]) -> Table | None:
    """Mean (SEM over seeds) test and held-out accuracy per iteration, with its cost."""
    curves = round_curves(results)
    if not curves:
        return None
    out: list[TableRow] = []
    for (task, method, n, agg), by_iteration in sorted(curves.items()):
        for iteration, entries in sorted(by_iteration.items()):
            heldout = [
                e["heldout_accuracy"] for e in entries if e.get("heldout_accuracy") is not None
            ]
            out.append(
                TableRow(
                    (
                        md_text(task),
                        md_text(method),
                        str(n),
                        md_text(agg),
                        str(iteration),
                        _pct([e["test_accuracy"] for e in entries]),
                        _pct(heldout),
                        f"{sum(e['chosen'] for e in entries)}/{len(entries)}",
                        _pct([e["copy_rate"] for e in entries]),
                        f"{sum(e['rejected'] for e in entries) / len(entries):.1f}",
                        f"{sum(e['tokens'] for e in entries) / len(entries):.0f}",
                    )
                )
            )
    return Table(
        "Accuracy per teaching round",
        (
            "task",
            "method",
            "n",
            "aggregator",
            "round",
            "test accuracy (SEM)",
            "teachers' held-out accuracy",
            "chosen (seeds)",
            "copy rate",
            "rejected by gate",
            "tokens",
        ),
        tuple(out),
        note="Round 0 is the one-shot curriculum; later rounds are feedback revisions. "
        "'chosen' counts the seeds whose student was given that round's curriculum (the best "
        "held-out accuracy). Copy rate and rejections are of the rounds that built it.",
    )


def canary_rounds_table(privacy: Sequence[Row]) -> Table | None:
    """Mean canary rank and exposure behind each round's prompt, per template and method."""
    groups: dict[tuple[str, str, str, int], list[Row]] = defaultdict(list)
    for row in privacy:
        for entry in row.get("rounds") or ():
            groups[(row["task"], row["template"], row["method"], int(entry["iteration"]))].append(
                entry
            )
    if not groups:
        return None
    out: list[TableRow] = []
    for (task, template, method, iteration), entries in sorted(groups.items()):
        ranks = mean_sem([float(e["rank"]) for e in entries])
        exposure = mean_sem([float(e["exposure"]) for e in entries])
        out.append(
            TableRow(
                (
                    md_text(task),
                    md_text(template),
                    md_text(method),
                    str(iteration),
                    str(len(entries)),
                    f"{ranks.mean:.0f}" + ("" if ranks.sem != ranks.sem else f" ({ranks.sem:.0f})"),
                    f"{exposure.mean:.2f}"
                    + ("" if exposure.sem != exposure.sem else f" ({exposure.sem:.2f})"),
                    str(sum(1 for e in entries if e["rank"] == 0)),
                )
            )
        )
    return Table(
        "Canary after every teaching round",
        (
            "task",
            "template",
            "method",
            "round",
            "runs",
            "mean rank (SEM)",
            "exposure, bits (SEM)",
            "rank 0",
        ),
        tuple(out),
        note="The canary scored behind each round's learned prompt: more rounds can leak more.",
    )


def rounds_figure(results: Sequence[Row]) -> bytes | None:
    """Test and held-out accuracy against the round, one line pair per (task, method, n, agg)."""
    curves = round_curves(results)
    if not curves:
        return None
    from sociallearn.report.plots import _figure, _png

    with _figure(4.2) as fig:
        ax = fig.subplots()
        for (task, method, n, agg), by_iteration in sorted(curves.items()):
            xs = sorted(by_iteration)
            test = [mean_sem([e["test_accuracy"] for e in by_iteration[x]]) for x in xs]
            label = f"{task} {method} n={n} {agg}"
            line = ax.errorbar(
                xs,
                [100 * s.mean for s in test],
                yerr=[0.0 if s.sem != s.sem else 100 * s.sem for s in test],
                marker="o",
                capsize=3,
                label=f"{label}: test",
            )
            held = [
                [
                    e["heldout_accuracy"]
                    for e in by_iteration[x]
                    if e.get("heldout_accuracy") is not None
                ]
                for x in xs
            ]
            if all(held):
                ax.plot(
                    xs,
                    [100 * mean_sem(h).mean for h in held],
                    linestyle="--",
                    color=line[0].get_color(),
                    label=f"{label}: teachers' held-out",
                )
        ax.set_xlabel("teaching round (0 = one-shot curriculum)")
        ax.set_ylabel("accuracy (%)")
        ax.set_xticks(sorted({x for c in curves.values() for x in c}))
        ax.legend(loc="best", fontsize=9)
        return _png(fig)
