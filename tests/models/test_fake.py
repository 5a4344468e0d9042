"""The fake model keeps the LanguageModel contract: determinism, diversity, stops, scores."""

from __future__ import annotations

from sociallearn.models.base import (
    GenerationParams,
    LanguageModel,
    ScoreRequest,
    common_prefix,
    derive_seed,
    sample_indices,
)
from sociallearn.models.fake import FakeModel
from sociallearn.models.registry import create_model

PROMPT = "Text: win a free phone now\nClass: spam\n\nText: see you at lunch\nClass: not spam\n\n"


def test_fake_is_a_language_model() -> None:
    model = create_model("fake")
    assert isinstance(model, LanguageModel)
    assert model.model_id == "fake:fake"


def test_generation_is_deterministic_across_instances() -> None:
    params = GenerationParams(max_tokens=20, temperature=1.0, seed=3)
    a = FakeModel().generate([PROMPT, PROMPT], params)
    b = FakeModel().generate([PROMPT, PROMPT], params)
    assert a == b


def test_repeated_prompts_are_distinct_samples() -> None:
    params = GenerationParams(max_tokens=50, temperature=1.0, seed=0)
    texts = [c.text for c in FakeModel().generate([PROMPT] * 6, params)]
    assert len(set(texts)) > 1


def test_seed_changes_samples() -> None:
    texts = {
        FakeModel().generate([PROMPT], GenerationParams(max_tokens=50, seed=s))[0].text
        for s in range(6)
    }
    assert len(texts) > 1


def test_sample_indices_and_derived_seeds() -> None:
    assert sample_indices(["a", "b", "a", "a", "b"]) == [0, 0, 1, 2, 1]
    seeds = {derive_seed(7, i) for i in range(100)}
    assert len(seeds) == 100
    assert derive_seed(7, 3) == derive_seed(7, 3)


def test_common_prefix_counts_the_shared_leading_tokens() -> None:
    assert common_prefix([1, 2, 3, 4], [1, 2, 9, 4]) == 2
    assert common_prefix([1, 2], [1, 2, 3]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([5], [6]) == 0


def test_stop_strings_cut_the_text() -> None:
    model = FakeModel(replies=["spam\nText: more"])
    [c] = model.generate([PROMPT], GenerationParams(stop=("\n",)))
    assert c.text == "spam"
    assert c.n_tokens == 1


def test_max_tokens_limits_the_count() -> None:
    model = FakeModel(replies=["one two three four five"])
    [c] = model.generate([PROMPT], GenerationParams(max_tokens=2))
    assert c.n_tokens == 2
    assert c.text == "one two"


def test_preferences_make_a_label_win() -> None:
    model = FakeModel(preferences=["not spam"])
    spam, ham = model.score([ScoreRequest(PROMPT, " spam"), ScoreRequest(PROMPT, " not spam")])
    assert ham.logprob_sum > spam.logprob_sum
    assert spam.n_tokens == 1
    assert ham.n_tokens == 2


def test_scores_are_stable_and_per_token() -> None:
    req = ScoreRequest("Text: hello\nClass:", " not spam")
    [a] = FakeModel().score([req])
    [b] = FakeModel().score([req])
    assert a == b
    assert len(a.token_logprobs) == a.n_tokens
    assert abs(sum(a.token_logprobs) - a.logprob_sum) < 1e-12
