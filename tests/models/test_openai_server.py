"""The OpenAI-compatible backend against a real llama-cpp-python server on 127.0.0.1.

The server runs the same embedded GGUF as the in-process backend, so the two must agree: greedy
generations are identical, and scores agree when the server's echo log-probs are aligned (model
served with a BOS token). Served as is (SmolLM2 adds no BOS), llama-cpp-python's echo log-probs are
shifted by one token; the backend must detect that and refuse to score.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from sociallearn.errors import CapabilityError, UserError
from sociallearn.models.base import GenerationParams, ScoreRequest

if TYPE_CHECKING:
    from sociallearn.models.openai_compat import OpenAICompatModel

pytestmark = [pytest.mark.server, pytest.mark.embedded]

SHOTS = "Text: Claim your prize now!\nClass: spam\n\nText: Dinner at 8?\nClass: not spam\n\n"
# The server's defaults add a repeat penalty; switch it off to compare with plain greedy decoding.
NO_PENALTY = {"repeat_penalty": 1.0}


def _client_model(url: str) -> OpenAICompatModel:
    from sociallearn.models.openai_compat import OpenAICompatModel

    return OpenAICompatModel("smollm2", base_url=url, timeout=60.0, extra_body=NO_PENALTY)


def test_greedy_generation_matches_embedded(server_url: str, embedded_model: Any) -> None:
    model = _client_model(server_url)
    prompts = [SHOTS + "Text: Win a free cruise\nClass:", "The three primary colours are"]
    params = GenerationParams(max_tokens=12, temperature=0.0, stop=("\n\n",))
    served = model.generate(prompts, params)
    local = embedded_model.generate(prompts, params)
    for s, loc in zip(served, local, strict=True):
        assert s.text == loc.text
        assert s.n_tokens == loc.n_tokens > 0
        # The server decodes one token at a time, whose kernels round slightly differently.
        assert s.logprob_sum == pytest.approx(loc.logprob_sum, abs=0.05)


def test_seeded_sampling_is_reproducible_and_diverse(server_url: str) -> None:
    model = _client_model(server_url)

    def sample(seed: int) -> str:
        # The server reuses the KV cache of its previous prompt and re-evaluates only the last
        # prompt token; one-token kernels round differently from a whole-prompt evaluation (on
        # an AVX-512 build, enough to change a temperature-1 sample). An unrelated prompt first
        # empties that cache, so every sample starts from the same state.
        model.generate(["Unrelated words"], GenerationParams(max_tokens=1, temperature=0.0))
        params = GenerationParams(max_tokens=10, temperature=1.0, seed=seed)
        return model.generate([SHOTS + "Text:"], params)[0].text

    first = [sample(seed) for seed in (5, 6, 7)]
    again = [sample(seed) for seed in (5, 6, 7)]
    assert first == again
    assert len(set(first)) > 1


def test_grammar_through_the_server(server_url: str) -> None:
    from sociallearn.models.openai_compat import OpenAICompatModel

    model = OpenAICompatModel("smollm2", base_url=server_url, grammar_field="grammar")
    params = GenerationParams(max_tokens=8, temperature=1.0, grammar='root ::= "spam" | "ham"')
    out = model.generate([SHOTS + "Text: hello\nClass: "] * 2, params)
    assert all(c.text in {"spam", "ham"} and c.constrained for c in out)


def test_shifted_echo_logprobs_are_refused(server_url: str) -> None:
    model = _client_model(server_url)
    with pytest.raises(CapabilityError, match="shifted by one token"):
        model.score([ScoreRequest("The capital of France is", " Paris")])


def test_aligned_echo_scores_match_embedded(bos_server_url: str) -> None:
    from sociallearn.models.llamacpp import LlamaCppModel

    model = _client_model(bos_server_url)
    reqs = [
        ScoreRequest("The capital of France is", " Paris"),
        ScoreRequest("The capital of France is", " a large city"),
        ScoreRequest(SHOTS + "Text: Free ringtones\nClass:", " not spam"),
    ]
    served = model.score(reqs)
    local_model = LlamaCppModel.from_spec("smollm2", n_ctx=1024, n_threads=1, add_bos=True)
    try:
        local = local_model.score(reqs)
    finally:
        local_model.close()
    for s, loc in zip(served, local, strict=True):
        assert s.n_tokens == loc.n_tokens > 0
        assert np.allclose(s.token_logprobs, loc.token_logprobs, atol=1e-3)


def test_a_pool_of_servers_listing_different_models_is_refused(
    server_url: str, f32_server_url: str
) -> None:
    """Two real servers: the embedded GGUF and its float32 copy, as one model's endpoints."""
    from sociallearn.models.openai_compat import OpenAICompatModel

    assert _client_model(server_url).content_digest is not None  # it lists its model
    pool = OpenAICompatModel("smollm2", base_url=[server_url, f32_server_url])
    with pytest.raises(UserError, match="serve different models") as info:
        pool.generate(["The sky is"], GenerationParams(max_tokens=2, temperature=0.0))
    assert "f32" in str(info.value) and "\n" not in str(info.value)
