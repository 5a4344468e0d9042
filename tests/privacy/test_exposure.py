"""Exposure math against hand-computed cases and the TF Privacy unit test (SPEC §6.2)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sociallearn.privacy import (
    canary_rank,
    exposure_enumeration,
    exposure_extrapolation,
    exposure_interpolation,
    rank_exposure,
)

REFS_1_TO_16 = [float(i) for i in range(1, 17)]


def test_interpolation_matches_tf_privacy_cases() -> None:
    got = exposure_interpolation([0.0, 0.1, 3.5, 20.0], REFS_1_TO_16)
    assert got == pytest.approx([4.0, 4.0, 2.0, math.log2(16) - math.log2(17)])


def test_interpolation_keeps_input_order() -> None:
    # TF Privacy sorts its output by perplexity; this API must not.
    got = exposure_interpolation([20.0, 0.0, 3.5], REFS_1_TO_16)
    assert got == pytest.approx([math.log2(16 / 17), 4.0, 2.0])


def test_interpolation_ties_count_against_the_secret() -> None:
    # References equal to the secret (4.0, twice) are counted: rank = 1 + #{1,2,3,4,4} = 6.
    refs = [1.0, 2.0, 3.0, 4.0, 4.0, 5.0, 6.0, 7.0]
    [exposure] = exposure_interpolation([4.0], refs)
    assert exposure == pytest.approx(math.log2(8) - math.log2(6))


def test_interpolation_secret_worse_than_every_reference_is_slightly_negative() -> None:
    [exposure] = exposure_interpolation([100.0], [1.0, 2.0, 3.0])
    assert exposure == pytest.approx(math.log2(3) - math.log2(4))
    assert exposure < 0


def test_interpolation_needs_references() -> None:
    with pytest.raises(ValueError, match="at least one reference"):
        exposure_interpolation([1.0], [])


def test_extrapolation_recovers_a_known_skew_normal_tail() -> None:
    from scipy import stats

    rng = np.random.default_rng(12345)
    refs = stats.skewnorm.rvs(4, loc=0.0, scale=1.0, size=10_000, random_state=rng)
    quantiles = [0.5, 0.1, 0.01, 0.001]
    secrets = [float(stats.skewnorm.ppf(q, 4, 0.0, 1.0)) for q in quantiles]
    got = exposure_extrapolation(secrets, refs.tolist())
    for q, bits in zip(quantiles, got, strict=True):
        # The fit is from a sample, so allow a small relative error in the tail probability.
        assert bits == pytest.approx(-math.log2(q), abs=0.25)
    # Beyond the sample's resolution extrapolation keeps growing, interpolation cannot.
    far = float(stats.skewnorm.ppf(1e-9, 4, 0.0, 1.0))
    [far_bits] = exposure_extrapolation([far], refs.tolist())
    assert far_bits > math.log2(10_000)


def test_extrapolation_is_finite_far_out_and_inf_beyond_double_range() -> None:
    refs = np.random.default_rng(0).normal(10.0, 1.0, size=2_000).tolist()
    near, far, beyond = exposure_extrapolation([10.0, -20.0, -1e6], refs)
    assert 0.5 < near < 1.5  # about the median: about 1 bit
    assert math.isfinite(far) and far > 100
    assert beyond == math.inf


def test_extrapolation_rejects_constant_references() -> None:
    with pytest.raises(ValueError, match="distinct"):
        exposure_extrapolation([1.0], [2.0, 2.0, 2.0, 2.0])


def test_enumeration_equals_interpolation_over_the_rest_of_the_space() -> None:
    rng = np.random.default_rng(7)
    # Rounded so that ties occur, as they do for scores of discrete codes.
    space = np.round(rng.normal(5.0, 1.0, size=10_000), 2).tolist()
    secrets = [0, 17, 4_242, 9_999]
    got = exposure_enumeration(space, secrets)
    n = len(space)
    for index, bits in zip(secrets, got, strict=True):
        others = space[:index] + space[index + 1 :]
        [interp] = exposure_interpolation([space[index]], others)
        assert bits == pytest.approx(interp + math.log2(n / (n - 1)))
        assert 0.0 <= bits <= math.log2(n)


def test_enumeration_best_and_worst_member() -> None:
    space = [3.0, 1.0, 2.0, 4.0]
    assert exposure_enumeration(space, [1, 3]) == pytest.approx([2.0, 0.0])
    with pytest.raises(ValueError, match="outside"):
        exposure_enumeration(space, [4])


def test_canary_rank_counts_strictly_higher_scores() -> None:
    refs = [-1.0, -2.0, -2.0, -3.0, -0.5]
    assert canary_rank(-2.0, refs) == 2  # -1.0 and -0.5; the ties do not count
    assert canary_rank(0.0, refs) == 0
    assert canary_rank(-9.0, refs) == 5


def test_rank_exposure_range_and_uniform_expectation() -> None:
    assert rank_exposure(0, 1000) == pytest.approx(math.log2(1000))
    assert rank_exposure(999, 1000) == pytest.approx(0.0)
    # SPEC §5.4: a uniform rank on 0..999 has expected exposure about 1.436 bits.
    mean = sum(rank_exposure(r, 1000) for r in range(1000)) / 1000
    assert mean == pytest.approx(1.436, abs=1e-3)
    with pytest.raises(ValueError):
        rank_exposure(1000, 1000)


def test_rank_exposure_agrees_with_interpolation_when_there_are_no_ties() -> None:
    rng = np.random.default_rng(3)
    scores = rng.normal(size=1000)
    canary, refs = float(scores[0]), scores[1:].tolist()
    rank = canary_rank(canary, refs)
    # Interpolation uses N_ref = 999 in place of N_SS = 1000; otherwise the same count.
    [interp] = exposure_interpolation([-canary], [-s for s in refs])
    assert rank_exposure(rank, 1000) == pytest.approx(interp + math.log2(1000 / 999))
