"""Statistics checked against cases computed by hand or by full enumeration."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from sociallearn.evaluation.stats import (
    bootstrap_ci,
    compare,
    item_outcomes,
    mean_sem,
    permutation_test,
)


def test_mean_sem_hand_example() -> None:
    # values 2, 4, 4, 6: mean 4; squared deviations 4+0+0+4 = 8; variance 8/3; sem sqrt(8/3)/2.
    result = mean_sem([2.0, 4.0, 4.0, 6.0])
    assert result.mean == pytest.approx(4.0)
    assert result.sem == pytest.approx(math.sqrt(8 / 3) / 2)
    assert result.n == 4


def test_mean_sem_small_samples() -> None:
    one = mean_sem([0.7])
    assert one.mean == pytest.approx(0.7)
    assert math.isnan(one.sem)
    assert one.n == 1
    empty = mean_sem([])
    assert math.isnan(empty.mean)
    assert math.isnan(empty.sem)
    assert empty.n == 0


def _enumerated_p(baseline: list[int], method: list[int], alternative: str) -> Fraction:
    """p-value by listing every way to pick which pooled items form the method's pile."""
    pooled = baseline + method
    n_method = len(method)
    observed = Fraction(sum(method), len(method)) - Fraction(sum(baseline), len(baseline))
    hits = total = 0
    for chosen in itertools.combinations(range(len(pooled)), n_method):
        chosen_set = set(chosen)
        pile_m = [pooled[i] for i in chosen]
        pile_b = [pooled[i] for i in range(len(pooled)) if i not in chosen_set]
        diff = Fraction(sum(pile_m), len(pile_m)) - Fraction(sum(pile_b), len(pile_b))
        total += 1
        if (alternative == "greater" and diff >= observed) or (
            alternative == "less" and diff <= observed
        ):
            hits += 1
    return Fraction(hits, total)


@pytest.mark.parametrize(
    ("baseline", "method"),
    [
        ([1, 0, 0], [1, 1, 0, 1]),  # method better: 3/4 vs 1/3
        ([1, 1, 1, 0, 1], [0, 0, 1, 0]),  # method worse: 1/4 vs 4/5
        ([1, 0, 1, 0], [0, 1, 1, 0]),  # equal accuracies
        ([0.2, 0.9, 0.4], [0.8, 0.3, 1.0, 0.7]),  # non-binary outcomes work too
    ],
)
def test_permutation_test_matches_enumeration(baseline: list[int], method: list[int]) -> None:
    result = permutation_test(baseline, method)
    # 7 or 9 pooled items give at most 126 splits, far below 10^4: scipy must enumerate them all.
    assert result.exact
    assert result.observed_diff == pytest.approx(np.mean(method) - np.mean(baseline))
    expected_direction = "greater" if result.observed_diff >= 0 else "less"
    assert result.alternative == expected_direction
    if all(v in (0, 1) for v in baseline + method):
        expected = float(_enumerated_p(list(baseline), list(method), expected_direction))
        assert result.p_value == pytest.approx(expected, abs=1e-12)


def test_permutation_test_hand_computed_tiny_case() -> None:
    # baseline [0, 0], method [1, 1]: of the C(4, 2) = 6 splits only the observed one puts both
    # ones in the method's pile, so the one-sided p is exactly 1/6.
    result = permutation_test([0, 0], [1, 1])
    assert result.p_value == pytest.approx(1 / 6)
    assert result.observed_diff == pytest.approx(1.0)
    assert result.alternative == "greater"


def test_permutation_test_real_valued_enumeration() -> None:
    baseline = [0.2, 0.9, 0.4]
    method = [0.8, 0.3, 1.0, 0.7]
    pooled = baseline + method
    observed = np.mean(method) - np.mean(baseline)
    diffs = []
    for chosen in itertools.combinations(range(7), 4):
        rest = [i for i in range(7) if i not in chosen]
        diffs.append(np.mean([pooled[i] for i in chosen]) - np.mean([pooled[i] for i in rest]))
    expected = np.mean(np.asarray(diffs) >= observed - 1e-12)
    assert permutation_test(baseline, method).p_value == pytest.approx(expected)


def test_equal_accuracies_give_p_near_half() -> None:
    rng = np.random.default_rng(1)
    outcomes = (rng.random(500) < 0.7).astype(float)
    baseline = outcomes.copy()
    method = rng.permutation(outcomes)  # same 70% accuracy, different item order
    result = permutation_test(baseline, method, n_resamples=10_000, seed=3)
    assert result.observed_diff == pytest.approx(0.0)
    assert not result.exact
    # The null puts some mass on a difference of exactly 0, so p sits slightly above one half.
    assert 0.5 <= result.p_value < 0.56


def test_clearly_different_accuracies_give_small_p() -> None:
    baseline = [1.0] * 50 + [0.0] * 50  # 50%
    method = [1.0] * 80 + [0.0] * 20  # 80%
    result = permutation_test(baseline, method, n_resamples=10_000, seed=0)
    assert result.alternative == "greater"
    assert result.p_value < 0.001
    assert result.significant()
    worse = permutation_test(method, baseline, n_resamples=10_000, seed=0)
    assert worse.alternative == "less"
    assert worse.p_value < 0.001
    assert worse.observed_diff == pytest.approx(-0.3)


def test_permutation_test_is_reproducible_and_rejects_empty() -> None:
    a = [1.0] * 30 + [0.0] * 30
    b = [1.0] * 36 + [0.0] * 24
    assert permutation_test(a, b, seed=5).p_value == permutation_test(a, b, seed=5).p_value
    with pytest.raises(ValueError, match="at least one outcome"):
        permutation_test([], b)


def test_sampled_p_close_to_exact_hypergeometric_value() -> None:
    # With binary outcomes the null is hypergeometric: the method's pile of 60 draws from 60+60
    # items with 66 successes. The observed pile holds 36 successes.
    from scipy.stats import hypergeom

    exact = float(hypergeom(120, 66, 60).sf(35))  # P(X >= 36)
    sampled = permutation_test([1.0] * 30 + [0.0] * 30, [1.0] * 36 + [0.0] * 24, seed=2)
    assert sampled.p_value == pytest.approx(exact, abs=0.015)


def test_bootstrap_ci_contains_mean_and_handles_small_samples() -> None:
    values = [0.61, 0.72, 0.65, 0.70, 0.68, 0.59, 0.74]
    low, high = bootstrap_ci(values, confidence=0.95, n_resamples=2_000, seed=0)
    assert low < float(np.mean(values)) < high
    assert min(values) <= low and high <= max(values)
    narrow = bootstrap_ci(values, confidence=0.5, n_resamples=2_000, seed=0)
    assert high - low > narrow.high - narrow.low
    assert all(math.isnan(v) for v in bootstrap_ci([0.5]))
    assert bootstrap_ci([0.4, 0.4, 0.4]) == (0.4, 0.4)


def _row(correct: int, total: int, with_predictions: bool) -> dict[str, object]:
    row: dict[str, object] = {
        "unit": "t/m/n=1/random/seed=0",
        "accuracy": correct / total,
        "n_items": total,
        "n_correct": correct,
    }
    if with_predictions:
        row["predictions"] = [
            {"uid": f"u{i}", "correct": i < correct, "answer": "a", "gold": "a"}
            for i in range(total)
        ]
    return row


def test_compare_pools_items_over_seeds() -> None:
    baseline = [_row(5, 10, True), _row(6, 10, False)]
    method = [_row(9, 10, True), _row(8, 10, True)]
    assert item_outcomes(baseline).count(1.0) == 11
    assert len(item_outcomes(baseline)) == 20
    result = compare(baseline, method, n_resamples=5_000)
    assert result.baseline_accuracy == pytest.approx(0.55)
    assert result.method_accuracy == pytest.approx(0.85)
    from scipy.stats import hypergeom

    # 40 pooled items with 28 correct; the method's pile of 20 holds 17 of them.
    exact = float(hypergeom(40, 28, 20).sf(16))
    assert result.p_value == pytest.approx(exact, abs=0.01)
    assert result.significant()
