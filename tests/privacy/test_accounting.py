"""The accountant against closed forms, and its event log as a stored, resumable value."""

from __future__ import annotations

import itertools
import json
import math

import pytest

pytest.importorskip("dp_accounting")

from scipy import optimize, stats

from sociallearn.errors import ConfigError
from sociallearn.privacy.accounting import (
    PrivacyEvent,
    PrivacyLedger,
    check_delta,
    check_epsilon,
    check_noise,
)

SQRT2 = math.sqrt(2.0)


def gdp_epsilon(mu: float, delta: float) -> float:
    """Exact ε at δ of μ-Gaussian DP (Dong, Roth & Su): δ(ε) = Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2)."""

    def gap(eps: float) -> float:
        return float(
            stats.norm.cdf(-eps / mu + mu / 2)
            - math.exp(eps) * stats.norm.cdf(-eps / mu - mu / 2)
            - delta
        )

    return float(optimize.brentq(gap, 0.0, 100.0, xtol=1e-12))


def ledger_of(*events: PrivacyEvent) -> PrivacyLedger:
    ledger = PrivacyLedger()
    ledger.extend(events)
    return ledger


@pytest.mark.parametrize(("sigma", "k"), [(4.0, 1), (4.0, 10), (2.0, 25), (10.0, 100)])
def test_gaussian_composed_k_times_matches_gaussian_dp(sigma: float, k: int) -> None:
    delta = 1e-5
    ledger = ledger_of(PrivacyEvent("gaussian", noise=sigma, sensitivity=SQRT2, count=k))
    exact = gdp_epsilon(math.sqrt(k) * SQRT2 / sigma, delta)
    spent = ledger.spent(delta)
    # PLD is pessimistic by its discretisation only.
    assert exact - 1e-6 <= spent.pld <= exact + 2e-3
    # RDP is a valid but looser upper bound.
    assert exact <= spent.rdp <= 1.35 * exact
    assert ledger.epsilon(delta) == pytest.approx(min(spent.rdp, spent.pld))
    assert ledger.epsilon(delta, "rdp") == spent.rdp


def test_k_separate_events_equal_one_event_with_count_k() -> None:
    one = ledger_of(PrivacyEvent("gaussian", noise=3.0, sensitivity=SQRT2, count=6))
    many = ledger_of(*[PrivacyEvent("gaussian", 3.0, SQRT2, round=r) for r in range(6)])
    assert many.spent(1e-5) == one.spent(1e-5)
    assert many.releases == 6


def test_single_laplace_release_is_its_epsilon() -> None:
    # Scale b = 2 on an L1-sensitivity-1 statistic: ε = 0.5.
    ledger = ledger_of(PrivacyEvent("laplace", noise=2.0, sensitivity=1.0))
    # The library truncates the Laplace tails (mass below e^-50), so ask at a negligible δ.
    assert ledger.epsilon(1e-12) == pytest.approx(0.5, abs=1e-3)
    assert ledger.epsilon(0.0, "rdp") == math.inf  # RDP cannot give δ = 0
    # For δ > 0 the exact Laplace curve is ε(δ) = ε₀ + 2 ln(1 − δ).
    for delta in (1e-3, 0.05):
        assert ledger.epsilon(delta, "pld") == pytest.approx(
            0.5 + 2 * math.log(1 - delta), abs=2e-3
        )


def test_exponential_mechanism_pure_and_zcdp() -> None:
    # Temperature 4 on a utility of sensitivity 1: ε = 2/4 per release.
    single = ledger_of(PrivacyEvent("exponential", noise=4.0, sensitivity=1.0))
    assert single.events[0].pure_epsilon == 0.5
    assert single.epsilon(0.0) == pytest.approx(0.5, abs=1e-3)
    k, delta = 50, 1e-5
    many = ledger_of(PrivacyEvent("exponential", noise=4.0, sensitivity=1.0, count=k))
    rho = k * 0.5**2 / 8  # ε-bounded range ⇒ ε²/8-zCDP, composed k times
    zcdp_bound = rho + 2 * math.sqrt(rho * math.log(1 / delta))
    assert many.epsilon(delta, "rdp") <= zcdp_bound + 1e-9
    assert many.epsilon(delta) <= k * 0.5  # never worse than basic composition


def test_epsilon_decreases_with_noise() -> None:
    for mechanism in ("gaussian", "laplace", "exponential"):
        values = [
            ledger_of(PrivacyEvent(mechanism, noise=s, sensitivity=1.0, count=5)).epsilon(1e-5)
            for s in (0.5, 1.0, 2.0, 4.0, 8.0)
        ]
        assert all(a > b for a, b in itertools.pairwise(values)), (mechanism, values)


def test_epsilon_grows_with_releases() -> None:
    event = PrivacyEvent("gaussian", noise=5.0, sensitivity=SQRT2)
    values = [ledger_of(*[event] * n).epsilon(1e-5) for n in (1, 2, 4, 8)]
    assert all(a < b for a, b in itertools.pairwise(values))


def test_log_round_trips_through_json() -> None:
    ledger = ledger_of(
        PrivacyEvent(
            "gaussian", noise=4.0, sensitivity=SQRT2, count=3, round=1, covers="selection"
        ),
        PrivacyEvent("laplace", noise=10.0, sensitivity=1.0, round=2, covers="labels"),
        PrivacyEvent("exponential", noise=8.0, sensitivity=1.0, count=40, covers="generation"),
    )
    text = ledger.to_json()
    assert isinstance(json.loads(text), list)
    again = PrivacyLedger.from_json(text)
    assert again.events == ledger.events
    assert again.epsilon(1e-5) == ledger.epsilon(1e-5)
    assert again.covers() == ("selection", "labels", "generation")
    with pytest.raises(ValueError, match="unknown field"):
        PrivacyLedger.from_list([{**ledger.to_list()[0], "sigma": 1.0}])


def test_would_exceed_and_affordable() -> None:
    delta = 1e-5
    event = PrivacyEvent("gaussian", noise=4.0, sensitivity=SQRT2)
    one = ledger_of(event).epsilon(delta)
    empty = PrivacyLedger()
    assert not empty.would_exceed(event, one + 1e-6, delta)
    assert empty.would_exceed(event, one - 1e-3, delta)
    budget = 3.0
    n = empty.affordable(event, budget, delta)
    assert n > 1
    assert ledger_of(*[event] * n).epsilon(delta) <= budget
    assert ledger_of(*[event] * (n + 1)).epsilon(delta) > budget
    # Stopping on time: record while the next release fits, then stop.
    ledger = PrivacyLedger()
    while not ledger.would_exceed(event, budget, delta):
        ledger.record(event)
    assert ledger.releases == n


def test_group_scales_sensitivity() -> None:
    ledger = ledger_of(PrivacyEvent("gaussian", noise=6.0, sensitivity=SQRT2, count=4))
    group = ledger.group(3)
    assert group.epsilon(1e-5) == pytest.approx(
        ledger_of(PrivacyEvent("gaussian", noise=2.0, sensitivity=SQRT2, count=4)).epsilon(1e-5)
    )
    assert group.epsilon(1e-5) > ledger.epsilon(1e-5)


def test_empty_log_spends_nothing() -> None:
    assert PrivacyLedger().epsilon(1e-5) == 0.0


@pytest.mark.parametrize("bad", [-0.1, 1.0, 2, float("nan"), "x"])
def test_delta_out_of_range_is_a_config_error(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"^dp.delta: expected a number in \[0, 1\)"):
        check_delta(bad, "dp.delta")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), float("nan")])
def test_noise_and_epsilon_must_be_positive(bad: float) -> None:
    with pytest.raises(ConfigError, match=r"^sigma: expected a finite number > 0"):
        check_noise(bad)
    with pytest.raises(ConfigError, match=r"^max_epsilon: expected a finite number > 0"):
        check_epsilon(bad)
    with pytest.raises(ValueError):
        PrivacyEvent("gaussian", noise=bad, sensitivity=1.0)
