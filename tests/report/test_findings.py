"""--compare-paper: the paper's numbers beside ours, and the Findings section's verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from report_fixtures import claim_privacy, claim_results, synthetic_results, write_jsonl
from sociallearn.paper import load_paper_results
from sociallearn.report import build_report
from sociallearn.report.analysis import Analysis, task_curves
from sociallearn.report.comparison_tables import paper_table
from sociallearn.report.findings import build_findings
from sociallearn.report.plots import accuracy_vs_n
from sociallearn.report.privacy import canary_groups

RESAMPLES = 1_000


def _findings(rows: list[dict[str, Any]], privacy: list[dict[str, Any]]) -> dict[str, Any]:
    paper = load_paper_results()
    analysis = Analysis(rows, n_resamples=RESAMPLES, paper=paper)
    found = build_findings(analysis, paper, canary_groups(privacy), privacy)
    return {"by_id": {f.claim.id: f for f in found.findings}, "all": found}


def test_every_claim_gets_the_verdict_its_data_implies() -> None:
    result = _findings(claim_results(), claim_privacy())
    by_id = result["by_id"]
    assert {claim: by_id[claim].verdict for claim in "abcd"} == {
        "a": "held",
        "b": "held",
        "c": "held",
        "d": "held",
    }
    assert by_id["a"].evidence == "no significant difference on 2 of 3 tasks at n = 16"
    assert by_id["b"].evidence == "the instruction beats zero-shot on 2 of 3 tasks"
    assert by_id["a"].model == "student fake:student; teachers fake:teacher"
    # my_task is not in the paper: named once, in no claim.
    assert result["all"].not_in_paper == ("my_task",)
    for finding in by_id.values():
        assert finding.table is not None
        assert all(row.cells[0] != "my_task" for row in finding.table.rows)


def test_claim_tables_carry_effect_ci_and_both_p_values() -> None:
    table = _findings(claim_results(), claim_privacy())["by_id"]["a"].table
    rows = {row.cells[0]: row.cells for row in table.rows}
    assert set(rows) == {"boolq", "lambada", "sms_spam"}
    # The paper's Table 8 at n = 16 beside ours.
    assert rows["lambada"][1] == "88.4 / 89.0 (p 0.1747)"
    # G equals O item for item: effect 0, zero-width CI, p = 1.
    assert rows["lambada"][4:8] == ("+0.0", "[+0.0, +0.0]", "1.0000", "1.0000")
    spam = rows["sms_spam"]
    assert float(spam[4]) < -30  # G far below O
    low, high = (float(v) for v in spam[5].strip("[]").split(","))
    assert low <= float(spam[4]) <= high < 0
    assert float(spam[7]) < 0.05 and spam[9] == "G < O"
    assert "paired permutation test" in table.note and "Holm" in table.note
    bias = _findings(claim_results(), claim_privacy())["by_id"]["c"].table.rows[0].cells
    # 'not spam' answers after O (about the gold share: O is 90% right), after G (always), gold.
    share_o, share_g, gold = (float(v) for v in bias[9].split(" / "))
    assert 40 < share_o < 60 and share_g == 100.0 and gold == 50.0
    assert bias[-1] == "G < O, G answers 'not spam' more often"


def test_verdicts_not_held_and_not_tested() -> None:
    rows = [r for r in claim_results() if r["n"] != 16 and r["method"] != "synthetic_instruction"]
    by_id = _findings(rows, claim_privacy(generated_low=True))["by_id"]
    assert by_id["a"].verdict == "not tested" and by_id["a"].table is None
    assert by_id["b"].verdict == "not tested"
    assert by_id["c"].verdict == "held"  # spam still has n = 8
    assert by_id["d"].verdict == "not held"  # generated canaries rank far below chance
    only_generated = _findings(rows, claim_privacy(originals=False))["by_id"]["d"]
    assert only_generated.verdict == "not tested"
    assert "original_examples: not audited" in only_generated.evidence
    assert _findings(rows, [])["by_id"]["d"].verdict == "not tested"


def test_a_low_mean_rank_from_few_runs_is_not_called_below_chance() -> None:
    # Two runs at ranks 60 and 731 (a GSM8K audit): mean 395.5 is under 0.8 x 499.5, but two
    # uniform ranks fall that low a third of the time, so it is no evidence of memorisation.
    privacy = [r for r in claim_privacy() if r["run"] < 2]
    generated_rows = [r for r in privacy if r["method"] == "synthetic_examples"]
    for row, rank in zip(generated_rows, (60, 731), strict=True):
        row["rank"] = rank
    found = _findings(claim_results(), privacy)["by_id"]["d"]
    generated = next(r.cells for r in found.table.rows if r.cells[2] == "synthetic_examples")
    assert generated[5] == "395.5" and float(generated[8]) >= 0.05
    assert generated[-1] == "near chance (low, but not significantly below)"
    assert found.verdict == "held"


def test_report_with_compare_paper_has_findings_in_both_files(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "results.jsonl", claim_results())
    write_jsonl(tmp_path / "privacy.jsonl", claim_privacy())
    paths = build_report(tmp_path, n_resamples=RESAMPLES, compare_paper=True)
    page = paths.html.read_text(encoding="utf-8")
    markdown = paths.markdown.read_text(encoding="utf-8")
    assert 'id="findings"' in page and "## Findings" in markdown
    for text in (page, markdown):
        assert "The paper did not run my_task" in text
        assert "(a) 16 generated examples do as well as 16 original examples on most tasks" in text
        assert "paper, Tables 3 and 4" in text  # canary reference row
    # my_task still has its own section, with no paper rows.
    section = markdown.split("## Task: my_task")[1].split("## ")[0]
    assert "| *paper* |" not in section
    assert "| *paper* |" in markdown.split("## Task: lambada")[1].split("## ")[0]


def test_without_compare_paper_nothing_of_the_paper_appears(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "results.jsonl", claim_results())
    markdown = build_report(tmp_path, n_resamples=RESAMPLES).markdown.read_text(encoding="utf-8")
    assert "Findings" not in markdown and "*paper" not in markdown


def test_paper_rows_sit_under_our_rows_with_the_papers_numbers() -> None:
    analysis = Analysis(synthetic_results(), n_resamples=RESAMPLES, paper=load_paper_results())
    table = paper_table(analysis, "lambada")
    assert table is not None
    cells = [row.cells for row in table.rows]
    sixteen = next(i for i, c in enumerate(cells) if c[0] == "16")
    reference = cells[sixteen + 1]
    assert table.rows[sixteen + 1].minor
    # n | O | G (random) | p | p Holm | G (voting) | p | p Holm
    assert reference == ("paper", "88.4 (0.7)", "89.0 (0.2)", "0.1747", "", "88.8", "", "")
    assert "Tables 1 and 8" in table.note


def test_plots_draw_the_reference() -> None:
    rows = synthetic_results()
    plain = task_curves(Analysis(rows, n_resamples=200), "lambada")
    paper = task_curves(Analysis(rows, n_resamples=200, paper=load_paper_results()), "lambada")
    assert plain is not None and paper is not None
    original = next(s for s in paper.series if s.method == "original_examples")
    assert [p.reference for p in original.points] == pytest.approx(
        [0.8668, 0.873, 0.8756, 0.8836, 0.884]
    )
    assert accuracy_vs_n(plain, 0.05) != accuracy_vs_n(paper, 0.05)


def test_pooled_fallback_is_marked(tmp_path: Path) -> None:
    rows = synthetic_results()
    for row in rows:
        row.pop("predictions")
    table = paper_table(Analysis(rows, n_resamples=RESAMPLES), "sms_spam")
    assert table is not None
    assert all(row.cells[3].endswith("†") for row in table.rows[1:])
    assert "pooled unpaired test" in table.note and "predictions" in table.note


def test_pooled_test_on_request(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "results.jsonl", synthetic_results())
    paths = build_report(tmp_path, n_resamples=200, test="pooled")
    markdown = paths.markdown.read_text(encoding="utf-8")
    assert "the paper&#x27;s one-sided pooled permutation test" in markdown or (
        "the paper's one-sided pooled permutation test" in markdown
    )
    assert "†" not in markdown


def test_method_variants_are_not_averaged_together() -> None:
    from sociallearn.report import summarize

    rows = [r for r in synthetic_results() if r["method"] == "zero_shot"]
    variants = []
    for row in rows:
        for rounds in (1, 3):
            variants.append({**row, "method": "feedback", "method_args": {"rounds": rounds}})
    methods = {s.method for s in summarize(rows + variants)}
    assert methods == {"zero_shot", "feedback (rounds=1)", "feedback (rounds=3)"}
    # One variant alone keeps the plain name.
    single = [v for v in variants if v["method_args"]["rounds"] == 1]
    assert {s.method for s in summarize(single)} == {"feedback"}


def test_cli_report_compare_paper(tmp_path: Path) -> None:
    from sociallearn.cli import app

    write_jsonl(tmp_path / "results.jsonl", claim_results())
    runner = CliRunner()
    done = runner.invoke(app, ["report", str(tmp_path), "--compare-paper", "--permutations", "200"])
    assert done.exit_code == 0, done.output
    assert "## Findings" in (tmp_path / "report.md").read_text(encoding="utf-8")
    bad = runner.invoke(app, ["report", str(tmp_path), "--test", "bogus"])
    assert bad.exit_code == 2
    assert "--test bogus" in bad.output


def test_audit_only_directory_makes_a_report(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "privacy.jsonl", claim_privacy())
    (tmp_path / "config.yaml").write_text("model: fake:audit\n", encoding="utf-8")
    paths = build_report(tmp_path, n_resamples=200, compare_paper=True)
    markdown = paths.markdown.read_text(encoding="utf-8")
    assert "## Canary memorisation" in markdown
    assert "fake:audit (from config.yaml)" in markdown


def test_a_smaller_teacher_adds_the_papers_larger_student_rows() -> None:
    rows = synthetic_results()
    for row in rows:
        row["teacher_model"] = "llamacpp:tiny"  # teachers on another model than the student
    analysis = Analysis(rows, n_resamples=RESAMPLES, paper=load_paper_results())
    table = paper_table(analysis, "sms_spam")
    assert table is not None
    xs = [row.cells for row in table.rows if row.cells[0] == "paper, XS teachers"]
    # n = 16: Table 11's G for SMS spam, p against O-S; nothing under O or the voting column.
    assert xs[-1] == ("paper, XS teachers", "", "94.6*", "0.0002", "", "", "", "")
    assert len(xs) == 5 and "Table 11" in table.note
    same = paper_table(
        Analysis(synthetic_results(), n_resamples=RESAMPLES, paper=load_paper_results()), "sms_spam"
    )
    assert same is not None and "XS teachers" not in str(same.rows)


def test_tasks_where_examples_do_not_help_are_left_out_of_claim_a() -> None:
    def floor(rows: list[dict[str, Any]], tasks: set[str]) -> list[dict[str, Any]]:
        for row in rows:
            if row["task"] in tasks:
                row["predictions"] = [{**p, "correct": False} for p in row["predictions"]]
                row["accuracy"], row["n_correct"] = 0.0, 0
        return rows

    finding = _findings(floor(claim_results(), {"lambada"}), [])["by_id"]["a"]
    assert finding.evidence == (
        "no significant difference on 1 of 2 tasks at n = 16 "
        "(1 left out: original examples do not beat zero-shot)"
    )
    assert finding.verdict == "not held"  # boolq equal, sms_spam below: not a majority
    lambada = next(row.cells for row in finding.table.rows if row.cells[0] == "lambada")
    assert lambada[7] == "–" and lambada[-1].startswith("uninformative")
    everything = floor(claim_results(), {"lambada", "boolq", "sms_spam", "my_task"})
    assert _findings(everything, [])["by_id"]["a"].verdict == "not tested"
