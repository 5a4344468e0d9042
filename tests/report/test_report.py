"""The report built from a synthetic run: contents, numbers, omissions, self-containment."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from report_fixtures import N_ITEMS, NS, SEEDS, TASKS, synthetic_results, write_jsonl
from sociallearn.errors import DataError
from sociallearn.evaluation.correction import holm
from sociallearn.evaluation.paired import compare_rows
from sociallearn.report import build_report, results_table, summarize
from sociallearn.report.analysis import Analysis
from sociallearn.report.comparison_tables import methods_overview, paper_table
from sociallearn.report.privacy import exposure_from_rank, uniform_mean_exposure
from sociallearn.report.summary import format_percent

RESAMPLES = 1_000  # fewer than the paper's 10^4 to keep the tests quick


def test_report_has_every_section_and_is_self_contained(synthetic_run_dir: Path) -> None:
    paths = build_report(synthetic_run_dir, n_resamples=RESAMPLES)
    page = paths.html.read_text(encoding="utf-8")
    for anchor in ("methods", "leakage", "privacy", *(f"task-{task}" for task in TASKS)):
        assert f'id="{anchor}"' in page
    assert page.count("<table>") == 1 + 2 * len(TASKS) + 2  # overview, O/G + voting, leak, canary
    # 1 overview + per task (accuracy + aggregator) + leakage + canary ranks
    assert len(paths.figures) == 1 + 2 * len(TASKS) + 2
    assert page.count('src="data:image/png;base64,') == len(paths.figures)
    assert not re.search(r"https?://", page)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert "llamacpp:smollm2-135m" in page  # header names the models
    assert "config.yaml" in page
    for figure in paths.figures:
        assert figure.read_bytes().startswith(b"\x89PNG")


def test_markdown_has_the_same_tables_and_links_the_pngs(synthetic_run_dir: Path) -> None:
    paths = build_report(synthetic_run_dir, n_resamples=RESAMPLES)
    markdown = paths.markdown.read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\((report_files/[^)]+\.png)\)", markdown)
    assert len(links) == len(paths.figures)
    for link in links:
        assert (synthetic_run_dir / link).is_file()
    for task in TASKS:
        assert f"## Task: {task}" in markdown
    assert (
        "| n | O | G (random) | p (G vs O) | p Holm | G (voting) | p (G vs O) | p Holm |"
        in markdown
    )
    assert "mean exposure, bits (SEM)" in markdown


def _mean_sem_of(rows: list[dict[str, object]]) -> tuple[float, float]:
    values = np.array([float(r["accuracy"]) for r in rows])  # type: ignore[arg-type]
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


def test_paper_table_cells_match_the_rows_and_stars_match_the_test() -> None:
    rows = synthetic_results()
    analysis = Analysis(rows, n_resamples=RESAMPLES)
    table = paper_table(analysis, "sms_spam")
    assert table is not None
    assert [row.cells[0] for row in table.rows] == ["0", *(str(n) for n in NS)]

    def pick(method: str, n: int, aggregator: str | None) -> list[dict[str, object]]:
        return [
            r
            for r in rows
            if r["task"] == "sms_spam"
            and r["method"] == method
            and r["n"] == n
            and r["aggregator"] == aggregator
        ]

    zero = _mean_sem_of(pick("zero_shot", 0, None))
    assert table.rows[0].cells[1] == format_percent(*zero)
    # The table's family: G (random and voting) against O at every n, Holm-corrected together.
    family = [
        (
            n,
            agg,
            compare_rows(
                pick("original_examples", n, None),
                pick("synthetic_examples", n, agg),
                n_resamples=RESAMPLES,
            ),
        )
        for n in NS
        for agg in ("random", "voting")
    ]
    corrected = dict(
        zip(
            ((n, agg) for n, agg, _ in family), holm([c.p_value for _, _, c in family]), strict=True
        )
    )
    for row in table.rows[1:]:
        n = int(row.cells[0])
        original = pick("original_examples", n, None)
        generated = pick("synthetic_examples", n, "random")
        assert row.cells[1] == format_percent(*_mean_sem_of(original))
        result = next(c for m, agg, c in family if m == n and agg == "random")
        assert result.kind == "paired"
        p_holm = corrected[(n, "random")]
        assert p_holm is not None and p_holm >= result.p_value
        expected = format_percent(*_mean_sem_of(generated))
        if p_holm < 0.05:
            expected += "*"
        assert row.cells[2] == expected
        assert row.cells[3] == f"{result.p_value:.4f}"
        assert row.cells[4] == f"{p_holm:.4f}"
    # The synthetic spam task drops G far below O at n >= 8, so those cells must be starred.
    starred = {row.cells[0] for row in table.rows if row.cells[2].endswith("*")}
    assert {"8", "16"} <= starred


def test_methods_overview_rows_and_zero_shot_tests() -> None:
    analysis = Analysis(synthetic_results(), n_resamples=RESAMPLES)
    overview = methods_overview(analysis)
    assert overview is not None
    table, groups = overview
    labels = [row.cells[0] for row in table.rows if not row.minor]
    assert labels == [
        "Zero-shot",
        "Hand-written instruction",
        "8-shot original (O)",
        "8-shot generated (G, random)",
        "8-shot generated (G, voting)",
        "Generated instruction (n = 8, random)",
    ]
    assert table.header == ("method", *sorted(TASKS))
    assert [group.task for group in groups] == sorted(TASKS)
    zero_bar = groups[0].bars[0]
    assert zero_bar.method == "zero_shot" and zero_bar.point is not None
    assert zero_bar.point.p_value is None
    original_bar = groups[0].bars[2]
    assert original_bar.point is not None and original_bar.point.p_value is not None
    # Every p-value row sits right under its accuracy row.
    assert all(
        table.rows[i + 1].minor for i, r in enumerate(table.rows[:-1]) if i > 0 and not r.minor
    )


def test_sections_without_data_are_left_out(tmp_path: Path) -> None:
    rows = [r for r in synthetic_results() if r["method"] in ("zero_shot", "original_examples")]
    for row in rows:
        row.pop("leakage")
        row.pop("predictions")  # counts alone must be enough for the tests
    write_jsonl(tmp_path / "results.jsonl", rows)
    paths = build_report(tmp_path, n_resamples=RESAMPLES)
    page = paths.html.read_text(encoding="utf-8")
    assert 'id="task-sms_spam"' in page
    for absent in ('id="leakage"', 'id="privacy"', "random vs voting", "Configuration"):
        assert absent not in page
    assert "p (G vs O)" not in page


def test_empty_results_give_a_report_that_says_so(tmp_path: Path) -> None:
    (tmp_path / "results.jsonl").write_text("", encoding="utf-8")
    paths = build_report(tmp_path)
    assert "No results to show yet." in paths.html.read_text(encoding="utf-8")
    assert paths.figures == ()


def test_text_from_the_rows_is_escaped(tmp_path: Path) -> None:
    rows = [
        {
            "task": "<b>evil</b>",
            "method": "zero_shot",
            "n": 0,
            "seed": s,
            "accuracy": 0.5,
            "n_items": 10,
            "n_correct": 5,
            "student_model": "<script>x</script>",
        }
        for s in range(2)
    ]
    write_jsonl(tmp_path / "results.jsonl", rows)
    page = build_report(tmp_path).html.read_text(encoding="utf-8")
    assert "<b>evil</b>" not in page and "&lt;b&gt;evil&lt;/b&gt;" in page
    assert "<script>" not in page


def test_bad_input_raises_data_errors_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"results\.jsonl"):
        build_report(tmp_path)
    (tmp_path / "results.jsonl").write_text('{"task": "a", "method": "m", "accuracy": 1}\n{oops\n')
    with pytest.raises(DataError, match=r"results\.jsonl: line 2"):
        build_report(tmp_path)
    (tmp_path / "results.jsonl").write_text(json.dumps({"task": "a", "accuracy": 1}) + "\n")
    with pytest.raises(DataError, match="method"):
        build_report(tmp_path)


def test_summarize_and_results_table_count_items() -> None:
    rows = synthetic_results()
    summaries = summarize(rows)
    expected_cells = len(TASKS) * (3 + len(NS) * 3)  # zero, hand, instr + n x (O, G random, G vote)
    assert len(summaries) == expected_cells
    first = summaries[0]
    assert (first.task, first.method, first.n) == (sorted(TASKS)[0], "zero_shot", 0)
    assert first.n_seeds == len(SEEDS)
    assert first.n_items_total == len(SEEDS) * N_ITEMS
    matching = [r for r in rows if r["task"] == first.task and r["method"] == "zero_shot"]
    assert first.n_correct_total == sum(int(r["n_correct"]) for r in matching)
    text = results_table(rows)
    lines = text.splitlines()
    assert len(lines) == 2 + expected_cells
    assert lines[0].startswith("| task") and "accuracy % (SEM)" in lines[0]
    assert f"{first.n_correct_total} / {first.n_items_total}" in lines[2]


def test_exposure_reference_values() -> None:
    assert exposure_from_rank(0, 1000) == pytest.approx(math.log2(1000))
    assert exposure_from_rank(999, 1000) == pytest.approx(0.0)
    # Mean exposure of a uniform rank, by direct averaging over the 1000 possible ranks.
    direct = sum(exposure_from_rank(r, 1000) for r in range(1000)) / 1000
    assert uniform_mean_exposure(1000) == pytest.approx(direct)
    assert uniform_mean_exposure(1000) == pytest.approx(1.436, abs=1e-3)


def test_privacy_table_counts_ranks_and_gives_the_uniform_reference() -> None:
    from report_fixtures import synthetic_privacy
    from sociallearn.report.privacy import canary_groups, privacy_table

    rows = synthetic_privacy()
    groups = canary_groups(rows)
    assert len(groups) == 6  # 3 templates x 2 methods
    table = privacy_table(groups)
    by_key = {(r.cells[1], r.cells[2]): r.cells for r in table.rows if not r.minor}
    for group in groups:
        members = [
            r for r in rows if r["template"] == group.template and r["method"] == group.method
        ]
        ranks = np.array([r["rank"] for r in members], dtype=float)
        cells = by_key[(group.template, group.method)]
        assert cells[3] == str(len(members))
        sem = ranks.std(ddof=1) / math.sqrt(len(ranks))
        assert cells[4] == f"{ranks.mean():.1f} ({sem:.1f})"
        assert cells[5] == str(int((ranks == 0).sum()))
        exposure_mean = float(cells[6].split()[0])
        assert exposure_mean == pytest.approx(np.mean([r["exposure"] for r in members]), abs=5e-3)
        known = [
            r["exposure_extrapolated"] for r in members if r["exposure_extrapolated"] is not None
        ]
        mean_text, _, coverage = cells[7].partition(" ")
        assert float(mean_text) == pytest.approx(np.mean(known), abs=5e-3)
        assert cells[8] == str(sum(r["canary_reached_student"] for r in members))
        partial = len(known) < len(members)
        assert coverage == (f"({len(known)} of {len(members)} runs)" if partial else "")
    reference = [r.cells for r in table.rows if r.minor]
    assert reference == [
        ("no memorisation, N = 1000", "", "", "", "499.5", "1 in 1000 runs", "1.44", "1.44", "")
    ]


def test_runner_variants_instruction_without_n_and_empty_leakage(tmp_path: Path) -> None:
    rows = synthetic_results()
    for row in rows:
        if row["method"] == "synthetic_instruction":
            row["n"], row["aggregator"] = 0, None  # an instruction written from no examples
        if row["leakage"] is None:
            row["leakage"] = {}  # methods that share nothing store an empty dict
        else:
            row["leakage"]["n_sampled"] = row["leakage"].pop("n_candidates")
    analysis = Analysis(rows, n_resamples=RESAMPLES)
    overview = methods_overview(analysis)
    assert overview is not None
    assert "Generated instruction" in [row.cells[0] for row in overview[0].rows]
    write_jsonl(tmp_path / "results.jsonl", rows)
    paths = build_report(tmp_path, n_resamples=RESAMPLES)
    markdown = paths.markdown.read_text(encoding="utf-8")
    leakage_lines = [line for line in markdown.splitlines() if line.startswith("| sms_spam | ")]
    # 10 leakage rows (5 n x 2 aggregators), each with 3 seeds x 16 candidates; none for zero-shot.
    assert len([line for line in leakage_lines if "| 48 |" in line]) == 10
    assert "zero_shot" not in "".join(leakage_lines)
