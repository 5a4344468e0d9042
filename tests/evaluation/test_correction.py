"""Holm's correction against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from sociallearn.evaluation.correction import holm


def test_holm_hand_example() -> None:
    # Sorted: 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> the
    # running maximum keeps 0.06); back in input order.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_keeps_ties_equal() -> None:
    assert holm([0.3, 0.6]) == pytest.approx([0.6, 0.6])
    assert holm([0.02, 0.02, 0.02]) == pytest.approx([0.06, 0.06, 0.06])
    assert holm([0.9]) == pytest.approx([0.9])


def test_holm_skips_missing_tests() -> None:
    # Only two tests were run, so m = 2.
    assert holm([None, 0.01, math.nan, 0.04]) == [None, pytest.approx(0.02), None, 0.04]
    assert holm([]) == []


def test_holm_is_never_below_the_raw_p() -> None:
    raw = [0.001, 0.2, 0.049, 0.5, 0.012, 0.03]
    adjusted = holm(raw)
    assert all(a is not None and a >= p for a, p in zip(adjusted, raw, strict=True))


def test_holm_rejects_p_outside_zero_one() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.5, 1.5])
