"""load_results / load_predictions and the Parquet export (needs the ``parquet`` extra)."""

from __future__ import annotations

import json

import pytest

from export_fixtures import RecordedRun

pd = pytest.importorskip("pandas", reason="the 'parquet' extra (pandas) is not installed")

import sociallearn  # noqa: E402
from sociallearn.export import export_run  # noqa: E402


def _rows(run: RecordedRun) -> list[dict[str, object]]:
    lines = (run.run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_one_row_per_unit_with_flattened_fields(generated_run: RecordedRun) -> None:
    frame = sociallearn.load_results(generated_run.run_dir)
    rows = _rows(generated_run)
    assert len(frame) == len(rows) == 5
    assert set(frame["unit"]) == {r["unit"] for r in rows}
    assert "predictions" not in frame.columns
    assert "leakage" not in frame.columns  # None in rows without leakage: dotted columns only
    assert "leakage.copy_rate" in frame.columns and "params.teachers" in frame.columns
    by_unit = frame.set_index("unit")
    for row in rows:
        assert by_unit.loc[row["unit"], "accuracy"] == pytest.approx(row["accuracy"])
        assert by_unit.loc[row["unit"], "n_correct"] == row["n_correct"]
    zero = by_unit.loc["sms_spam/zero_shot/n=0/-/seed=0"]
    assert zero["prompt"] == "" and pd.isna(zero["leakage.copy_rate"])


def test_predictions_are_long_and_agree_with_the_units(generated_run: RecordedRun) -> None:
    units = sociallearn.load_results(generated_run.run_dir)
    predictions = sociallearn.load_predictions(generated_run.run_dir)
    assert len(predictions) == units["n_items"].sum() == 25
    assert {"unit", "item", "uid", "answer", "gold", "correct", "completion"} <= set(predictions)
    correct = predictions.groupby("unit")["correct"].sum()
    for unit, n_correct in units.set_index("unit")["n_correct"].items():
        assert correct[unit] == n_correct
    # The same five test items, in the same order, for every unit.
    orders = predictions.groupby("unit")["uid"].apply(tuple)
    assert orders.nunique() == 1


def test_parquet_round_trip(generated_run: RecordedRun, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("pyarrow", reason="the 'parquet' extra (pyarrow) is not installed")
    paths = export_run(generated_run.run_dir, "parquet", out_dir=tmp_path)
    assert [p.name for p in paths] == ["results.parquet", "predictions.parquet"]
    units = pd.read_parquet(paths[0])
    predictions = pd.read_parquet(paths[1])
    expected = sociallearn.load_results(generated_run.run_dir)
    assert list(units["unit"]) == list(expected["unit"])
    assert list(units["accuracy"]) == pytest.approx(list(expected["accuracy"]))
    assert list(units["prompt"]) == list(expected["prompt"])
    assert len(predictions) == 25 and predictions["correct"].dtype == bool
