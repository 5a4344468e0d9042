"""The OpenAI-compatible backend against a misbehaving server (tests/fault_server.py).

For every kind of fault: a persistent fault ends in one error line after a bounded number of
tries, and nothing is cached; an intermittent one (every second request) is retried and the
answers equal a healthy server's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fault_server import FaultServer
from sociallearn.errors import BackendError, CapabilityError, UserError
from sociallearn.models.base import GenerationParams, ScoreRequest
from sociallearn.models.cache import CachedModel
from sociallearn.models.openai_compat import OpenAICompatModel

pytest.importorskip("openai")

PROMPTS = ["Text: Win cash now\nClass:", "Text: Lunch at one?\nClass:", "Text: Call me\nClass:"]
PARAMS = GenerationParams(max_tokens=8, temperature=0.7, seed=3, stop=("\n\n",))
REQUESTS = [ScoreRequest(p, label) for p in PROMPTS[:2] for label in (" spam", " ham")]
# 200 responses that do not carry what was asked for.
UNUSABLE = [
    "null_text",
    "null_logprobs",
    "short_logprobs",
    "string_logprobs",
    "invalid_json",
    "html",
    "empty_choices",
]


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer(lifetime_s=120) as running:
        yield running


def _model(server: FaultServer, **options: Any) -> OpenAICompatModel:
    settings: dict[str, Any] = {"max_tries": 3, "backoff": 0.01, "timeout": 5.0, "concurrency": 1}
    settings.update(options)
    return OpenAICompatModel("m", base_url=server.url, **settings)


def _clean(server: FaultServer) -> tuple[list[Any], list[Any]]:
    model = _model(server)
    return model.generate(PROMPTS, PARAMS), model.score(REQUESTS)


def _one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("mode", UNUSABLE)
def test_unusable_generation_is_retried_then_one_error(server: FaultServer, mode: str) -> None:
    server.set_mode(mode)
    model = _model(server)
    with pytest.raises((BackendError, CapabilityError)) as info:
        model.generate(PROMPTS[:1], PARAMS)
    assert server.seen == 3  # max_tries, no more, no fewer
    text = _one_line(info.value)
    assert server.url in text
    if mode != "null_logprobs":  # a server that never sends log-probs lacks a capability
        assert isinstance(info.value, BackendError) and "max_tries=3" in text


@pytest.mark.parametrize("mode", UNUSABLE)
def test_unusable_scoring_is_retried_then_one_error(server: FaultServer, mode: str) -> None:
    server.set_mode(mode)
    with pytest.raises((BackendError, CapabilityError)) as info:
        _model(server).score(REQUESTS[:1])
    assert server.seen == 3
    _one_line(info.value)


@pytest.mark.parametrize("mode", [*UNUSABLE, "error_500", "reset"])
def test_every_other_request_failing_gives_the_healthy_answers(
    server: FaultServer, mode: str
) -> None:
    generated, scored = _clean(server)
    server.set_mode(mode, every=2)
    model = _model(server)
    assert model.generate(PROMPTS, PARAMS) == generated
    assert model.score(REQUESTS) == scored
    assert server.faults > 0


def test_concurrent_requests_with_every_other_failure(server: FaultServer) -> None:
    prompts = [f"Text: message {i}\nClass:" for i in range(12)]
    generated = _model(server).generate(prompts, PARAMS)
    server.set_mode("error_500", every=2)
    # Concurrent retries can land on failing slots again: more tries than a sequential client.
    model = _model(server, concurrency=4, max_tries=8)
    assert model.generate(prompts, PARAMS) == generated
    assert server.faults > 0


@pytest.mark.parametrize("mode", ["null_text", "short_logprobs", "html", "empty_choices"])
def test_nothing_unusable_is_cached_and_the_rerun_equals_a_clean_run(
    server: FaultServer, tmp_path: Path, mode: str
) -> None:
    generated, scored = _clean(server)
    cached = CachedModel(_model(server), tmp_path / "cache.sqlite")
    server.set_mode(mode)
    with pytest.raises((BackendError, CapabilityError)):
        cached.generate(PROMPTS, PARAMS)
    with pytest.raises((BackendError, CapabilityError)):
        cached.score(REQUESTS)
    assert len(cached.cache) == 0
    server.set_mode("ok")  # the server recovers
    assert cached.generate(PROMPTS, PARAMS) == generated
    assert cached.score(REQUESTS) == scored
    assert len(cached.cache) == len(PROMPTS) + len(REQUESTS)


def test_rate_limit_honours_retry_after(server: FaultServer) -> None:
    generated, _ = _clean(server)
    server.set_mode("rate_limit", limit=1, retry_after="1.5")
    started = time.monotonic()
    assert _model(server).generate(PROMPTS[:1], PARAMS) == generated[:1]
    # The client's own backoff for a first retry is at most 0.5 s: 1.5 s is the server's.
    assert time.monotonic() - started >= 1.4
    assert server.seen == 2


def test_persistent_rate_limit_is_one_line_with_the_budget(server: FaultServer) -> None:
    server.set_mode("rate_limit", retry_after="0.1")
    with pytest.raises(BackendError) as info:
        _model(server, max_tries=2).generate(PROMPTS[:1], PARAMS)
    text = _one_line(info.value)
    assert "after 2 tries" in text and "429" in text and "max_tries=2" in text
    assert server.seen == 2


def test_slow_response_times_out_and_is_retried(server: FaultServer) -> None:
    generated, _ = _clean(server)
    server.set_mode("slow", limit=1, delay=2.0)
    assert _model(server, timeout=0.5).generate(PROMPTS[:1], PARAMS) == generated[:1]
    assert server.seen == 2


def test_persistent_slowness_and_resets_end_in_one_line(server: FaultServer) -> None:
    server.set_mode("slow", delay=1.0)
    with pytest.raises(BackendError, match="cannot reach OpenAI-compatible server") as info:
        _model(server, timeout=0.2, max_tries=2).generate(PROMPTS[:1], PARAMS)
    _one_line(info.value)
    server.set_mode("reset")
    with pytest.raises(BackendError, match="after 2 tries") as info:
        _model(server, max_tries=2).generate(PROMPTS[:1], PARAMS)
    _one_line(info.value)


def test_retry_budget_bounds_the_time_spent(server: FaultServer) -> None:
    server.set_mode("null_text")
    started = time.monotonic()
    with pytest.raises(BackendError, match=r"retry_budget=0\.5s"):
        _model(server, max_tries=50, backoff=0.2, retry_budget=0.5).generate(PROMPTS[:1], PARAMS)
    assert time.monotonic() - started < 2.0
    assert server.seen < 6


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("timeout", "abc"),
        ("max_tries", 0),
        ("max_tries", 2.5),
        ("backoff", -1),
        ("concurrency", "x"),
    ],
)
def test_bad_option_values_are_one_clear_error(option: str, value: Any) -> None:
    with pytest.raises(UserError, match=f"option {option}: expected"):
        OpenAICompatModel("m", base_url="http://127.0.0.1:9/v1", **{option: value})
