"""Response cache: samples stay distinct, parameter changes miss, a rerun costs nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from sociallearn.errors import UserError
from sociallearn.models.base import (
    Completion,
    GenerationParams,
    LanguageModel,
    Score,
    ScoreRequest,
)
from sociallearn.models.cache import CachedModel, ResponseCache, generation_key, score_key
from sociallearn.models.fake import FakeModel

PARAMS = GenerationParams(max_tokens=30, temperature=1.0, seed=5)
PROMPT = "Text: free tickets, call now\nClass: spam\n\nText: on my way home\nClass: not spam\n\n"


class CountingModel:
    """Wraps the fake and records each batch it receives."""

    def __init__(self) -> None:
        self.inner = FakeModel()
        self.generate_batches: list[list[str]] = []
        self.score_batches: list[list[ScoreRequest]] = []

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    def generate(self, prompts: Sequence[str], params: GenerationParams) -> list[Completion]:
        self.generate_batches.append(list(prompts))
        return self.inner.generate(prompts, params)

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        self.score_batches.append(list(requests))
        return self.inner.score(requests)


def test_cached_model_is_a_language_model(tmp_path: Path) -> None:
    assert isinstance(CachedModel(FakeModel(), tmp_path / "c.sqlite"), LanguageModel)


def test_rerun_is_served_from_cache(tmp_path: Path) -> None:
    inner = CountingModel()
    model = CachedModel(inner, tmp_path / "c.sqlite")
    first = model.generate([PROMPT] * 3, PARAMS)
    assert model.misses == 3
    assert inner.generate_batches == [[PROMPT] * 3]  # misses go out in one batch
    again = CachedModel(inner, tmp_path / "c.sqlite").generate([PROMPT] * 3, PARAMS)
    assert again == first
    assert len(inner.generate_batches) == 1


def test_cached_samples_equal_uncached_and_stay_distinct(tmp_path: Path) -> None:
    direct = FakeModel().generate([PROMPT] * 4, PARAMS)
    cached = CachedModel(FakeModel(), tmp_path / "c.sqlite").generate([PROMPT] * 4, PARAMS)
    assert cached == direct
    assert len({c.text for c in cached}) > 1


def test_new_sample_index_forwards_with_the_right_index(tmp_path: Path) -> None:
    inner = CountingModel()
    model = CachedModel(inner, tmp_path / "c.sqlite")
    two = model.generate([PROMPT] * 2, PARAMS)
    three = model.generate([PROMPT] * 3, PARAMS)
    assert three[:2] == two
    # The third sample must be the one a fresh batch of three gives, not a copy of sample 0.
    assert three[2] == FakeModel().generate([PROMPT] * 3, PARAMS)[2]
    assert model.hits == 2
    assert model.misses == 2 + 1


@pytest.mark.parametrize(
    "changed",
    [
        GenerationParams(max_tokens=31, temperature=1.0, seed=5),
        GenerationParams(max_tokens=30, temperature=0.7, seed=5),
        GenerationParams(max_tokens=30, temperature=1.0, seed=6),
        GenerationParams(max_tokens=30, temperature=1.0, seed=5, stop=("\n",)),
        GenerationParams(max_tokens=30, temperature=1.0, seed=5, grammar='root ::= "a"'),
    ],
)
def test_any_parameter_change_misses(tmp_path: Path, changed: GenerationParams) -> None:
    model = CachedModel(FakeModel(), tmp_path / "c.sqlite")
    model.generate([PROMPT], PARAMS)
    model.generate([PROMPT], changed)
    assert model.misses == 2
    assert generation_key("m", PROMPT, PARAMS, 0) != generation_key("m", PROMPT, changed, 0)


def test_keys_separate_models_prompts_and_indices() -> None:
    base = generation_key("fake:a", PROMPT, PARAMS, 0)
    assert base == generation_key("fake:a", PROMPT, PARAMS, 0)
    assert base != generation_key("fake:b", PROMPT, PARAMS, 0)
    assert base != generation_key("fake:a", PROMPT + " ", PARAMS, 0)
    assert base != generation_key("fake:a", PROMPT, PARAMS, 1)
    req = ScoreRequest("ctx", " spam")
    assert score_key("fake:a", req) != score_key("fake:a", ScoreRequest("ctx", " ham"))
    assert score_key("fake:a", req) != score_key("fake:b", req)


def test_scores_hit_and_miss(tmp_path: Path) -> None:
    inner = CountingModel()
    model = CachedModel(inner, tmp_path / "c.sqlite")
    reqs = [ScoreRequest(PROMPT, " spam"), ScoreRequest(PROMPT, " not spam")]
    first = model.score(reqs)
    assert first == FakeModel().score(reqs)
    assert [s.token_logprobs for s in first] == [s.token_logprobs for s in FakeModel().score(reqs)]
    more = [*reqs, ScoreRequest(PROMPT, " maybe"), reqs[0]]
    second = model.score(more)
    assert second[:2] == first and second[3] == first[0]
    # Only the new request went to the model, in one batch.
    assert inner.score_batches == [reqs, [ScoreRequest(PROMPT, " maybe")]]
    assert model.hits == 3


def test_cache_file_is_wal_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.sqlite"
    cache = ResponseCache(path)
    cache.put_many([("k", "fake:x", "score", {"v": 1})])
    assert cache.get_many(["k", "absent"]) == {"k": {"v": 1}}
    assert len(cache) == 1
    cache.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unusable_cache_path_is_a_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cache path"):
        ResponseCache(blocker / "c.sqlite")


def test_many_keys_are_looked_up_in_chunks(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.put_many((f"k{i}", "m", "score", i) for i in range(1200))
    found = cache.get_many(f"k{i}" for i in range(0, 1300, 2))
    assert len(found) == 600
    assert found["k1198"] == 1198


class FileBackedModel(CountingModel):
    """The fake, as a backend that knows the content of its model file would present it."""

    def __init__(self, content_digest: str) -> None:
        super().__init__()
        self.content_digest = content_digest


def test_a_model_file_replaced_at_the_same_path_is_not_served_the_old_answers(
    tmp_path: Path,
) -> None:
    request = ScoreRequest(PROMPT, " spam")
    old = FileBackedModel("aaaa")
    CachedModel(old, tmp_path / "c.sqlite").score([request])
    again = CachedModel(old, tmp_path / "c.sqlite")
    again.score([request])
    assert (again.hits, again.misses) == (1, 0)
    # Same model id (the file's name), other bytes: every answer is asked again.
    replaced = FileBackedModel("bbbb")
    assert replaced.model_id == old.model_id
    model = CachedModel(replaced, tmp_path / "c.sqlite")
    model.score([request])
    model.generate([PROMPT], PARAMS)
    assert (model.hits, model.misses) == (0, 2)
    assert len(replaced.score_batches) == 1 and len(replaced.generate_batches) == 1
    assert model.cache_id == f"{old.model_id}#bbbb"
