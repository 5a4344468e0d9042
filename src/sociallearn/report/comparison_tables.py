"""The report's comparison tables: O vs G per n in the paper's layout, random vs voting, and
every method against zero-shot. Each table is one family of comparisons (p raw and Holm-
corrected); with a paper (``--compare-paper``) it carries the paper's values as grey rows."""

from __future__ import annotations

from sociallearn.report.analysis import (
    GENERATED,
    HAND_WRITTEN,
    INSTRUCTION,
    ORIGINAL,
    REFERENCE_N,
    ZERO_SHOT,
    Analysis,
    Bar,
    BarGroup,
    Pair,
    Point,
    Series,
    og_points,
)
from sociallearn.report.reference import GPT_INSTRUCTION, cell_reference, p_text, reference_text
from sociallearn.report.summary import GroupKey, aggregator_rank, method_label, method_rank
from sociallearn.report.tables import Table, TableRow


def _with_aggregator(label: str, aggregator: str | None, show: bool) -> str:
    return f"{label} ({aggregator})" if show and aggregator else label


def _paper_og_row(
    analysis: Analysis, task: str, n: int, o_aggs: list[str | None], g_aggs: list[str | None]
) -> TableRow | None:
    """The paper's values for one n of the paper-layout table, under the same columns."""
    paper = analysis.paper
    if paper is None or not paper.ran(task):
        return None
    if n == 0:
        zero = cell_reference(paper, task, ZERO_SHOT, 0, None)
        if zero is None:
            return None
        width = 1 + len(o_aggs) + 3 * len(g_aggs)
        return TableRow(("paper", reference_text(zero), *[""] * (width - 2)), minor=True)
    cells = ["paper"]
    found = False
    for agg in o_aggs:
        ref = cell_reference(paper, task, ORIGINAL, n, agg)
        found = found or ref is not None
        cells.append(reference_text(ref))
    for agg in g_aggs:
        ref = cell_reference(paper, task, GENERATED, n, agg)
        found = found or ref is not None
        # The paper's p compares G with O only for the random aggregator (Table 8).
        p = p_text(ref) if ref is not None and ref.vs == ORIGINAL else ""
        # Only the paper's star against O belongs in this table (Table 13's is against random).
        star = ref is not None and ref.vs == ORIGINAL
        cells += [reference_text(ref, star=star), p, ""]
    return TableRow(tuple(cells), minor=True) if found else None


def _other_teacher(analysis: Analysis, task: str) -> bool:
    """Whether the task's generated examples came from a teacher model other than the student's."""
    return any(
        row.get("teacher_model") and row.get("teacher_model") != row.get("student_model")
        for key in analysis.keys(task, GENERATED)
        for row in analysis.groups[key]
    )


def _paper_xs_row(
    analysis: Analysis, task: str, n: int, o_aggs: list[str | None], g_aggs: list[str | None]
) -> TableRow | None:
    """Table 11 (PaLM 2-XS teachers, PaLM 2-S student) under the G (random) column."""
    paper = analysis.paper
    if paper is None or not paper.ran(task):
        return None
    ref = paper.cell("table11", task, GENERATED, n, "random")
    if ref is None:
        return None
    cells = ["paper, XS teachers", *[""] * len(o_aggs)]
    for agg in g_aggs:
        if agg in (None, "random"):
            cells += [reference_text(ref), p_text(ref), ""]
        else:
            cells += ["", "", ""]
    return TableRow(tuple(cells), minor=True)


def paper_table(analysis: Analysis, task: str) -> Table | None:
    """The paper's layout: rows n, columns O and G per aggregator, each G with its p vs O."""
    o_aggs = analysis.aggregators(task, ORIGINAL)
    g_aggs = analysis.aggregators(task, GENERATED)
    if not o_aggs and not g_aggs:
        return None
    points = og_points(analysis, task)
    other_teacher = analysis.paper is not None and _other_teacher(analysis, task)
    header: list[str] = ["n"]
    header += [_with_aggregator("O", agg, len(o_aggs) > 1) for agg in o_aggs]
    for agg in g_aggs:
        header += [_with_aggregator("G", agg, True), "p (G vs O)", "p Holm"]
    ns = sorted({key[2] for m in (ORIGINAL, GENERATED) for key in analysis.keys(task, m)} - {0})
    zero_key = analysis.first(task, ZERO_SHOT)
    rows: list[TableRow] = []
    if zero_key is not None:
        zero_cell = analysis.cell(analysis.point(zero_key))
        rows.append(TableRow(("0", zero_cell, *[""] * (len(header) - 2))))
        paper_row = _paper_og_row(analysis, task, 0, o_aggs, g_aggs)
        if paper_row is not None:
            rows.append(paper_row)
    for n in ns:
        cells = [str(n)]
        for agg in o_aggs:
            cells.append(analysis.cell(points.get((task, ORIGINAL, n, agg))))
        for agg in g_aggs:
            point = points.get((task, GENERATED, n, agg))
            cells += [analysis.cell(point), analysis.p_cell(point), analysis.p_cell(point, True)]
        rows.append(TableRow(tuple(cells)))
        paper_rows = [_paper_og_row(analysis, task, n, o_aggs, g_aggs)]
        if other_teacher:
            paper_rows.append(_paper_xs_row(analysis, task, n, o_aggs, g_aggs))
        rows += [row for row in paper_rows if row is not None]
    note = "n = 0 is the zero-shot student. " + analysis.test_note(
        points.values(), "G against O at the same n"
    )
    if any(row.minor for row in rows) and analysis.paper is not None:
        note += (
            " Grey 'paper' rows: the paper's PaLM 2-S values (Tables 1 and 8, voting from "
            "Table 13), * and p as printed there (pooled test, uncorrected)."
        )
        if other_teacher:
            note += (
                " Our teachers ran another model than the student, so 'paper, XS teachers' rows "
                "add Table 11: PaLM 2-XS teachers, PaLM 2-S student, p against PaLM 2-S with "
                "originals."
            )
    return Table(
        title=f"{task}: accuracy % (SEM over seeds), original (O) vs generated (G) examples",
        header=tuple(header),
        rows=tuple(rows),
        note=note,
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
        pairs: list[Pair] = [((task, method, n, "random"), (task, method, n, "voting")) for n in ns]
        tested = analysis.family(pairs)
        rows: list[TableRow] = []
        random_points: list[Point] = []
        voting_points: list[Point] = []
        for pair in pairs:
            rand = analysis.point(pair[0])
            vote = analysis.point(pair[1], tested.get(pair))
            if rand is None or vote is None:
                continue
            random_points.append(rand)
            voting_points.append(vote)
            n = pair[0][2]
            cells = (
                str(n),
                analysis.cell(rand),
                analysis.cell(vote),
                analysis.p_cell(vote),
                analysis.p_cell(vote, True),
            )
            rows.append(TableRow(cells))
            if analysis.paper is not None and method == GENERATED and analysis.paper.ran(task):
                ref_rand = analysis.paper.cell("table13", task, GENERATED, n, "random")
                ref_vote = analysis.paper.cell("table13", task, GENERATED, n, "voting")
                if ref_rand is not None or ref_vote is not None:
                    row = ("paper", reference_text(ref_rand), reference_text(ref_vote))
                    rows.append(TableRow((*row, p_text(ref_vote), ""), minor=True))
        if not rows:
            continue
        note = analysis.test_note(voting_points, "voting against random at the same n")
        if any(row.minor for row in rows):
            note += " Grey 'paper' rows: Tables 12 and 13 of the paper (PaLM 2-S)."
        table = Table(
            title=f"{task}: random vs voting aggregator — {method_label(method)}",
            header=("n", "random", "voting", "p (voting vs random)", "p Holm"),
            rows=tuple(rows),
            note=note,
        )
        results.append(
            (
                table,
                Series("random", method, "random", tuple(random_points)),
                Series("voting", method, "voting", tuple(voting_points)),
            )
        )
    return results


Spec = tuple[str, str, int | None, str | None]
"""A row of the overview: (label, method, n or None for 'no n', aggregator)."""


def _overview_specs(analysis: Analysis) -> list[Spec]:
    all_keys = list(analysis.groups)
    original_ns = sorted({k[2] for k in all_keys if k[1] == ORIGINAL and k[2] > 0})
    ref_n = (
        REFERENCE_N if REFERENCE_N in original_ns else (original_ns[-1] if original_ns else None)
    )
    specs: list[Spec] = []
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


def _spec_key(analysis: Analysis, task: str, spec: Spec) -> GroupKey | None:
    _, method, n, agg = spec
    return analysis.first(task, method) if n is None else (task, method, n, agg)


def overview_pairs(analysis: Analysis) -> list[Pair]:
    """The overview's family: every method cell against zero-shot on the same task."""
    pairs: list[Pair] = []
    for spec in _overview_specs(analysis):
        if spec[1] == ZERO_SHOT:
            continue
        for task in analysis.tasks():
            zero_key = analysis.first(task, ZERO_SHOT)
            key = _spec_key(analysis, task, spec)
            if zero_key is not None and key is not None:
                pairs.append((zero_key, key))
    return pairs


def _paper_overview_row(analysis: Analysis, spec: Spec, tasks: list[str]) -> TableRow | None:
    paper = analysis.paper
    if paper is None:
        return None
    label, method, n, agg = spec
    cells = []
    for task in tasks:
        ref = cell_reference(paper, task, method, 0 if n is None else n, agg)
        # No stars: the paper's are against O or random, this table's against zero-shot.
        cells.append(reference_text(ref, star=False))
    if not any(cells):
        return None
    return TableRow((f"paper: {label}", *cells), minor=True)


def methods_overview(analysis: Analysis) -> tuple[Table, list[BarGroup]] | None:
    """The instruction table's layout: methods as rows, tasks as columns, tests vs zero-shot."""
    tasks = analysis.tasks()
    specs = _overview_specs(analysis)
    if not specs or not any(spec[1] == ZERO_SHOT for spec in specs) or len(specs) < 2:
        return None
    tested = analysis.family(overview_pairs(analysis))
    rows: list[TableRow] = []
    groups: dict[str, list[Bar]] = {task: [] for task in tasks}
    all_points: list[Point | None] = []
    for spec in specs:
        label, method, _, agg = spec
        cells, p_cells, holm_cells = [label], ["p vs zero-shot"], ["p Holm"]
        for task in tasks:
            zero_key = analysis.first(task, ZERO_SHOT)
            key = _spec_key(analysis, task, spec)
            result = tested.get((zero_key, key)) if zero_key and key else None
            point = analysis.point(key, result)
            all_points.append(point)
            cells.append(analysis.cell(point))
            p_cells.append(analysis.p_cell(point))
            holm_cells.append(analysis.p_cell(point, True))
            groups[task].append(Bar(label, method, agg, point))
        rows.append(TableRow(tuple(cells)))
        if method != ZERO_SHOT:
            rows.append(TableRow(tuple(p_cells), minor=True))
            rows.append(TableRow(tuple(holm_cells), minor=True))
        paper_row = _paper_overview_row(analysis, spec, tasks)
        if paper_row is not None:
            rows.append(paper_row)
        if method == INSTRUCTION and analysis.paper is not None:
            gpt = [
                analysis.paper.cell("table9", t, INSTRUCTION, label=GPT_INSTRUCTION) for t in tasks
            ]
            if any(gpt):
                texts = [reference_text(ref, star=False) for ref in gpt]
                rows.append(TableRow((f"paper: {GPT_INSTRUCTION}", *texts), minor=True))
    note = analysis.test_note(all_points, "each method against zero-shot on the same task")
    if analysis.paper is not None:
        note += (
            " Rows 'paper: …' give the paper's PaLM 2-S value for the same method and n (Tables "
            "8, 9 and 13); tasks the paper did not run have none."
        )
    table = Table(
        title="Methods compared with the zero-shot student: accuracy % (SEM over seeds)",
        header=("method", *tasks),
        rows=tuple(rows),
        note=note,
    )
    return table, [BarGroup(task, tuple(groups[task])) for task in tasks]
