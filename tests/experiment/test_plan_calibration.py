from __future__ import annotations

from pathlib import Path

import pytest

from sociallearn.experiment.plan_calibration import Calibration, Kinds, calibrate, stored_timings
from sociallearn.experiment.store import ResultsStore
from sociallearn.experiment.units import UnitKey

RANDOM_0 = UnitKey("boolq", "synthetic_examples", 16, "random", 0)
RANDOM_1 = UnitKey("boolq", "synthetic_examples", 16, "random", 1)
ORIGINAL_0 = UnitKey("boolq", "original_examples", 16, None, 0)
ZERO_SHOT = UnitKey("boolq", "zero_shot", 0, None, 0)
SYNTHETIC = Kinds("boolq/synthetic_examples", "boolq")
VOTING = Kinds("boolq/synthetic_examples (candidates reused)", "boolq")
ORIGINAL = Kinds("boolq/original_examples", "boolq")
ZERO = Kinds("boolq/zero_shot", "boolq")


def test_ratios_are_summed_per_kind_of_work() -> None:
    estimated = {
        str(RANDOM_0): (SYNTHETIC, (1000.0, 500.0)),
        str(RANDOM_1): (SYNTHETIC, (1000.0, 500.0)),
        str(ZERO_SHOT): (ZERO, (0.0, 200.0)),
        str(ORIGINAL_0): (ORIGINAL, (0.0, 500.0)),  # estimated, not finished
    }
    measured = {
        str(RANDOM_0): (1900.0, 380.0),
        str(RANDOM_1): (1700.0, 340.0),
        str(ZERO_SHOT): (0.4, 160.0),
    }
    calibration = calibrate(estimated, measured)
    assert calibration.units == 3
    # Teaching of zero-shot (estimated 0 s) says nothing about writing candidates: left out.
    assert calibration.teaching == {"boolq/synthetic_examples": pytest.approx(1.8)}
    assert calibration.evaluation == {"boolq": pytest.approx((380 + 340 + 160) / 1200)}
    # A unit still to run gets each part scaled by its kind; a kind no finished unit measured
    # (the voting unit, whose candidates an earlier sibling wrote) keeps the plain estimate.
    assert calibration.apply(SYNTHETIC, (100.0, 120.0)) == pytest.approx(180.0 + 120.0 * 880 / 1200)
    assert calibration.apply(VOTING, (100.0, 120.0)) == pytest.approx(100.0 + 120.0 * 880 / 1200)
    described = calibration.describe()
    assert "3 finished units" in described
    assert "teaching boolq/synthetic_examples 1.8x" in described
    assert "evaluation boolq 0.7x" in described
    assert "scoring boolq 0.7x" in calibration.describe(evaluation="scoring")


def test_nothing_finished_leaves_the_estimate_alone() -> None:
    estimated = {str(RANDOM_0): (SYNTHETIC, (1000.0, 500.0))}
    calibration = calibrate(estimated, {})
    assert calibration == Calibration()
    assert calibration.units == 0
    assert calibration.apply(SYNTHETIC, (1000.0, 500.0)) == 1500.0


def test_stored_timings_read_finished_units_without_writing(tmp_path: Path) -> None:
    assert stored_timings(tmp_path / "none") == {}
    store = ResultsStore(tmp_path)
    store.claim("abc", "x: 1")
    store.save(
        str(RANDOM_0), {"unit": str(RANDOM_0), "timings": {"teach_s": 12.5, "eval_s": 3.0}}, []
    )
    store.save(str(ORIGINAL_0), {"unit": str(ORIGINAL_0)}, [])  # an older row: no timings
    store.save(
        "audit-run", {"unit": "run"}, [], "audit", [{"timings": {"teach_s": 1.0, "score_s": 2.0}}]
    )
    store.close()
    before = (tmp_path / "results.sqlite").stat().st_mtime_ns
    assert stored_timings(tmp_path) == {str(RANDOM_0): (12.5, 3.0)}
    assert stored_timings(tmp_path, "audit") == {"audit-run": (1.0, 2.0)}
    assert (tmp_path / "results.sqlite").stat().st_mtime_ns == before
