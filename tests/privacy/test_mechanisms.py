"""Each noisy release's empirical distribution matches its mechanism on fixed inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from sociallearn.privacy.mechanisms import (
    VOTE_L2_SENSITIVITY,
    clipped_sum,
    confident_gnmax,
    exponential_probabilities,
    exponential_token,
    gaussian_token,
    gnmax,
    vote_histogram,
)

TRIALS = 20_000


def within(freq: float, p: float, trials: int = TRIALS) -> bool:
    """``freq`` lies within 4.5 standard errors of ``p`` (false alarm rate about 1e-5)."""
    return abs(freq - p) <= 4.5 * math.sqrt(p * (1 - p) / trials) + 1e-12


def test_vote_histogram_counts_one_vote_per_teacher() -> None:
    assert vote_histogram([0, 2, 2, 1, 2], 4).tolist() == [1.0, 1.0, 3.0, 0.0]
    with pytest.raises(ValueError, match="outside"):
        vote_histogram([3], 3)


def test_gnmax_two_candidates_win_probability() -> None:
    rng = np.random.default_rng(0)
    counts, sigma = [6.0, 4.0], 2.0
    wins = sum(gnmax(counts, sigma, rng).winner == 0 for _ in range(TRIALS))
    p = stats.norm.cdf((6 - 4) / (sigma * math.sqrt(2)))
    assert within(wins / TRIALS, p)


def test_gnmax_three_candidates_match_integral() -> None:
    rng = np.random.default_rng(1)
    counts, sigma = np.array([5.0, 4.0, 1.0]), 1.5
    winners = [gnmax(counts, sigma, rng).winner for _ in range(TRIALS)]
    assert None not in winners  # plain GNMax never abstains
    freq = np.bincount([w for w in winners if w is not None], minlength=3)

    def p_win(i: int) -> float:
        # P(c_i + Z_i > c_j + Z_j for all j ≠ i) with Z ~ N(0, σ²), integrated over Z_i.
        others = [j for j in range(3) if j != i]

        def density(z: float) -> float:
            inner = np.prod([stats.norm.cdf((counts[i] - counts[j]) / sigma + z) for j in others])
            return float(stats.norm.pdf(z) * inner)

        return float(integrate.quad(density, -12, 12)[0])

    probs = [p_win(i) for i in range(3)]
    assert sum(probs) == pytest.approx(1.0, abs=1e-6)
    for i in range(3):
        assert within(freq[i] / TRIALS, probs[i])


def test_gnmax_event_is_gaussian_with_vote_sensitivity() -> None:
    vote = gnmax([3, 1], 4.0, np.random.default_rng(0), round_no=2)
    [event] = vote.events
    assert (event.mechanism, event.noise, event.sensitivity, event.round, event.covers) == (
        "gaussian",
        4.0,
        VOTE_L2_SENSITIVITY,
        2,
        "selection",
    )
    with pytest.raises(ValueError, match="sigma"):
        gnmax([1, 2], 0.0, np.random.default_rng(0))


def test_confident_gnmax_abstains_at_the_threshold_rate_and_always_charges() -> None:
    rng = np.random.default_rng(2)
    counts, threshold, sigma1 = [7.0, 2.0, 1.0], 8.0, 2.0
    outcomes = [confident_gnmax(counts, 1.0, threshold, sigma1, rng) for _ in range(TRIALS)]
    abstained = sum(o.winner is None for o in outcomes) / TRIALS
    assert within(abstained, stats.norm.cdf((threshold - 7.0) / sigma1))
    for o in outcomes[:50]:
        assert [(e.noise, e.sensitivity) for e in o.events] == [
            (sigma1, 1.0),
            (1.0, VOTE_L2_SENSITIVITY),
        ]
    answered = [o.winner for o in outcomes if o.winner is not None]
    # The answer is GNMax with σ = 1 on counts 7 vs 2 vs 1: almost always candidate 0.
    assert answered.count(0) / len(answered) > 0.99


def test_clipped_sum_bounds_each_teacher() -> None:
    dists = [
        {"a": 0.5, "b": 0.3, "c": 0.2},
        {"a": 0.9, "z": 0.1},  # "z" is not a candidate: dropped
        {"a": 2.0, "b": 2.0},  # over-full: scaled to mass 1
        {"b": -1.0, "c": float("nan")},  # invalid values count 0
    ]
    total = clipped_sum(dists, ["a", "b", "c"])
    assert total.tolist() == pytest.approx([0.5 + 0.9 + 0.5, 0.3 + 0.5, 0.2])
    with pytest.raises(ValueError, match="distinct"):
        clipped_sum(dists, ["a", "a"])


def test_gaussian_token_two_candidates_win_probability() -> None:
    rng = np.random.default_rng(3)
    dists = [{"yes": 0.8, "no": 0.2}, {"yes": 0.6, "no": 0.4}, {"yes": 0.1, "no": 0.9}]
    sigma = 0.5
    wins = sum(
        gaussian_token(dists, ["yes", "no"], sigma, rng).token == "yes" for _ in range(TRIALS)
    )
    s_yes, s_no = 1.5, 1.5
    assert within(wins / TRIALS, stats.norm.cdf((s_yes - s_no) / (sigma * math.sqrt(2))))
    dists[0] = {"yes": 1.0}
    wins = sum(
        gaussian_token(dists, ["yes", "no"], sigma, rng).token == "yes" for _ in range(TRIALS)
    )
    assert within(wins / TRIALS, stats.norm.cdf((1.7 - 1.3) / (sigma * math.sqrt(2))))


def test_exponential_token_samples_softmax_of_sum_over_temperature() -> None:
    rng = np.random.default_rng(4)
    dists = [{"a": 0.7, "b": 0.2, "c": 0.1}, {"a": 0.1, "b": 0.8, "c": 0.1}]
    candidates, tau = ["a", "b", "c"], 0.5
    expected = exponential_probabilities([0.8, 1.0, 0.2], tau)
    picks = [exponential_token(dists, candidates, tau, rng) for _ in range(TRIALS)]
    freq = np.bincount([p.index for p in picks], minlength=3) / TRIALS
    for i in range(3):
        assert within(float(freq[i]), float(expected[i]))
    [event] = picks[0].events
    assert event.mechanism == "exponential"
    assert event.pure_epsilon == pytest.approx(2 / tau)
    assert picks[0].token == candidates[picks[0].index]
