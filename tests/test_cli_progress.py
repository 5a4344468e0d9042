"""The run's progress lines: a unit that taught fewer examples than asked says why."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from fake_runs import fake_run_config, result_rows
from sociallearn.cli_progress import RichReporter, shortfall_warning
from sociallearn.experiment.runner import run_experiment
from sociallearn.experiment.units import UnitKey

ONE_SYNTHETIC_UNIT = {"methods": ["synthetic_examples"], "aggregators": ["random"], "seeds": [0]}


def test_teachers_cut_off_by_max_tokens_are_counted_and_named(tmp_path: Path) -> None:
    # Each fake continuation repeats a whole SMS example (more than 8 pieces): at 8 tokens no
    # continuation ends an example, as when Lambada passages outgrow SMS spam's 80-token budget.
    config = fake_run_config(
        tmp_path, ONE_SYNTHETIC_UNIT, synthesis={"constrained": False, "max_tokens": 8}
    )
    run_experiment(config)
    [row] = result_rows(tmp_path)
    assert row["n_examples_taught"] == 0 and row["shortfall"] == 2
    leakage = row["leakage"]
    assert leakage["n_truncated"] == leakage["n_examined"] > 0
    warning = shortfall_warning(row)
    assert warning is not None
    assert warning.startswith("taught 0 of 2 examples: ")
    assert f"{leakage['n_truncated']} of {leakage['n_examined']}" in warning
    assert "raise synthesis.max_tokens" in warning


def test_a_full_budget_teaches_every_example_and_warns_of_nothing(tmp_path: Path) -> None:
    run_experiment(fake_run_config(tmp_path, ONE_SYNTHETIC_UNIT))
    [row] = result_rows(tmp_path)
    assert row["shortfall"] == 0 and row["leakage"]["n_truncated"] == 0
    assert shortfall_warning(row) is None


def test_a_shortfall_without_truncation_names_format_and_filters() -> None:
    row = {
        "n": 4,
        "shortfall": 3,
        "leakage": {"n_examined": 10, "n_malformed": 6, "n_truncated": 0, "n_rejected": 2},
    }
    assert shortfall_warning(row) == (
        "taught 1 of 4 examples: 6 of 10 teacher continuations were not in the task's format, "
        "2 examples were stopped by filters (the leakage gate)"
    )
    assert shortfall_warning({"n": 4, "shortfall": 4, "leakage": None}) == "taught 0 of 4 examples"
    clean = {"n_examined": 10, "n_malformed": 0, "n_truncated": 0, "n_rejected": 0}
    assert shortfall_warning({"n": 4, "shortfall": 1, "leakage": clean}) == (
        "taught 3 of 4 examples: no round released a new candidate (repeats, or a private vote "
        "without consensus)"
    )
    budget = {"n": 4, "shortfall": 2, "leakage": clean, "privacy": {"stopped_by_budget": True}}
    assert shortfall_warning(budget) == (
        "taught 2 of 4 examples: the privacy budget (max_epsilon) stopped teaching"
    )


def test_the_done_line_is_followed_by_the_warning() -> None:
    out = io.StringIO()
    key = UnitKey("sms_spam", "synthetic_examples", 16, "random", 0)
    row = {
        "accuracy": 0.5,
        "n_correct": 1,
        "n_items": 2,
        "timings": {"teach_s": 1.0, "eval_s": 2.0},
        "n": 16,
        "shortfall": 16,
        "leakage": {"n_examined": 5, "n_malformed": 5, "n_truncated": 5, "n_rejected": 0},
    }
    with RichReporter(Console(file=out, width=200, color_system=None)) as reporter:
        reporter.unit_finished(key, row)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"  done {key}: accuracy 0.500")
    assert lines[1] == (
        "  warning: taught 0 of 16 examples: 5 of 5 teacher continuations reached "
        "synthesis.max_tokens before an example ended; raise synthesis.max_tokens"
    )
