"""The empirical ε lower bound from canary ranks: hand-computed cases and a simulated audit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sociallearn.privacy.accounting import PrivacyEvent, PrivacyLedger
from sociallearn.privacy.empirical_dp import (
    clopper_pearson_lower,
    compare,
    conservative_rank,
    epsilon_lower_bound,
    threshold_family,
)


def test_conservative_rank_counts_ties_against_the_canary() -> None:
    assert conservative_rank(-1.0, [-2.0, -1.0, -0.5, -3.0]) == 2
    assert conservative_rank(0.0, [-1.0, -2.0]) == 0


def test_clopper_pearson_lower_hand_cases() -> None:
    # All hits: the lower bound solves p^T = α.
    assert clopper_pearson_lower(10, 10, 0.05) == pytest.approx(0.05 ** (1 / 10))
    # One hit in T: solves 1 − (1 − p)^T = α.
    assert clopper_pearson_lower(1, 20, 0.05) == pytest.approx(1 - 0.95 ** (1 / 20))
    assert clopper_pearson_lower(0, 20, 0.05) == 0.0


def test_every_run_ranks_first() -> None:
    # 10 runs, canary beats all 999 references each time, k = 0, δ = 0:
    # ε ≥ ln(0.05^(1/10) · 1000 / 1).
    bound = epsilon_lower_bound([0] * 10, 1000, 0.0, k=0, confidence=0.95)
    assert bound.hits == 10
    assert bound.epsilon == pytest.approx(math.log(0.05 ** (1 / 10) * 1000))
    assert bound.epsilon == pytest.approx(6.608, abs=1e-3)


def test_delta_is_subtracted_before_the_ratio() -> None:
    bound = epsilon_lower_bound([0] * 10, 1000, 0.01, k=0)
    assert bound.epsilon == pytest.approx(math.log((0.05 ** (1 / 10) - 0.01) * 1000))


def test_threshold_family_and_bonferroni() -> None:
    assert threshold_family(1000) == (0, 1, 3, 7, 15, 31, 63, 127, 255, 511)
    # Trying 10 thresholds spends α/10 on each: the all-first case gets a smaller bound.
    searched = epsilon_lower_bound([0] * 10, 1000, 0.0)
    assert searched.thresholds_tried == 10
    assert searched.k == 0
    assert searched.epsilon == pytest.approx(math.log(0.005 ** (1 / 10) * 1000))


def test_uniform_ranks_give_no_evidence() -> None:
    rng = np.random.default_rng(0)
    ranks = rng.integers(0, 1000, size=200).tolist()
    assert epsilon_lower_bound(ranks, 1000, 1e-5).epsilon == 0.0


def test_bad_ranks_are_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        epsilon_lower_bound([1000], 1000, 0.0)
    with pytest.raises(ValueError, match="at least one run"):
        epsilon_lower_bound([], 1000, 0.0)


def _simulated_audit(sigma: float, runs: int, n: int, seed: int) -> list[int]:
    """A Gaussian mechanism that releases a noisy score for every candidate secret: the planted
    one gets +1 (so adding or removing the canary moves the released vector by L2 1)."""
    rng = np.random.default_rng(seed)
    ranks = []
    for _ in range(runs):
        scores = rng.normal(0.0, sigma, size=n)
        scores[0] += 1.0  # candidate 0 is the planted canary
        ranks.append(conservative_rank(float(scores[0]), scores[1:].tolist()))
    return ranks


@pytest.mark.parametrize(("sigma", "expect_detection"), [(0.3, True), (0.5, True), (2.0, False)])
def test_empirical_bound_never_exceeds_accounted(sigma: float, expect_detection: bool) -> None:
    pytest.importorskip("dp_accounting")
    delta, n = 1e-5, 1000
    ledger = PrivacyLedger([PrivacyEvent("gaussian", noise=sigma, sensitivity=1.0)])
    bound = epsilon_lower_bound(_simulated_audit(sigma, 300, n, seed=int(sigma * 100)), n, delta)
    row = compare(ledger, bound)
    assert row.consistent, (row.empirical.epsilon, row.accounted)
    assert (bound.epsilon > 1.0) == expect_detection


def test_group_comparison_uses_the_group_ledger() -> None:
    pytest.importorskip("dp_accounting")
    ledger = PrivacyLedger([PrivacyEvent("gaussian", noise=4.0, sensitivity=math.sqrt(2))])
    bound = epsilon_lower_bound([0] * 5, 100, 1e-5)
    single = compare(ledger, bound)
    grouped = compare(ledger, bound, canary_silos=4)
    assert grouped.group_size == 4
    assert grouped.accounted == pytest.approx(ledger.group(4).epsilon(1e-5))
    assert grouped.accounted > single.accounted
