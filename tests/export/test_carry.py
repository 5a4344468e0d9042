"""``--format carry``: finished units without labels or item text; ``recover`` restores them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from export_fixtures import RecordedRun
from sociallearn.cli import app
from sociallearn.errors import UserError
from sociallearn.export import export_run
from sociallearn.export.parts import items_of_row, run_workbench

runner = CliRunner()


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _carry(run: RecordedRun, tmp_path: Path) -> Path:
    out = tmp_path / "carried"
    written = export_run(run.run_dir, "carry", out_dir=out)
    assert sorted(p.name for p in written) == ["config.yaml", "results.jsonl", "run.json"]
    return out


def _without_completion(row: dict[str, Any]) -> dict[str, Any]:
    kept = [{k: v for k, v in p.items() if k != "completion"} for p in row["predictions"]]
    return {**row, "predictions": kept}


def test_a_carry_holds_the_answers_but_no_labels_or_item_text(
    generated_run: RecordedRun, tmp_path: Path
) -> None:
    out = _carry(generated_run, tmp_path)
    carried = _rows(out / "results.jsonl")
    originals = _rows(generated_run.run_dir / "results.jsonl")
    assert [r["unit"] for r in carried] == [r["unit"] for r in originals]
    for row, original in zip(carried, originals, strict=True):
        assert row["predictions"] == [
            {"uid": p["uid"], "answer": p["answer"]} for p in original["predictions"]
        ]
        assert {k: v for k, v in row.items() if k != "predictions"} == {
            k: v for k, v in original.items() if k != "predictions"
        }
    text = (out / "results.jsonl").read_text(encoding="utf-8")
    bench = run_workbench(generated_run.run_dir)
    for row in originals:
        for item in items_of_row(row, bench, generated_run.run_dir):
            assert all(str(value) not in text for value in item.fields.values())


def test_recover_puts_the_labels_back_and_the_report_reads_them(
    scored_run: RecordedRun, tmp_path: Path
) -> None:
    originals = _rows(scored_run.run_dir / "results.jsonl")
    outcomes = {p["correct"] for row in originals for p in row["predictions"]}
    assert outcomes == {True, False}  # both kinds are restored, not one guessed for all
    out = _carry(scored_run, tmp_path)
    result = runner.invoke(app, ["recover", str(out)])
    assert result.exit_code == 0, result.output
    assert f"with {len(originals)} units" in result.output
    assert _rows(out / "results.jsonl") == [_without_completion(r) for r in originals]
    assert (out / "results.sqlite").is_file()
    assert runner.invoke(app, ["report", str(out)]).exit_code == 0


def test_a_carry_that_disagrees_with_the_data_changes_nothing(
    scored_run: RecordedRun, tmp_path: Path
) -> None:
    out = _carry(scored_run, tmp_path)
    rows = _rows(out / "results.jsonl")
    originals = _rows(scored_run.run_dir / "results.jsonl")
    # An answer that was right, changed: the restored count no longer matches the stored one.
    index, row = next((i, r) for i, r in enumerate(originals) if r["n_correct"] > 0)
    position = next(k for k, p in enumerate(row["predictions"]) if p["correct"])
    rows[index]["predictions"][position]["answer"] = "not an answer"
    tampered = "".join(json.dumps(r) + "\n" for r in rows)
    (out / "results.jsonl").write_text(tampered, encoding="utf-8")
    result = runner.invoke(app, ["recover", str(out)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert row["unit"] in result.output.replace("\n", "")
    assert f"the run stored {row['n_correct']}" in " ".join(result.output.split())
    assert not (out / "results.sqlite").exists()
    assert (out / "results.jsonl").read_text(encoding="utf-8") == tampered


def test_an_unrecovered_carry_is_refused_where_correctness_is_read(
    generated_run: RecordedRun, tmp_path: Path
) -> None:
    out = _carry(generated_run, tmp_path)
    # Read as it is, every answer would count as wrong: the report says to recover instead.
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 2
    assert "carry no labels" in result.output and "sociallearn recover" in result.output
    from sociallearn.errors import DataError
    from sociallearn.export.source import read_rows

    with pytest.raises(DataError, match="carry no labels"):
        read_rows(out)


def test_a_carry_is_never_written_over_a_run_directory(
    generated_run: RecordedRun, tmp_path: Path
) -> None:
    before = (generated_run.run_dir / "results.jsonl").read_bytes()
    with pytest.raises(UserError, match="is a run directory"):
        export_run(generated_run.run_dir, "carry", out_dir=generated_run.run_dir)
    with pytest.raises(UserError, match="--unit"):
        export_run(generated_run.run_dir, "carry", unit="x", out_dir=tmp_path / "c")
    assert (generated_run.run_dir / "results.jsonl").read_bytes() == before


def test_recover_names_the_data_it_cannot_find(scored_run: RecordedRun, tmp_path: Path) -> None:
    out = _carry(scored_run, tmp_path)
    config = out / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "data_dir: ../nowhere\n")
    result = runner.invoke(app, ["recover", str(out)])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "nowhere: folder not found from here; point --data-dir at the run's data" in text
    assert not (out / "results.sqlite").exists()
    # With the data named, it recovers.
    result = runner.invoke(app, ["recover", str(out), "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output


def test_a_carry_that_cannot_be_written_is_one_error(
    generated_run: RecordedRun, tmp_path: Path
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with pytest.raises(UserError, match="a-file: cannot write the carry"):
        export_run(generated_run.run_dir, "carry", out_dir=blocked)
