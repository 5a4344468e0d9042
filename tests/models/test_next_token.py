"""The optional next-token-distribution capability: fake, llama.cpp, OpenAI-compatible, errors."""

from __future__ import annotations

import math
from typing import Any

import pytest

from sociallearn.errors import CapabilityError
from sociallearn.models.base import (
    NextTokenModel,
    ScoreRequest,
    TokenDistribution,
    next_token_model,
)
from sociallearn.models.cache import CachedModel
from sociallearn.models.fake import BASE_VOCABULARY, FakeModel

PROMPT = "Text: win a free phone now\nClass: spam\n\nText: lunch at noon?\nClass:"


def test_fake_gives_a_complete_deterministic_distribution() -> None:
    [dist] = FakeModel().next_token_logprobs([PROMPT])
    assert dist.complete
    assert sum(math.exp(lp) for lp in dist.logprobs) == pytest.approx(1.0)
    assert set(BASE_VOCABULARY) <= set(dist.tokens)
    assert " spam" in dist.tokens  # pieces of the prompt are candidates, like a copying LM
    assert list(dist.logprobs) == sorted(dist.logprobs, reverse=True)
    assert FakeModel().next_token_logprobs([PROMPT]) == [dist]


def test_fake_top_and_preferences() -> None:
    [top3] = FakeModel().next_token_logprobs([PROMPT], top=3)
    assert len(top3.tokens) == 3 and not top3.complete
    [pref] = FakeModel(preferences=["lunch"]).next_token_logprobs([PROMPT], top=1)
    assert "lunch" in pref.tokens[0]


def test_probabilities_sum_equal_texts() -> None:
    dist = TokenDistribution(tokens=("a", "b", "a"), logprobs=(math.log(0.25),) * 3, complete=True)
    assert dist.probabilities() == pytest.approx({"a": 0.5, "b": 0.25})


def test_from_vocabulary_keeps_the_top_in_descending_order_ties_by_id() -> None:
    vocab = ("a", "b", "c", "d")
    lps = [math.log(0.1), math.log(0.4), math.log(0.1), math.log(0.4)]
    whole = TokenDistribution.from_vocabulary(vocab, lps, None)
    assert whole == TokenDistribution(vocab, tuple(lps), complete=True)
    top3 = TokenDistribution.from_vocabulary(vocab, lps, 3)
    assert top3.tokens == ("b", "d", "a") and not top3.complete
    assert top3.logprobs == (lps[1], lps[3], lps[0])
    assert TokenDistribution.from_vocabulary(vocab, lps, 4).complete


class _NoNextToken:
    model_id = "plain:model"

    def generate(self, prompts: Any, params: Any) -> list[Any]:
        return []

    def score(self, requests: Any) -> list[Any]:
        return []


def test_missing_capability_names_it_and_who_has_it() -> None:
    with pytest.raises(CapabilityError) as err:
        next_token_model(_NoNextToken(), "method private_generation")
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith("method private_generation needs next-token distributions")
    assert "plain:model" in text and "llamacpp" in text


def test_the_cache_wrapper_is_looked_through(tmp_path: Any) -> None:
    fake = FakeModel()
    cached = CachedModel(fake, tmp_path / "cache.sqlite")
    assert next_token_model(cached, "test") is fake
    assert isinstance(fake, NextTokenModel)


# ------------------------------------------------------------------------------- llama.cpp


@pytest.mark.embedded
def test_llamacpp_full_distribution_agrees_with_score(embedded_model: Any) -> None:
    prompts = [PROMPT, "The capital of France is"]
    full = embedded_model.next_token_logprobs(prompts)
    for dist in full:
        assert dist.complete
        assert len(dist.tokens) == embedded_model._n_vocab
        assert sum(math.exp(lp) for lp in dist.logprobs) == pytest.approx(1.0, abs=1e-6)
    [top] = embedded_model.next_token_logprobs(["The capital of France is"], top=5)
    assert len(top.tokens) == 5
    assert list(top.logprobs) == sorted(top.logprobs, reverse=True)
    assert top.logprobs[0] == pytest.approx(max(full[1].logprobs), abs=1e-9)
    # The top token's log-prob is what score() gives the same token as a continuation.
    [score] = embedded_model.score([ScoreRequest("The capital of France is", top.tokens[0])])
    if score.n_tokens == 1:
        assert score.logprob_sum == pytest.approx(top.logprobs[0], abs=1e-4)


@pytest.mark.embedded
def test_llamacpp_slots_keep_each_teachers_prompt(embedded_model: Any) -> None:
    """Prompts taking turns (private generation's teachers) each keep their KV: a grown prompt
    costs a few decoded tokens, and its distribution equals a fresh full evaluation's."""
    import numpy as np

    heads = [f"Text: {w} offer, reply now\nClass: spam\n\n" for w in ("free", "cash", "prize")]
    partial = "Text: hello are we still meeting"
    words = partial.split(" ")
    for step in range(2, len(words) + 1):
        grown = " ".join(words[:step])
        for head in heads:
            before = embedded_model.decoded_tokens
            [dist] = embedded_model.next_token_logprobs([head + grown])
            decoded = embedded_model.decoded_tokens - before
            if step > 2:
                assert decoded <= 4, f"prompt re-evaluated ({decoded} tokens) instead of grown"
            tokens = embedded_model._prompt_tokens(head + grown, "test")
            embedded_model._forget()
            [row] = embedded_model._eval(tokens, logits_from=len(tokens) - 1)
            x = row.astype(np.float64)
            fresh = x - x.max() - np.log(np.exp(x - x.max()).sum())
            assert np.max(np.abs(np.asarray(dist.logprobs) - fresh)) < 1e-4
