"""Report figures as PNG bytes, drawn with matplotlib's Agg canvas (no pyplot, no display).

Figures are 8 inches wide with 12 pt text so they stay readable when shown at laptop width.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sociallearn.report.analysis import Bar, BarGroup, Point, Series, TaskCurves
from sociallearn.report.privacy import CanaryGroup

WIDTH_IN = 8.0
DPI = 110
_COLORS = ("#1f5fa8", "#e07b00", "#2a9d3a", "#8e44ad", "#c0392b", "#7f6000", "#0e8c8c", "#555555")
_STYLE: dict[Any, Any] = {
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "legend.fontsize": 11,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


@contextmanager
def _figure(height_in: float, **kwargs: Any) -> Iterator[Any]:
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_STYLE):
        yield Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained", **kwargs)


def _png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def _pct(value: float) -> float:
    return 100 * value


def _err(sem: float) -> float:
    return 0.0 if math.isnan(sem) else 100 * sem


# One colour per (method, aggregator), the same in every figure.
_METHOD_COLORS: dict[tuple[str, str | None], str] = {
    ("zero_shot", None): "#6b6b6b",
    ("hand_written", None): "#8c6d1f",
    ("original_examples", None): "#1f5fa8",
    ("original_examples", "random"): "#1f5fa8",
    ("synthetic_examples", "random"): "#e07b00",
    ("synthetic_examples", "voting"): "#2a9d3a",
    ("synthetic_instruction", "random"): "#8e44ad",
    ("synthetic_instruction", "voting"): "#c0392b",
    ("synthetic_instruction", None): "#8e44ad",
}


_LEVEL_STYLES = {"zero_shot": "--", "hand_written": ":"}


def color_for(method: str, aggregator: str | None, fallback_index: int) -> str:
    return _METHOD_COLORS.get((method, aggregator), _COLORS[fallback_index % len(_COLORS)])


def _significant(point: Point | None, level: float) -> bool:
    """Starred as in the tables: on the Holm-corrected p where there is one."""
    if point is None:
        return False
    p_value = point.p_holm if point.p_holm is not None else point.p_value
    return p_value is not None and p_value < level


def _star(ax: Any, x: float, y: float, *, lift: float, fontsize: int, **style: Any) -> None:
    """The significance star above a point or bar top (``lift`` in points)."""
    ax.annotate(
        "*",
        (x, y),
        textcoords="offset points",
        xytext=(0, lift),
        ha="center",
        fontsize=fontsize,
        **style,
    )


def _star_handle(label: str) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([], [], linestyle="none", marker="$*$", markersize=11, color="black", label=label)


def _legend(fig: Any, handles: list[Any], ncol: int) -> None:
    fig.legend(handles=handles, loc="outside lower center", ncol=ncol, frameon=False)


def accuracy_vs_n(curves: TaskCurves, level: float) -> bytes:
    """Accuracy against n per series, SEM error bars, zero-shot and hand-written as lines."""
    ns = sorted({p.n for s in curves.series for p in s.points})
    position = {n: i for i, n in enumerate(ns)}
    with _figure(5.0) as fig:
        ax = fig.add_subplot()
        tops: list[float] = []
        bottoms: list[float] = []
        handles: list[Any] = []
        offsets = _offsets(len(curves.series), 0.1)
        any_star = False
        for index, (series, offset) in enumerate(zip(curves.series, offsets, strict=True)):
            color = color_for(series.method, series.aggregator, index)
            xs = [position[p.n] + offset for p in series.points]
            ys = [_pct(p.mean) for p in series.points]
            errs = [_err(p.sem) for p in series.points]
            handles.append(
                ax.errorbar(
                    xs,
                    ys,
                    yerr=errs,
                    marker="o",
                    markersize=6,
                    capsize=4,
                    linewidth=2,
                    color=color,
                    label=series.label,
                )
            )
            for x, y, e, point in zip(xs, ys, errs, series.points, strict=True):
                tops.append(y + e)
                bottoms.append(y - e)
                if _significant(point, level):
                    any_star = True
                    _star(ax, x, y + e, lift=1, fontsize=18, color=color)
            refs = [
                (x, _pct(p.reference))
                for x, p in zip(xs, series.points, strict=True)
                if p.reference is not None
            ]
            if refs:
                handles.append(
                    ax.plot(
                        [x for x, _ in refs],
                        [y for _, y in refs],
                        marker="D",
                        markersize=6,
                        markerfacecolor="white",
                        linestyle=":",
                        linewidth=1.4,
                        color=color,
                        label=f"{series.label} — paper",
                    )[0]
                )
                tops += [y for _, y in refs]
                bottoms += [y for _, y in refs]
        for index, level_line in enumerate(curves.levels):
            value = _pct(level_line.point.mean)
            handles.append(
                ax.axhline(
                    value,
                    color=color_for(level_line.method, level_line.aggregator, index + 3),
                    linestyle=_LEVEL_STYLES.get(level_line.method, "-."),
                    linewidth=2.2,
                    label=level_line.label,
                )
            )
            tops.append(value)
            bottoms.append(value)
            if level_line.point.reference is not None:
                reference = _pct(level_line.point.reference)
                handles.append(
                    ax.axhline(
                        reference,
                        color=color_for(level_line.method, level_line.aggregator, index + 3),
                        linestyle=(0, (1, 4)),
                        linewidth=1.4,
                        alpha=0.8,
                        label=f"{level_line.label} — paper",
                    )
                )
                tops.append(reference)
                bottoms.append(reference)
        _set_ylim(ax, bottoms, tops)
        ax.set_xticks(range(len(ns)), [str(n) for n in ns])
        if ns:
            ax.set_xlim(-0.5, len(ns) - 0.5)
        ax.set_xlabel("Number of examples in the student's prompt (n)")
        ax.set_ylabel("Accuracy (%)")
        ax.set_title(f"{curves.task}: accuracy vs n (mean ± SEM over seeds)")
        if any_star:
            handles.append(_star_handle(f"p Holm < {level:g} vs original, same n"))
        _legend(fig, handles, ncol=2)
        return _png(fig)


def _offsets(count: int, step: float) -> list[float]:
    return [(i - (count - 1) / 2) * step for i in range(count)]


def _set_ylim(ax: Any, bottoms: Sequence[float], tops: Sequence[float]) -> None:
    if not tops:
        ax.set_ylim(0, 100)
        return
    low = max(0.0, min(bottoms) - 5)
    high = min(108.0, max(tops) + 8)
    if high - low < 20:  # flat data: keep at least 20 points of scale so noise is not magnified
        middle = (high + low) / 2
        low = max(0.0, middle - 10)
        high = min(108.0, low + 20)
        low = max(0.0, high - 20)
    ax.set_ylim(low, high)


def _bars(
    ax: Any, groups: Sequence[tuple[str, Sequence[Bar]]], level: float, star_label: str
) -> list[Any]:
    """Grouped bars with SEM whiskers and a star over significant bars; returns legend handles."""
    template = groups[0][1] if groups else []
    width = 0.8 / max(1, len(template))
    handles: list[Any] = []
    any_star = False
    any_reference = False
    for index, spec in enumerate(template):
        color = color_for(spec.method, spec.aggregator, index)
        xs, ys, errs, points = [], [], [], []
        for group_index, (_, bars) in enumerate(groups):
            point = bars[index].point
            if point is None or math.isnan(point.mean):
                continue
            xs.append(group_index + (index - (len(template) - 1) / 2) * width)
            ys.append(_pct(point.mean))
            errs.append(_err(point.sem))
            points.append(point)
        handles.append(
            ax.bar(
                xs,
                ys,
                width=width * 0.92,
                yerr=errs,
                capsize=3,
                color=color,
                label=spec.label,
                error_kw={"elinewidth": 1.2},
            )
        )
        for x, y, e, point in zip(xs, ys, errs, points, strict=True):
            if _significant(point, level):
                any_star = True
                _star(ax, x, y + e, lift=0, fontsize=16)
        for group_index, (_, bars) in enumerate(groups):
            point = bars[index].point
            if point is not None and point.reference is not None:
                x = group_index + (index - (len(template) - 1) / 2) * width
                ax.plot(
                    [x - width * 0.42, x + width * 0.42],
                    [_pct(point.reference)] * 2,
                    color="black",
                    linewidth=2.4,
                    solid_capstyle="butt",
                )
                any_reference = True
    ax.set_xticks(range(len(groups)), [name for name, _ in groups])
    ax.set_ylim(0, 109)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("Accuracy (%)")
    ax.grid(axis="x", visible=False)
    if any_star:
        handles.append(_star_handle(star_label))
    if any_reference:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="black", linewidth=2.4, label="paper (PaLM 2-S)"))
    return handles


def methods_bars(groups: Sequence[BarGroup], level: float) -> bytes:
    """Zero-shot, hand-written, instruction and n-shot prompts side by side for every task."""
    with _figure(5.4) as fig:
        ax = fig.add_subplot()
        handles = _bars(
            ax, [(g.task, g.bars) for g in groups], level, f"p Holm < {level:g} vs zero-shot"
        )
        ax.set_title("Accuracy by method and task (mean ± SEM over seeds)")
        _legend(fig, handles, ncol=2)
        return _png(fig)


def aggregator_bars(task: str, random: Series, voting: Series, level: float) -> bytes:
    """Random vs voting at each n; stars mark voting cells that differ from random."""
    method = random.method
    groups = [
        (f"n = {r.n}", [Bar("random", method, "random", r), Bar("voting", method, "voting", v)])
        for r, v in zip(random.points, voting.points, strict=True)
    ]
    with _figure(4.2) as fig:
        ax = fig.add_subplot()
        handles = _bars(ax, groups, level, f"p Holm < {level:g}, voting vs random")
        ax.set_xlabel("Number of examples in the student's prompt")
        ax.set_title(f"{task}: random vs voting aggregator")
        _legend(fig, handles, ncol=3)
        return _png(fig)


def leakage_histogram(distances: dict[str, list[float]]) -> bytes:
    """Share of generated examples per normalised-distance bin, one outline per task."""
    import numpy as np

    edges = np.linspace(0.0, 1.0, 21)
    with _figure(4.6) as fig:
        ax = fig.add_subplot()
        for index, (task, values) in enumerate(distances.items()):
            weights = np.full(len(values), 100.0 / len(values))
            clipped = np.clip(np.asarray(values, dtype=float), 0.0, 1.0)
            ax.hist(
                clipped,
                bins=edges,
                weights=weights,
                histtype="step",
                linewidth=2.2,
                color=_COLORS[index % len(_COLORS)],
                label=f"{task} ({len(values)} examples)",
            )
        ax.set_xlim(0, 1)
        ax.set_xlabel("Normalised distance to the generation prompt (0 = copied, 1 = new)")
        ax.set_ylabel("Share of generated examples (%)")
        ax.set_title("How far generated examples are from the private examples they were based on")
        _legend(fig, ax.get_legend_handles_labels()[0], ncol=3)
        return _png(fig)


def rank_histograms(
    groups: Sequence[CanaryGroup],
    bins: int = 10,
    paper_mean_ranks: Mapping[tuple[str, str], float] | None = None,
) -> bytes:
    """Canary rank histograms per (task, template), methods side by side, uniform level dashed.

    ``paper_mean_ranks`` maps (task, kind) to the paper's mean rank, drawn as a vertical line.
    """
    panels: dict[tuple[str, str], list[CanaryGroup]] = {}
    for group in groups:
        panels.setdefault((group.task, group.template), []).append(group)
    ncols = 1 if len(panels) == 1 else 2
    nrows = math.ceil(len(panels) / ncols)
    with _figure(3.4 * nrows + 0.9) as fig:
        axes = fig.subplots(nrows, ncols, squeeze=False)
        methods = sorted({g.method for g in groups})
        for ax, ((task, template), members) in zip(axes.flat, panels.items(), strict=False):
            n_candidates = max(g.n_candidates for g in members)
            edges = [n_candidates * i / bins for i in range(bins + 1)]
            data = [list(g.ranks) for g in members]
            colors = [color_for(g.method, None, methods.index(g.method)) for g in members]
            labels = [g.method for g in members]
            ax.hist(data, bins=edges, color=colors, label=labels)
            for count in sorted({len(g.ranks) for g in members}):
                ax.axhline(count / bins, color="black", linestyle="--", linewidth=1.5)
            paper_rank = (paper_mean_ranks or {}).get((task, members[0].kind))
            if paper_rank is not None:
                ax.axvline(paper_rank, color="#c0392b", linestyle=":", linewidth=2.2)
            ax.set_title(f"{task}: {template}")
            ax.set_xlim(0, n_candidates)
            ax.set_xlabel("Canary rank (0 = most likely)")
            ax.set_ylabel("Runs")
        for ax in list(axes.flat)[len(panels) :]:
            ax.set_visible(False)
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        handles: list[Any] = [
            Patch(color=color_for(m, None, i), label=m) for i, m in enumerate(methods)
        ]
        handles.append(
            Line2D(
                [],
                [],
                color="black",
                linestyle="--",
                label=f"no memorisation: runs / {bins} per bin",
            )
        )
        if paper_mean_ranks:
            handles.append(
                Line2D(
                    [],
                    [],
                    color="#c0392b",
                    linestyle=":",
                    linewidth=2.2,
                    label="paper: mean rank, generated (PaLM 2-S)",
                )
            )
        _legend(fig, handles, ncol=2 if paper_mean_ranks else 3)
        return _png(fig)
