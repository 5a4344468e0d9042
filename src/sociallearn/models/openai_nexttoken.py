"""Next-token distributions from an OpenAI-compatible server: top log-probs only.

The completions endpoint is asked for one token with ``logprobs=k`` (temperature 0) and the
``top_logprobs`` of that position are returned. **What this limits:** only the k likeliest tokens
are known (OpenAI's legacy completions allow k ≤ 5, vLLM 20 by default, llama.cpp's server its
``n_probs``); the rest of the distribution is unknown, and private generation counts it as zero.
That keeps the privacy guarantee (each teacher's vector still has mass ≤ 1) but loses utility when
the teachers' top tokens differ from the candidates. The chat endpoint cannot continue a partial
text token by token, so it is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sociallearn.errors import CapabilityError, UserError
from sociallearn.models.base import NEXT_TOKEN_CAPABILITY, TokenDistribution
from sociallearn.models.openai_responses import UnusableResponseError, _first_choice, _logprob

if TYPE_CHECKING:
    from sociallearn.models.openai_compat import OpenAICompatModel

#: k asked for when the caller wants "everything": the most common server limit.
DEFAULT_TOP = 20


def _parse(resp: Any, missing: str) -> TokenDistribution:
    choice = _first_choice(resp)
    logprobs = getattr(choice, "logprobs", None)
    tops = getattr(logprobs, "top_logprobs", None) if logprobs is not None else None
    if not tops:
        raise UnusableResponseError("no top log-probs in the response", capability=missing)
    first = tops[0]
    if not isinstance(first, dict) or not first:
        raise UnusableResponseError(
            f"top log-probs of the first token are {first!r}, not a mapping"
        )
    ranked = sorted(((str(t), _logprob(v)) for t, v in first.items()), key=lambda x: -x[1])
    return TokenDistribution(
        tokens=tuple(t for t, _ in ranked),
        logprobs=tuple(lp for _, lp in ranked),
        complete=False,
    )


def next_token_logprobs(
    model: OpenAICompatModel, prompts: Sequence[str], top: int | None
) -> list[TokenDistribution]:
    """The server's top-k next-token log-probs after each prompt (k = ``top`` or 20)."""
    if top is not None and top < 1:
        raise UserError(f"top: expected an integer >= 1 or None, got {top}")
    if model.chat:
        raise CapabilityError(
            f"{NEXT_TOKEN_CAPABILITY} need the completions endpoint of the server at "
            f"{model.base_url}; set the model option chat=false"
        )
    k = DEFAULT_TOP if top is None else top
    missing = (
        f"{NEXT_TOKEN_CAPABILITY} unavailable from the server at {model.base_url} (its responses "
        "carry no top log-probs); use the llamacpp backend or a vLLM / llama.cpp server"
    )

    def one(prompt: str) -> TokenDistribution:
        return model._call(
            model._client.completions.create,
            lambda resp: _parse(resp, missing),
            model=model.name,
            prompt=prompt,
            max_tokens=1,
            temperature=0.0,
            logprobs=k,
            extra_body=model.extra_body or None,
        )

    return model._map(one, prompts)
