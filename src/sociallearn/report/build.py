"""Assemble the report: a self-contained report.html and a report.md with PNGs beside it."""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sociallearn.evaluation.paired import TestKind
from sociallearn.paper import PaperResults, load_paper_results
from sociallearn.report import plots
from sociallearn.report.analysis import Analysis, task_curves
from sociallearn.report.comparison_tables import aggregator_tables, methods_overview, paper_table
from sociallearn.report.dp import dp_figure, dp_table
from sociallearn.report.findings import build_findings
from sociallearn.report.load import RunData, load_run
from sociallearn.report.page import html_page
from sociallearn.report.privacy import (
    canary_groups,
    leakage_distances,
    leakage_table,
    privacy_table,
)
from sociallearn.report.rounds import canary_rounds_table, rounds_figure, rounds_table
from sociallearn.report.tables import Table, md_text, table_to_html, table_to_markdown

FILES_DIR = "report_files"


@dataclass(frozen=True)
class ReportPaths:
    """Where :func:`build_report` wrote its outputs."""

    html: Path
    markdown: Path
    figures: tuple[Path, ...]


@dataclass(frozen=True)
class Figure:
    name: str
    caption: str
    png: bytes


@dataclass
class Section:
    """A titled block of text, tables and figures, rendered to both formats."""

    anchor: str
    title: str
    intro: str = ""
    blocks: list[Table | Figure] = field(default_factory=list)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


def _values(rows: list[dict[str, Any]], name: str) -> list[str]:
    return sorted({str(row[name]) for row in rows if row.get(name) not in (None, "")})


def _header_facts(run: RunData) -> list[tuple[str, str]]:
    rows = run.results
    seeds = sorted({int(row["seed"]) for row in rows if row.get("seed") is not None})
    results_file = run.run_dir / "results.jsonl"
    if not results_file.is_file():
        results_file = run.run_dir / "privacy.jsonl"  # an audit-only directory
    written = dt.datetime.fromtimestamp(results_file.stat().st_mtime, tz=dt.UTC)
    return [
        ("Run directory", str(run.run_dir)),
        ("Student model", ", ".join(_values(rows, "student_model")) or "–"),
        ("Teacher model", ", ".join(_values(rows, "teacher_model")) or "–"),
        ("Tasks", ", ".join(_values(rows, "task")) or "–"),
        ("Methods", ", ".join(_values(rows, "method")) or "–"),
        ("Seeds", ", ".join(str(s) for s in seeds) or "–"),
        ("Answer mode", ", ".join(_values(rows, "answer_mode")) or "–"),
        ("Units", str(len(rows))),
        ("Results written", written.strftime("%Y-%m-%d %H:%M UTC")),
        ("Report built", dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ]


def _config_model(config_text: str | None) -> str | None:
    """The student's model spec from config.yaml, for runs whose rows do not record it."""
    if not config_text:
        return None
    import yaml

    try:
        config = yaml.safe_load(config_text)
    except yaml.YAMLError:
        return None
    if not isinstance(config, dict):
        return None
    model = config.get("student_model") or config.get("model")
    return str(model) if model else None


def _findings_section(run: RunData, analysis: Analysis, paper: PaperResults) -> Section:
    found = build_findings(
        analysis, paper, canary_groups(run.privacy), run.privacy, _config_model(run.config_text)
    )
    intro = (
        f"Each claim of the paper ({paper.source}) checked on this run: the paper's own reading "
        "of its numbers, our verdict, the evidence and the model we used. The paper's models "
        "(PaLM 2) are far larger than most open models, so a claim that is not held here may "
        "still hold for them."
    )
    if found.not_in_paper:
        intro += (
            f" The paper did not run {', '.join(found.not_in_paper)}: there are no reference "
            "numbers for it and it is left out of the findings."
        )
    blocks: list[Table | Figure] = [found.summary]
    blocks += [finding.table for finding in found.findings if finding.table is not None]
    return Section("findings", "Findings", intro, blocks)


def _dp_section(run: RunData) -> Section | None:
    """Differentially private teaching: accuracy against the accounted ε, with references."""
    table = dp_table(run.results, run.privacy)
    if table is None:
        return None
    blocks: list[Table | Figure] = [table]
    png = dp_figure(run.results)
    if png is not None:
        caption = "Accuracy against the accounted ε, per mechanism (error bars: SEM over seeds)."
        blocks.append(Figure("privacy_utility", caption, png))
    return Section(
        "dp",
        "Privacy and utility",
        "Each differentially private method at its accounted ε, beside the non-private "
        "methods of the same run, with what each ε covers and the canary audit's empirical bound.",
        blocks,
    )


def _rounds_section(run: RunData) -> Section | None:
    """Multi-round methods (feedback): accuracy, cost and canary exposure per round."""
    blocks: list[Table | Figure] = []
    table = rounds_table(run.results)
    if table is not None:
        blocks.append(table)
        png = rounds_figure(run.results)
        if png is not None:
            blocks.append(Figure("rounds", "Accuracy per teaching round (error bars: SEM).", png))
    canaries = canary_rounds_table(run.privacy)
    if canaries is not None:
        blocks.append(canaries)
    if not blocks:
        return None
    return Section(
        "rounds",
        "Teaching rounds",
        "Methods that teach in several rounds: the student's test accuracy after each round, the "
        "teachers' held-out accuracy that steers them, and what each round cost and leaked.",
        blocks,
    )


def _sections(run: RunData, analysis: Analysis) -> list[Section]:
    sections: list[Section] = []
    paper = analysis.paper
    if paper is not None:
        sections.append(_findings_section(run, analysis, paper))
    overview = methods_overview(analysis)
    if overview is not None:
        table, groups = overview
        sections.append(
            Section(
                "methods",
                "Methods compared with zero-shot",
                "Each task's zero-shot student against hand-written and generated instructions and "
                "the n-shot prompts.",
                [
                    table,
                    Figure(
                        "methods",
                        "Accuracy by method and task.",
                        plots.methods_bars(groups, analysis.level),
                    ),
                ],
            )
        )
    for task in analysis.tasks():
        section = Section(f"task-{_slug(task)}", f"Task: {task}")
        task_table = paper_table(analysis, task)
        if task_table is not None:
            section.blocks.append(task_table)
        curves = task_curves(analysis, task)
        if curves is not None and curves.series:
            section.blocks.append(
                Figure(
                    f"accuracy_{_slug(task)}",
                    f"{task}: accuracy against the number of examples (error bars: SEM).",
                    plots.accuracy_vs_n(curves, analysis.level),
                )
            )
        for agg_table, random, voting in aggregator_tables(analysis, task):
            section.blocks.append(agg_table)
            section.blocks.append(
                Figure(
                    f"aggregators_{_slug(task)}_{_slug(random.method)}",
                    f"{task}: random vs voting aggregator.",
                    plots.aggregator_bars(task, random, voting, analysis.level),
                )
            )
        if section.blocks:
            sections.append(section)
    rounds = _rounds_section(run)
    if rounds is not None:
        sections.append(rounds)
    private = _dp_section(run)
    if private is not None:
        sections.append(private)
    leak_table = leakage_table(run.results)
    if leak_table is not None:
        blocks: list[Table | Figure] = [leak_table]
        distances = leakage_distances(run.results)
        if distances:
            blocks.append(
                Figure(
                    "leakage_distances",
                    "Distribution of normalised distances of generated examples.",
                    plots.leakage_histogram(distances),
                )
            )
        sections.append(
            Section(
                "leakage",
                "Leakage of generated examples",
                "How much of the private examples the teachers' outputs repeat.",
                blocks,
            )
        )
    if run.privacy:
        groups_ = canary_groups(run.privacy)
        paper_ranks = (
            {(row.task, row.kind): row.mean_rank for row in paper.canaries.rows} if paper else None
        )
        sections.append(
            Section(
                "privacy",
                "Canary memorisation",
                "A canary planted in every teacher's private data is scored, behind the student's "
                "learned prompt, against reference canaries that were never planted.",
                [
                    privacy_table(groups_, paper.canaries if paper else None),
                    Figure(
                        "canary_ranks",
                        "Canary rank histograms per template.",
                        plots.rank_histograms(groups_, paper_mean_ranks=paper_ranks),
                    ),
                ],
            )
        )
    return sections


def _html_block(block: Table | Figure) -> str:
    if isinstance(block, Table):
        return table_to_html(block)
    data = base64.b64encode(block.png).decode("ascii")
    caption = html.escape(block.caption)
    return (
        f'<figure><img alt="{caption}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _markdown(
    facts: list[tuple[str, str]], sections: list[Section], config: str | None, note: str = ""
) -> str:
    lines = ["# sociallearn report", ""]
    lines += [f"- **{md_text(name)}:** {md_text(value)}" for name, value in facts]
    if note:
        lines += ["", md_text(note)]
    for section in sections:
        lines += ["", f"## {md_text(section.title)}", ""]
        if section.intro:
            lines += [md_text(section.intro), ""]
        for block in section.blocks:
            if isinstance(block, Table):
                lines += [table_to_markdown(block), ""]
            else:
                caption = md_text(block.caption).replace("[", "\\[").replace("]", "\\]")
                lines += [f"![{caption}]({FILES_DIR}/{block.name}.png)", ""]
    if config:
        # A fence longer than any backtick run inside the config, which could close it early.
        fence = "`" * max(3, max((len(r) for r in re.findall("`+", config)), default=0) + 1)
        lines += ["", "## Configuration", "", fence + "yaml", config.rstrip(), fence]
    return "\n".join(lines).rstrip() + "\n"


def stats_note(n_resamples: int, test: TestKind) -> str:
    """How the report's numbers and p-values were computed (shown under the header)."""
    if test == "paired":
        how = (
            "the p-values come from a one-sided paired permutation test, in the direction of "
            "the observed difference: both methods answered "
            "the same test items with the same seeds, so their outcomes are swapped within each "
            f"(item, seed) pair ({n_resamples:,} permutations)"
        )
    else:
        how = (
            "the p-values come from the paper's one-sided pooled permutation test: the items of "
            f"all seeds are pooled and split at random into piles of the original sizes "
            f"({n_resamples:,} permutations)"
        )
    return (
        "Accuracies are in percent: the mean over seeds, with the standard error of that mean in "
        f"brackets. Unless a table says otherwise, {how}. Each table's p-values are also shown "
        "Holm-corrected over that table's comparisons (p Holm), and a star marks p Holm < 0.05."
    )


def build_report(
    run_dir: Path,
    *,
    n_resamples: int = 10_000,
    seed: int = 0,
    compare_paper: bool = False,
    test: TestKind = "paired",
) -> ReportPaths:
    """Write ``report.html`` and ``report.md`` (figures in ``report_files/``) into ``run_dir``.

    ``n_resamples`` permutations per significance test (the paper uses 10^4); ``seed`` fixes them.
    ``compare_paper`` adds the paper's numbers beside ours and a Findings section; ``test``
    chooses the paired test (default) or the paper's pooled one for the tables.
    """
    run = load_run(Path(run_dir))
    paper = load_paper_results() if compare_paper else None
    analysis = Analysis(run.results, n_resamples=n_resamples, seed=seed, test=test, paper=paper)
    note = stats_note(n_resamples, test)
    facts = _header_facts(run)
    sections = _sections(run, analysis)
    files_dir = run.run_dir / FILES_DIR
    files_dir.mkdir(exist_ok=True)
    figures = []
    for section in sections:
        for block in section.blocks:
            if isinstance(block, Figure):
                path = files_dir / f"{block.name}.png"
                path.write_bytes(block.png)
                figures.append(path)
    body = [
        (section.anchor, section.title, section.intro, [_html_block(b) for b in section.blocks])
        for section in sections
    ]
    html_path = run.run_dir / "report.html"
    html_path.write_text(
        html_page(facts, body, run.config_text, n_resamples, stats_note=note), encoding="utf-8"
    )
    md_path = run.run_dir / "report.md"
    md_path.write_text(_markdown(facts, sections, run.config_text, note), encoding="utf-8")
    return ReportPaths(html=html_path, markdown=md_path, figures=tuple(figures))
