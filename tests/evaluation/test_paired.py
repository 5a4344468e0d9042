"""The paired permutation test and the seed-clustered bootstrap, against hand-computed cases and
scipy."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from sociallearn.evaluation.paired import (
    PairedOutcomes,
    clustered_bootstrap_ci,
    compare_rows,
    pair_rows,
    paired_permutation_test,
)
from sociallearn.evaluation.stats import compare, rank_below_chance_p


def _scipy_paired(baseline: np.ndarray, method: np.ndarray, alternative: str, seed: int) -> float:
    result = stats.permutation_test(
        (method, baseline),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=10_000,
        alternative=alternative,
        rng=np.random.default_rng(seed),
    )
    return float(result.pvalue)


def test_hand_computed_exact_case() -> None:
    # Discordant pairs: items 1, 4, 5, 7 favour the method, item 3 the baseline: 4 of D = 5.
    # Under random swaps the count favouring the method is Binomial(5, 1/2), so
    # p = P(count >= 4) = (5 + 1) / 32.
    baseline = [1, 0, 1, 1, 0, 0, 1, 0]
    method = [1, 1, 1, 0, 1, 1, 1, 1]
    result = paired_permutation_test(baseline, method)
    assert result.kind == "paired" and result.exact
    assert result.alternative == "greater"
    assert result.observed_diff == pytest.approx(3 / 8)
    assert result.p_value == pytest.approx(6 / 32)
    swapped = paired_permutation_test(method, baseline)
    assert swapped.alternative == "less" and swapped.p_value == pytest.approx(6 / 32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_p_equals_scipy_paired_permutation(seed: int) -> None:
    # 12 pairs: scipy enumerates all 2^12 swaps, as ours does for the discordant ones.
    rng = np.random.default_rng(seed)
    baseline = (rng.random(12) < 0.5).astype(float)
    method = (rng.random(12) < 0.7).astype(float)
    ours = paired_permutation_test(baseline, method)
    assert ours.exact
    assert ours.p_value == pytest.approx(_scipy_paired(baseline, method, ours.alternative, 0))


def test_non_binary_outcomes_use_scipy_and_match_exactly() -> None:
    baseline = np.array([0.2, 0.5, 0.9, 0.1, 0.4, 0.4, 0.7, 0.3, 0.6])
    method = np.array([0.4, 0.5, 0.8, 0.6, 0.9, 0.4, 0.9, 0.2, 0.9])
    ours = paired_permutation_test(baseline, method)
    assert ours.exact
    assert ours.p_value == pytest.approx(_scipy_paired(baseline, method, "greater", 0))


@pytest.mark.parametrize(("p_base", "p_method"), [(0.6, 0.64), (0.5, 0.5), (0.5, 0.45)])
def test_sampled_p_agrees_with_scipy_and_the_exact_binomial(p_base: float, p_method: float) -> None:
    rng = np.random.default_rng(11)
    baseline = (rng.random(600) < p_base).astype(float)
    method = (rng.random(600) < p_method).astype(float)
    ours = paired_permutation_test(baseline, method)
    assert not ours.exact
    diffs = method - baseline
    d, favour = int((diffs != 0).sum()), int((diffs > 0).sum())
    exact = (
        stats.binom.sf(favour - 1, d, 0.5)
        if ours.alternative == "greater"
        else stats.binom.cdf(favour, d, 0.5)
    )
    scipy_p = _scipy_paired(baseline, method, ours.alternative, 3)
    # Monte Carlo error of a p near 0.5 from 10^4 draws is about 0.005.
    tolerance = 4 * math.sqrt(max(exact * (1 - exact), 1e-4) / 10_000) + 2e-4
    assert ours.p_value == pytest.approx(exact, abs=tolerance)
    assert scipy_p == pytest.approx(exact, abs=tolerance)


def test_no_discordant_pair_gives_p_one() -> None:
    result = paired_permutation_test([1, 0, 1], [1, 0, 1])
    assert result.p_value == 1.0 and result.observed_diff == 0.0 and result.exact


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="same length"):
        paired_permutation_test([1, 0], [1])
    with pytest.raises(ValueError, match="at least one pair"):
        paired_permutation_test([], [])


def _rows(outcomes: dict[int, list[int]], order: int = 1) -> list[dict[str, Any]]:
    """Result rows, one per seed, with per-item predictions (in a seed-dependent order)."""
    rows = []
    for seed, values in outcomes.items():
        predictions = [{"uid": f"q{i}", "correct": bool(v)} for i, v in enumerate(values)]
        rows.append({"seed": seed, "predictions": predictions[::order], "n_items": len(values)})
    return rows


def test_pairing_follows_uid_and_seed_not_position() -> None:
    base = _rows({0: [1, 0, 0], 1: [0, 0, 1]})
    meth = _rows({0: [1, 1, 0], 1: [0, 1, 1]}, order=-1)  # same items, reversed order
    paired = pair_rows(base, meth)
    assert paired is not None
    assert paired.n_pairs == 6 and paired.n_seeds == 2 and paired.n_unpaired == 0
    assert sorted(paired.differences.tolist()) == [0, 0, 0, 0, 1, 1]
    # An item one side lacks is left out and counted.
    meth[0]["predictions"].append({"uid": "extra", "correct": True})
    paired = pair_rows(base, meth)
    assert paired is not None and paired.n_pairs == 6 and paired.n_unpaired == 1


def test_pairing_is_impossible_without_uids() -> None:
    base = _rows({0: [1, 0]})
    meth = [{"seed": 0, "n_items": 2, "n_correct": 1, "accuracy": 0.5}]
    assert pair_rows(base, meth) is None
    comparison = compare_rows(base, meth, n_resamples=200)
    assert comparison.kind == "pooled" and "predictions" in comparison.fallback


def test_paired_test_sees_what_the_pooled_test_misses() -> None:
    # The method answers every item the baseline gets right, plus 12 more: a consistent gain
    # that pooling hides among 100 items of each side (50% vs 62%).
    base_values = [1] * 50 + [0] * 50
    meth_values = [1] * 62 + [0] * 38
    base, meth = _rows({0: base_values}), _rows({0: meth_values})
    paired = compare_rows(base, meth, n_resamples=10_000)
    pooled = compare_rows(base, meth, test="pooled", n_resamples=10_000)
    assert paired.kind == "paired" and pooled.kind == "pooled" and not pooled.fallback
    assert paired.p_value == pytest.approx(2.0**-12)  # 12 discordant pairs, all for the method
    assert pooled.p_value > 0.04
    assert pooled.p_value == compare(base, meth, n_resamples=10_000).p_value
    with pytest.raises(ValueError, match="unknown test"):
        compare_rows(base, meth, test="bogus")  # type: ignore[arg-type]


def _paired(diff_rows: list[tuple[str, str, float, float]]) -> PairedOutcomes:
    return PairedOutcomes(
        baseline=np.array([r[2] for r in diff_rows]),
        method=np.array([r[3] for r in diff_rows]),
        seeds=tuple(r[0] for r in diff_rows),
        items=tuple(r[1] for r in diff_rows),
    )


def test_bootstrap_with_one_seed_is_the_paired_item_bootstrap() -> None:
    rng = np.random.default_rng(3)
    base = (rng.random(300) < 0.6).astype(float)
    meth = (rng.random(300) < 0.7).astype(float)
    paired = _paired(
        [("0", f"u{i}", b, m) for i, (b, m) in enumerate(zip(base, meth, strict=True))]
    )
    ours = clustered_bootstrap_ci(paired)
    reference = stats.bootstrap(
        (meth, base),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        paired=True,
        vectorized=True,
        method="percentile",
        n_resamples=9_999,
        rng=np.random.default_rng(1),
    ).confidence_interval
    assert ours.low == pytest.approx(reference.low, abs=0.01)
    assert ours.high == pytest.approx(reference.high, abs=0.01)
    assert ours.low < float((meth - base).mean()) < ours.high


def test_bootstrap_resamples_whole_seeds() -> None:
    # Seed 0: the method wins every item; seed 1: no difference. Items alone would give a
    # tight interval around 0.5; whole seeds drawn with replacement span 0 to 1.
    rows = [("0", f"u{i}", 0.0, 1.0) for i in range(100)]
    rows += [("1", f"u{i}", 0.0, 0.0) for i in range(100)]
    interval = clustered_bootstrap_ci(_paired(rows))
    assert interval.low == pytest.approx(0.0) and interval.high == pytest.approx(1.0)
    # Seeds with their own items (nested, not crossed) behave the same.
    nested = [(s, f"{s}-{u}", b, m) for s, u, b, m in rows]
    interval = clustered_bootstrap_ci(_paired(nested))
    assert interval.low == pytest.approx(0.0) and interval.high == pytest.approx(1.0)


def test_bootstrap_degenerate_cases() -> None:
    same = _paired([("0", "a", 0.0, 1.0), ("1", "a", 0.0, 1.0)])
    assert clustered_bootstrap_ci(same) == (1.0, 1.0)
    empty = _paired([])
    assert all(math.isnan(v) for v in clustered_bootstrap_ci(empty))
    with pytest.raises(ValueError, match="confidence"):
        clustered_bootstrap_ci(same, confidence=1.0)


def test_compare_rows_with_ci_reports_the_paired_accuracies() -> None:
    base = _rows({0: [1, 0, 0, 1], 1: [0, 0, 1, 1]})
    meth = _rows({0: [1, 1, 0, 1], 1: [1, 0, 1, 1]})
    comparison = compare_rows(base, meth, ci=True, n_resamples=1_000)
    assert comparison.baseline_accuracy == pytest.approx(4 / 8)
    assert comparison.method_accuracy == pytest.approx(6 / 8)
    assert comparison.diff == pytest.approx(2 / 8)
    assert comparison.ci is not None and comparison.ci.low <= 0.25 <= comparison.ci.high


def test_rank_below_chance() -> None:
    # Every run at rank 0: no uniform draw of 20 ranks has mean 0, so p = 1 / (draws + 1).
    assert rank_below_chance_p([0] * 20, 1000, n_resamples=999) == pytest.approx(1 / 1000)
    # Ranks at the chance mean give p near 0.5.
    assert 0.35 < rank_below_chance_p([499, 500] * 10, 1000, n_resamples=2_000) < 0.65
