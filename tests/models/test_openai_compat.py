"""OpenAI-compatible backend logic on a scripted client (no network): retries, parsing, errors."""

from __future__ import annotations

import importlib
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from sociallearn.errors import BackendError, CapabilityError, UserError
from sociallearn.models.base import GenerationParams, LanguageModel, ScoreRequest, derive_seed
from sociallearn.models.openai_compat import OpenAICompatModel
from sociallearn.models.openai_responses import continuation_span

openai = pytest.importorskip("openai")


def _http() -> Any:
    # openai 3.x ships its transport as httpx2; older releases use httpx.
    for name in ("httpx2", "httpx"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    pytest.skip("no httpx transport found")


def _status_error(cls: Any, status: int) -> Exception:
    http = _http()
    request = http.Request("POST", "http://test/v1/completions")
    error: Exception = cls(
        f"status {status}", response=http.Response(status, request=request), body=None
    )
    return error


def _echo_choice(tokens: list[str], logprobs: list[float | None], generated: str) -> Any:
    offsets, pos = [], 0
    for t in tokens:
        offsets.append(pos)
        pos += len(t)
    lp = SimpleNamespace(tokens=tokens, text_offset=offsets, token_logprobs=logprobs)
    return SimpleNamespace(text="".join(tokens) + generated, logprobs=lp, finish_reason="length")


class ScriptedCompletions:
    def __init__(self, replies: list[Any]) -> None:
        self.replies = replies
        self.calls: list[dict[str, Any]] = []

    def create(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            reply = reply(kwargs)
        return SimpleNamespace(choices=[reply])


def _model(replies: list[Any], **options: Any) -> tuple[OpenAICompatModel, ScriptedCompletions]:
    completions = ScriptedCompletions(replies)
    client = SimpleNamespace(completions=completions)
    options.setdefault("backoff", 0.001)
    options.setdefault("concurrency", 1)
    model = OpenAICompatModel("m", base_url="http://test/v1", client=client, **options)
    return model, completions


def test_is_a_language_model_with_a_stable_id() -> None:
    model, _ = _model([None])
    assert isinstance(model, LanguageModel)
    assert model.model_id == "openai:m@http://test/v1"


def test_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://envhost:9/v1/")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = OpenAICompatModel("m")
    assert model.base_url == "http://envhost:9/v1"


def test_missing_key_for_openai_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(UserError, match="OPENAI_API_KEY"):
        OpenAICompatModel("gpt-x")


def test_missing_openai_package_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(UserError, match="pip install"):
        OpenAICompatModel("m", base_url="http://test/v1")


def test_generation_sends_per_sample_seeds_and_sums_logprobs() -> None:
    choice = SimpleNamespace(
        text=" spam",
        logprobs=SimpleNamespace(token_logprobs=[-0.5, -0.25]),
        finish_reason="stop",
    )
    model, completions = _model([choice])
    params = GenerationParams(max_tokens=5, temperature=0.7, seed=4, stop=("\n",))
    out = model.generate(["p", "p", "q"], params)
    assert [c.logprob_sum for c in out] == [-0.75] * 3
    assert out[0].n_tokens == 2 and not out[0].constrained
    seeds = [call["seed"] for call in completions.calls]
    assert seeds == [derive_seed(4, 0), derive_seed(4, 1), derive_seed(4, 0)]
    assert completions.calls[0]["stop"] == ["\n"]


def test_grammar_is_sent_only_when_a_field_is_configured() -> None:
    choice = SimpleNamespace(
        text="a", logprobs=SimpleNamespace(token_logprobs=[-1.0]), finish_reason="stop"
    )
    params = GenerationParams(grammar='root ::= "a"')
    model, calls = _model([choice])
    [c] = model.generate(["p"], params)
    assert not c.constrained and calls.calls[0]["extra_body"] is None
    model, calls = _model([choice], grammar_field="grammar")
    [c] = model.generate(["p"], params)
    assert c.constrained and calls.calls[0]["extra_body"] == {"grammar": 'root ::= "a"'}


def test_unusable_responses_are_retried_then_succeed() -> None:
    choice = SimpleNamespace(
        text="x", logprobs=SimpleNamespace(token_logprobs=[-1.0]), finish_reason="stop"
    )
    no_text = SimpleNamespace(text=None, logprobs=None, finish_reason="stop")
    flaky = [no_text, "<html>busy</html>", choice]
    model, completions = _model(flaky, max_tries=3)
    [c] = model.generate(["p"], GenerationParams())
    assert c.text == "x"
    assert len(completions.calls) == 3


def test_an_empty_answer_is_never_taken_as_a_result() -> None:
    # The bug this guards against: "text": null became "" and was scored as a wrong answer.
    no_text = SimpleNamespace(text=None, logprobs=None, finish_reason="stop")
    model, completions = _model([no_text], max_tries=2)
    with pytest.raises(BackendError, match="unusable responses"):
        model.generate(["p"], GenerationParams())
    assert len(completions.calls) == 2


def test_gives_up_with_one_line_after_the_clients_retries() -> None:
    # Transport failures are retried by the openai client itself (max_retries = max_tries - 1,
    # Retry-After honoured); when one still comes through, the budget is spent.
    model, completions = _model([_status_error(openai.InternalServerError, 500)], max_tries=2)
    with pytest.raises(BackendError) as info:
        model.generate(["p"], GenerationParams())
    assert len(completions.calls) == 1
    message = str(info.value)
    assert message.startswith("cannot reach OpenAI-compatible server at http://test/v1 after 2")
    assert "max_tries=2" in message
    assert "\n" not in message


def test_the_client_retries_transport_failures_itself() -> None:
    model = OpenAICompatModel("m", base_url="http://test/v1", max_tries=4)
    assert model._client.max_retries == 3


def test_client_errors_are_not_retried() -> None:
    model, completions = _model([_status_error(openai.BadRequestError, 400)])
    with pytest.raises(BackendError, match="rejected the request"):
        model.generate(["p"], GenerationParams())
    assert len(completions.calls) == 1


def test_continuation_span_by_offsets() -> None:
    # "Class:" + " spam" as tokens "Class", ":", " sp", "am" (+ a generated token after).
    offsets = [0, 5, 6, 9]
    assert continuation_span(offsets, 11, 6, 11) == [2, 3]
    # A token straddling the boundary belongs to the continuation.
    assert continuation_span([0, 4], 9, 5, 9) == [1]
    assert continuation_span([0, 3, 7], 9, 5, 9) == [1, 2]


def test_echo_scoring_picks_continuation_tokens() -> None:
    pieces = ["1", ",", " 2", ",", " 3", ",", " 4", ",", " 5", ",", " 6", ","]
    probe = _echo_choice(pieces, [None] + [-0.1] * 11, " 7")
    probe.logprobs.text_offset.append(len("1, 2, 3, 4, 5, 6,"))
    probe.logprobs.tokens.append(" 7")
    probe.logprobs.token_logprobs.append(-0.05)
    scored = _echo_choice(["Class", ":", " sp", "am"], [None, -2.0, -0.5, -0.25], "\n")

    def reply(kwargs: dict[str, Any]) -> Any:
        return probe if kwargs["prompt"].startswith("1, 2") else scored

    model, completions = _model([reply])
    [s] = model.score([ScoreRequest("Class:", " spam")])
    assert s.n_tokens == 2
    assert s.logprob_sum == pytest.approx(-0.75)
    assert completions.calls[-1]["echo"] is True
    assert completions.calls[-1]["max_tokens"] == 1


def test_shifted_echo_server_is_refused() -> None:
    # Misaligned servers return no entry for the generated token: the probe catches it.
    def reply(kwargs: dict[str, Any]) -> Any:
        chars = list(kwargs["prompt"])
        return _echo_choice(chars, [None] + [-9.0] * (len(chars) - 1), " 7")

    model, calls = _model([reply])
    with pytest.raises(CapabilityError, match=r"prompt log-probs for scoring.*shifted"):
        model.score([ScoreRequest("a", " b")])
    assert len(calls.calls) == 1  # refused after the probe, before scoring anything


def test_server_without_prompt_logprobs_is_a_capability_error() -> None:
    choice = SimpleNamespace(text="1, 2, 3, 4, 5, 6, 7", logprobs=None, finish_reason="length")
    model, _ = _model([choice])
    with pytest.raises(CapabilityError, match="llamacpp"):
        model.score([ScoreRequest("a", " b")])


def test_vllm_prompt_logprobs_scoring() -> None:
    entries = [
        None,
        {"25": {"logprob": -2.0, "rank": 3, "decoded_token": ":"}},
        {"991": {"logprob": -0.5, "rank": 1, "decoded_token": " sp"}},
        {"12": {"logprob": -0.25, "rank": 1, "decoded_token": "am"}},
    ]
    choice = SimpleNamespace(text="\n", prompt_logprobs=entries, logprobs=None, model_extra={})
    model, completions = _model([choice], scoring="prompt_logprobs")
    [s] = model.score([ScoreRequest("Class:", " spam")])
    assert s.token_logprobs == (-0.5, -0.25)
    assert completions.calls[0]["extra_body"] == {"prompt_logprobs": 0}


def test_unreachable_server_fails_fast(unused_port: int) -> None:
    port = unused_port
    model = OpenAICompatModel(
        "m", base_url=f"http://127.0.0.1:{port}/v1", timeout=2.0, max_tries=2, backoff=0.05
    )
    with pytest.raises(BackendError) as info:
        model.generate(["hello"], GenerationParams(max_tokens=2))
    assert str(info.value).startswith(
        f"cannot reach OpenAI-compatible server at http://127.0.0.1:{port}/v1 after 2 tries"
    )
