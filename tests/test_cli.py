"""The CLI: bad input gives one clear line and exit code 2; a fake-model run prints the table."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_helpers import _cli, _one_error_line

ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--model", "gpt5:big"], "unknown model provider 'gpt5'"),
        (["--model", "llamacpp:/no/such/model.gguf"], "/no/such/model.gguf"),
        (["--task", "sms_spma"], "sms_spam"),
        (["--method", "synthetic"], "unknown method 'synthetic'"),
        (["--aggregator", "votin"], "--aggregator: aggregators[0]: unknown aggregator 'votin'"),
        (
            ["--n", "500", "--model", "fake", "--method", "original_examples"],
            "smallest teacher silo",
        ),
        (["--answer-mode", "vote"], "answer_mode"),
        (["--model-option", "weights"], "--model-option: expected KEY=VALUE, got 'weights'"),
        (
            ["--model", "fake", "--model-option", "weights=f32"],
            "'weights' is not an option of model provider 'fake'",
        ),
        (["--model-option", "weights=q3"], "option weights: expected one of f32, f16, bf16, q8_0"),
        (["--seed", "3", "--seeds", "2"], "--seed and --seeds: give one"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, args: list[str], expected: str) -> None:
    line = _one_error_line(_cli("run", "--out", str(tmp_path / "r"), "--limit", "2", *args))
    assert expected in line
    # Bad input is caught before any unit runs: no result was computed, then thrown away.
    results = tmp_path / "r" / "results.jsonl"
    assert not results.exists() or results.read_text() == ""


def test_unknown_model_option_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("tasks: [sms_spam]\nmodel: 'openai:m'\nmodel_options: {retries: 1}\n")
    line = _one_error_line(_cli("run", str(cfg), "--out", str(tmp_path / "r")))
    assert "'retries' is not an option of model provider 'openai'" in line


def test_csv_without_columns_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("message,kind\nhello,ham\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"tasks: [sms_spam]\nmodel: fake\ndata_file: {bad}\n")
    line = _one_error_line(_cli("run", str(cfg), "--out", str(tmp_path / "r")))
    assert "bad.csv" in line and "text" in line


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "tasks: [sms_spam]\nmethods: [zero_shot]\nmodel: 'openai:m'\nlimit: 2\n"
        "model_options: {base_url: 'http://127.0.0.1:9/v1', max_tries: 1, timeout: 2}\n"
    )
    line = _one_error_line(_cli("run", str(cfg), "--out", str(tmp_path / "r")))
    assert "127.0.0.1:9" in line


def test_aggregator_flag_replaces_the_configs_aggregators(tmp_path: Path) -> None:
    plan = _cli(
        *("run", "--model", "fake", "--method", "synthetic_examples", "--seeds", "1"),
        *("--aggregator", "class_balanced", "--aggregator", "voting", "--dry-run"),
        *("--out", str(tmp_path / "r")),
    )
    assert plan.returncode == 0, plan.stderr
    units = [line for line in plan.stdout.splitlines() if "synthetic_examples/" in line]
    assert len(units) == 2 and "/class_balanced/" in units[0] and "/voting/" in units[1]


def test_config_from_another_run_is_refused_and_nothing_is_lost(tmp_path: Path) -> None:
    out = tmp_path / "r"
    ok = _cli("run", "--model", "fake", "--method", "zero_shot", "--limit", "3", "--out", str(out))
    assert ok.returncode == 0, ok.stderr
    before = (out / "results.jsonl").read_text()
    line = _one_error_line(
        _cli("run", "--model", "fake", "--method", "zero_shot", "--limit", "4", "--out", str(out))
    )
    assert "different configuration" in line
    assert "differs: limit: 3 there, 4 here)" in line  # what to change, not only a hash
    assert (out / "results.jsonl").read_text() == before


def test_fake_run_prints_table_and_writes_report(tmp_path: Path) -> None:
    out = tmp_path / "r"
    result = _cli("run", "--model", "fake", "--limit", "4", "--teachers", "3", "--out", str(out))
    assert result.returncode == 0, result.stderr
    for method in ("zero_shot", "original_examples", "synthetic_examples", "synthetic_instruction"):
        assert method in result.stdout
    assert (out / "report.html").exists() and (out / "report.md").exists()


@pytest.mark.embedded
def test_dry_run_lists_units_without_running(tmp_path: Path) -> None:
    result = _cli("run", "--dry-run", "--out", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    assert "synthetic_examples/n=8/voting" in result.stdout and "model calls" in result.stdout
    # The embedded model's rates are measured (it is loaded), but no unit runs.
    assert "estimated wall time" in result.stdout
    assert not (tmp_path / "r").exists()


@pytest.mark.embedded
def test_dry_run_of_a_resumed_directory_is_scaled_by_its_finished_units(tmp_path: Path) -> None:
    out = str(tmp_path / "r")
    grid = ("--method", "synthetic_examples", "--aggregator", "random", "--n", "2")
    small = ("--limit", "4", "--teachers", "2", "--out", out)
    first = _cli("run", *grid, *small, "--seeds", "1")
    assert first.returncode == 0, first.stderr
    plan = _cli("run", *grid, *small, "--seeds", "2", "--dry-run")
    assert plan.returncode == 0, plan.stderr
    text = " ".join(plan.stdout.split())  # rich wraps long lines
    assert "scaled by this directory's 1 finished unit (measured ÷ estimated)" in text
    assert "teaching sms_spam/synthetic_examples" in text and "evaluation sms_spam" in text
    assert "scaled by the finished units" in text  # the wall-time table says what it rests on


def test_list_and_tasks_commands() -> None:
    listing = _cli("list")
    assert "synthetic_examples" in listing.stdout and "voting" in listing.stdout
    tasks = _cli("tasks")
    assert tasks.returncode == 0, tasks.stderr
    for name in ("sms_spam", "lambada", "boolq", "gsm8k", "random_insertion"):
        assert name in tasks.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--method", "synthetic"], "audit.methods[0]: unknown method 'synthetic'"),
        (["--template", "sms_spam-pin"], "'sms_spam-pin' is not a canary template"),
        (["--runs", "0"], "field 'audit.runs'"),
    ],
)
def test_bad_audit_input_is_one_clear_line(tmp_path: Path, args: list[str], expected: str) -> None:
    out = tmp_path / "a"
    line = _one_error_line(
        _cli("audit", "--model", "fake", "--task", "sms_spam", "--out", str(out), *args)
    )
    assert expected in line
    assert not (out / "privacy.jsonl").exists() or (out / "privacy.jsonl").read_text() == ""


def test_audit_method_and_template_options_narrow_the_audit(tmp_path: Path) -> None:
    cfg = tmp_path / "audit.yaml"
    cfg.write_text(
        "tasks: [sms_spam]\nmodel: fake\nteachers: 3\nsilo_size: 12\nheldout: 0\n"
        "synthesis: {constrained: false}\naudit: {n_references: 20, runs: 2, n: 2}\n"
    )
    out = tmp_path / "a"
    args = ("audit", str(cfg), "--out", str(out), "--template", "sms_spam-code")
    result = _cli(*args, "--method", "synthetic_examples")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("  done sms_spam/synthetic_examples/") == 2
    assert "original_examples" not in result.stdout
    # Adding the baseline later grows the same directory: the synthetic runs are kept.
    grown = _cli(*args, "--runs", "3")
    assert grown.returncode == 0, grown.stderr
    assert "2 of 6 audit runs done" in grown.stdout
    assert grown.stdout.count("  done ") == 4
