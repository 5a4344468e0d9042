"""Bad input to ``sociallearn export``: one ``error:`` line naming what to fix, exit status 2."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from export_fixtures import RecordedRun
from sociallearn.cli import app
from sociallearn.errors import CapabilityError
from sociallearn.export import export_run

runner = CliRunner()


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error:"), output
    return lines[0]


def test_unknown_unit_lists_close_matches(generated_run: RecordedRun) -> None:
    result = runner.invoke(
        app,
        [
            "export",
            str(generated_run.run_dir),
            "--unit",
            "sms_spam/original_example/n=2/-/seed=0",
            "--format",
            "text",
        ],
    )
    assert result.exit_code == 2
    line = _one_error_line(result.output)
    assert "no unit 'sms_spam/original_example/n=2/-/seed=0'" in line
    assert "closest: sms_spam/original_examples/n=2/-/seed=0" in line


def test_one_unit_by_key(generated_run: RecordedRun, tmp_path: Path) -> None:
    key = "sms_spam/zero_shot/n=0/-/seed=0"
    result = runner.invoke(
        app, ["export", str(generated_run.run_dir), "--unit", key, "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == ["sms_spam__zero_shot__n0__seed0.txt"]


def test_unknown_format_is_one_line(generated_run: RecordedRun) -> None:
    result = runner.invoke(app, ["export", str(generated_run.run_dir), "--format", "csv"])
    assert result.exit_code == 2
    assert "choose from text, json, lm-eval, inspect, parquet" in _one_error_line(result.output)


def test_not_a_run_directory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", str(tmp_path)])
    assert result.exit_code == 2
    assert "no results.sqlite or results.jsonl" in _one_error_line(result.output)


@pytest.mark.parametrize("missing", ["pandas", "pyarrow"])
def test_parquet_without_its_extra_names_the_extra(
    generated_run: RecordedRun, missing: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # makes `import <missing>` fail
    with pytest.raises(CapabilityError, match=r"pip install 'sociallearn\[parquet\]'"):
        export_run(generated_run.run_dir, "parquet", out_dir=tmp_path)
    result = runner.invoke(
        app, ["export", str(generated_run.run_dir), "--format", "parquet", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    line = _one_error_line(result.output)
    assert missing in line and "sociallearn[parquet]" in line


def test_load_results_without_pandas_names_the_extra(
    generated_run: RecordedRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sociallearn

    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(CapabilityError, match=r"load_results needs pandas.*\[parquet\]"):
        sociallearn.load_results(generated_run.run_dir)


@pytest.mark.parametrize("fmt", ["text", "carry"])
def test_a_store_that_is_not_sqlite_is_one_line(tmp_path: Path, fmt: str) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.sqlite").write_bytes(b"not a database, " * 256)
    out = tmp_path / "out"
    result = runner.invoke(app, ["export", str(run_dir), "--format", fmt, "--out", str(out)])
    assert result.exit_code == 2
    line = _one_error_line(result.output)
    assert f"{run_dir / 'results.sqlite'}: cannot be read" in line
    assert "expected a sociallearn store" in line
    assert not out.exists() or not any(out.iterdir())
