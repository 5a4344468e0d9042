"""Batched llama.cpp evaluation (several sequences per decode) against the sequential path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sociallearn.errors import UserError
from sociallearn.models.base import GenerationParams, ScoreRequest

pytestmark = pytest.mark.embedded

SHOTS = (
    "Text: WINNER! Claim your free prize now\nClass: spam\n\n"
    "Text: Are we still meeting for lunch?\nClass: not spam\n\n"
)
GRAMMAR = 'root ::= ("spam" | "not spam") "."'


def _model(batch: int, n_ctx: int = 512) -> Any:
    from sociallearn.models.llamacpp import LlamaCppModel

    return LlamaCppModel.from_spec("smollm2", n_ctx=n_ctx, n_threads=1, batch=batch)


@pytest.fixture(scope="module")
def sequential(embedded_gguf: Any) -> Iterator[Any]:
    model = _model(1)
    yield model
    model.close()


@pytest.fixture(scope="module")
def batched(embedded_gguf: Any) -> Iterator[Any]:
    model = _model(4)
    yield model
    model.close()


def _requests() -> list[ScoreRequest]:
    tail = " opens the safe, and nobody else may learn it"
    canaries = [ScoreRequest(SHOTS, f" The code {c}{tail}") for c in ("4821", "1177", "90", "5")]
    # Several contexts sharing the few-shot prefix (label scoring of test items).
    queries = ["Free entry to win a car", "Can you pick up milk?", "URGENT: account locked"]
    labels = [
        ScoreRequest(SHOTS + f"Text: {q}\nClass:", label)
        for q in queries
        for label in (" spam", " not spam")
    ]
    odd = [ScoreRequest("Unrelated context", " here"), ScoreRequest("Unrelated context", "")]
    return canaries + labels + odd + canaries[:1]


def test_scores_match_the_sequential_path(sequential: Any, batched: Any) -> None:
    """Scoring runs in sequence 0 of the multi-stream context: identical to ``batch: 1``."""
    reqs = _requests()
    one = sequential.score(reqs)
    many = batched.score(reqs)
    assert many[-1] == many[0] and many[-2].n_tokens == 0
    for a, b in zip(many, one, strict=True):
        assert a.n_tokens == b.n_tokens
        assert a.token_logprobs == b.token_logprobs


def test_samples_equal_the_sequential_path(sequential: Any, batched: Any) -> None:
    prompt = SHOTS + "Text:"
    params = GenerationParams(max_tokens=12, temperature=1.0, seed=11, stop=("\n\n",))
    one = sequential.generate([prompt] * 6, params)
    many = batched.generate([prompt] * 6, params)  # 6 samples on 4 lanes: lanes are refilled
    assert [c.text for c in many] == [c.text for c in one]
    assert len({c.text for c in many}) > 1
    for a, b in zip(many, one, strict=True):
        assert (a.n_tokens, a.finish_reason) == (b.n_tokens, b.finish_reason)
        assert a.logprob_sum == pytest.approx(b.logprob_sum, abs=1e-3)


def test_grammar_samples_equal_the_sequential_path(sequential: Any, batched: Any) -> None:
    params = GenerationParams(max_tokens=10, temperature=1.5, seed=2, grammar=GRAMMAR)
    prompts = [SHOTS + "Text: hi mum\nClass: "] * 3 + [SHOTS + "Text: You won!\nClass: "] * 2
    one = sequential.generate(prompts, params)
    many = batched.generate(prompts, params)
    assert [c.text for c in many] == [c.text for c in one]
    assert all(c.text in {"spam.", "not spam."} and c.constrained for c in many)


def test_different_prompts_equal_the_sequential_path(sequential: Any, batched: Any) -> None:
    """Distinct prompts go one by one (see the module doc of ``llamacpp_batch``)."""
    prompts = [SHOTS + f"Text: {q}\nClass:" for q in ("Call now", "See you", "Win", "Hi", "Ok")]
    params = GenerationParams(max_tokens=8, temperature=0.0, stop=("\n",))
    one = sequential.generate(prompts, params)
    many = batched.generate(prompts, params)
    assert [(c.text, c.n_tokens, c.finish_reason) for c in many] == [
        (c.text, c.n_tokens, c.finish_reason) for c in one
    ]


def test_sequences_in_one_batch_match_each_alone(batched: Any) -> None:
    """The unified-KV trap: other sequences' cells must not leak into a sequence's attention.

    With ``kv_unified = true`` sequences at the same positions moved log-probs by up to 0.41
    nats. Greedy samples of one prompt sit at the same positions in every lane; each must equal
    the sample generated alone, bit for bit.
    """
    prompt = SHOTS + "Text: The meeting moved to"
    params = GenerationParams(max_tokens=10, temperature=0.0)
    [alone] = batched.generate([prompt], params)  # one prompt: the sequential path
    together = batched.generate([prompt] * 4, params)
    assert all(c == alone for c in together)
    assert alone.n_tokens == 10


def test_n_ctx_is_per_sequence_and_overflow_is_an_error() -> None:
    model = _model(4, n_ctx=256)
    try:
        assert model.n_ctx == 256
        long_text = "word " * 300
        with pytest.raises(UserError, match=r"n_ctx 256"):
            model.score([ScoreRequest(long_text, " end"), ScoreRequest("short", " one")])
        with pytest.raises(UserError, match=r"n_ctx"):
            model.generate([long_text, "short"], GenerationParams(max_tokens=2))
        near_full = "word " * 250
        params = GenerationParams(max_tokens=100, temperature=1.0)
        out = model.generate([near_full] * 3, params)
        assert all(model.count_tokens(near_full) + c.n_tokens <= 256 for c in out)
        assert any(c.n_tokens > 0 for c in out)
    finally:
        model.close()


@pytest.mark.parametrize("bad", [0, -1, 2.5, "8"])
def test_bad_batch_option(bad: Any) -> None:
    with pytest.raises(UserError, match="option batch"):
        _model(bad)
