"""Next-token distributions from an OpenAI-compatible server: top-k log-probs only."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from sociallearn.errors import CapabilityError

PROMPT = "Text: win a free phone now\nClass: spam\n\nText: lunch at noon?\nClass:"


def _openai_model(reply: Any, **options: Any) -> tuple[Any, list[dict[str, Any]]]:
    pytest.importorskip("openai")
    from sociallearn.models.openai_compat import OpenAICompatModel

    calls: list[dict[str, Any]] = []

    def create(**kwargs: Any) -> Any:
        calls.append(kwargs)
        return SimpleNamespace(choices=[reply])

    client = SimpleNamespace(completions=SimpleNamespace(create=create))
    model = OpenAICompatModel(
        "m", base_url="http://test/v1", client=client, backoff=0.001, **options
    )
    return model, calls


def test_openai_gives_top_logprobs_only() -> None:
    top = {" spam": -0.2, " ham": -1.9, " not": -3.0}
    choice = SimpleNamespace(
        text=" spam", logprobs=SimpleNamespace(top_logprobs=[top]), finish_reason="length"
    )
    model, calls = _openai_model(choice)
    [dist] = model.next_token_logprobs([PROMPT], top=3)
    assert not dist.complete
    assert dist.tokens == (" spam", " ham", " not")
    assert dist.logprobs == (-0.2, -1.9, -3.0)
    assert calls[0]["logprobs"] == 3 and calls[0]["max_tokens"] == 1
    assert calls[0]["temperature"] == 0.0


def test_openai_without_top_logprobs_is_a_capability_error() -> None:
    choice = SimpleNamespace(text=" x", logprobs=None, finish_reason="length")
    model, _ = _openai_model(choice, max_tries=1)
    with pytest.raises(CapabilityError, match="next-token distributions unavailable"):
        model.next_token_logprobs([PROMPT])


def test_openai_chat_mode_is_refused() -> None:
    model, calls = _openai_model(None, chat=True)
    with pytest.raises(CapabilityError, match="chat=false"):
        model.next_token_logprobs([PROMPT])
    assert not calls
