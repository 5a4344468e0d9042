"""Token rates measured on the real embedded model, and the cost lines fitted to them."""

from __future__ import annotations

import math
from typing import Any

import pytest

from sociallearn.models.base import ScoreRequest
from sociallearn.models.llamacpp_rates import Rates, TokenCost, measure_rates


def test_fit_recovers_a_line_from_two_hand_made_measurements() -> None:
    line = TokenCost(base=0.01, per_context=2e-5)
    # 100 tokens read from an empty context (mean context 49.5); 20 behind 1,000 (1,009.5).
    near = (100.0, 49.5, 100 * (0.01 + 2e-5 * 49.5))
    far = (20.0, 1009.5, 20 * (0.01 + 2e-5 * 1009.5))
    fitted = TokenCost.fit(near, far)
    assert fitted.base == pytest.approx(0.01) and fitted.per_context == pytest.approx(2e-5)
    assert fitted.rate == pytest.approx(100.0)
    # seconds(): 10 tokens behind 500 see 500..509 tokens, a mean context of 504.5.
    assert line.seconds(10, 500) == pytest.approx(10 * (0.01 + 2e-5 * 504.5))
    assert line.seconds(100) == pytest.approx(near[2])


def test_fit_clamps_a_slope_that_noise_tilted_below_zero() -> None:
    # The far point is faster per token than the near one: no negative attention cost.
    fitted = TokenCost.fit((10.0, 100.0, 0.2), (10.0, 900.0, 0.15))
    assert fitted.per_context == 0.0 and fitted.base == pytest.approx(0.02)
    # Two measurements at one context cannot give a slope.
    assert TokenCost.fit((10.0, 5.0, 0.1), (20.0, 5.0, 0.3)).per_context == 0.0


def test_describe_names_each_rate_and_its_growth_with_context() -> None:
    cost = TokenCost(base=0.005, per_context=2e-6)  # 200 tokens/s, +40% per 1,000 tokens
    text = Rates(cost, cost, cost).describe()
    assert text.count("200 tokens/s (+40% per 1,000 tokens of context)") == 3
    assert text.startswith("prefill") and "decode" in text and "scoring" in text


@pytest.mark.embedded
def test_measuring_leaves_the_models_results_unchanged(embedded_model: Any) -> None:
    request = ScoreRequest(context="Text: Call now to win cash\nClass:", continuation=" spam")
    before = embedded_model.score([request])[0]
    rates = measure_rates(embedded_model, long_context=400, repeats=1)
    for cost in (rates.prefill, rates.decode, rates.score):
        assert math.isfinite(cost.rate) and cost.rate > 0 and cost.per_context >= 0
    # The KV state is cleared afterwards: the same request scores bit for bit the same.
    assert embedded_model.score([request])[0] == before


@pytest.mark.embedded
def test_long_context_is_capped_to_the_models_window(embedded_model: Any) -> None:
    # n_ctx 1024 (the fixture): asking for more measures at the longest context that fits.
    rates = measure_rates(embedded_model, long_context=10_000, repeats=1)
    assert rates.prefill.rate > 0


def test_fit_calls_recovers_a_cost_per_call_beside_the_line() -> None:
    truth = TokenCost(base=0.006, per_context=3e-6, per_call=0.015)
    # 6-token continuations behind 128 and 768 tokens, a 48-token one behind 128 (mean
    # contexts as measure_rates computes them).
    near = (6.0, 129.5, truth.continuation(6, 127))
    far = (6.0, 769.5, truth.continuation(6, 767))
    longer = (48.0, 150.5, truth.continuation(48, 127))
    fitted = TokenCost.fit_calls(near, far, longer)
    assert fitted.base == pytest.approx(0.006)
    assert fitted.per_context == pytest.approx(3e-6)
    assert fitted.per_call == pytest.approx(0.015)
    # A short continuation costs far more per token than a long one, as measured here.
    assert truth.continuation(2, 0) / 2 > 2 * truth.continuation(48, 0) / 48
    assert "+ 15 ms per continuation" in Rates(truth, truth, truth).describe()
    with pytest.raises(ValueError, match="equal lengths"):
        TokenCost.fit_calls(near, (12.0, 769.5, 0.1), longer)


@pytest.mark.embedded
def test_a_window_too_small_to_measure_in_is_one_clear_error() -> None:
    from sociallearn.errors import UserError
    from sociallearn.models.llamacpp import LlamaCppModel

    # llama.cpp rounds the window up to 256 tokens, still short of the 264 measuring needs.
    model = LlamaCppModel.from_spec("smollm2", n_ctx=200, n_threads=1)
    try:
        with pytest.raises(UserError, match=r"n_ctx \d+ is too small .*needs 264 tokens"):
            measure_rates(model)
    finally:
        model.close()
