"""What an OpenAI-compatible response must carry before it is used.

Every check raises :class:`UnusableResponseError` (retried by the backend, never cached or
stored) instead of turning a malformed answer into an empty or wrong one.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any


class UnusableResponseError(Exception):
    """A response that arrived but does not carry what was asked for (retried, never used).

    ``capability`` marks a fault that, when it persists, means the server lacks a feature (no
    log-probs at all) rather than that it misbehaved once.
    """

    def __init__(self, why: str, capability: str | None = None) -> None:
        super().__init__(why)
        self.capability = capability


def continuation_span(offsets: Sequence[int], text_len: int, start: int, end: int) -> list[int]:
    """Indices of the tokens whose characters overlap ``[start, end)``.

    ``offsets`` are the tokens' start offsets in a text of length ``text_len``; a token that
    straddles ``start`` (the BPE merged across the boundary) counts as part of the continuation.
    """
    picked: list[int] = []
    for i, begin in enumerate(offsets):
        stop = offsets[i + 1] if i + 1 < len(offsets) else text_len
        if begin < end and stop > start and stop > begin:
            picked.append(i)
    return picked


def _first_choice(resp: Any) -> Any:
    if isinstance(resp, str | bytes):
        head = " ".join(str(resp[:60]).split())
        raise UnusableResponseError(f"the response is not JSON but {head!r}")
    choices = getattr(resp, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise UnusableResponseError(f"the response has no choices ({choices!r})")
    return choices[0]


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise UnusableResponseError(f"the response's text is {value!r}, not a string")
    return value


def _logprob(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnusableResponseError(f"a token log-prob is {value!r}, not a number")
    if not math.isfinite(value) or value > 1e-4:
        raise UnusableResponseError(f"a token log-prob is {value!r}")
    return float(value)


def _logprob_list(values: Any, *, allow_none: bool) -> list[float | None]:
    if values is None:
        return []
    if not isinstance(values, list):
        raise UnusableResponseError(f"token log-probs are {values!r}, not a list")
    return [None if v is None and allow_none else _logprob(v) for v in values]


def _offsets(values: Any, n: int, tokens: Any) -> list[int]:
    if (
        not isinstance(values, list)
        or len(values) != n
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in values)
    ):
        raise UnusableResponseError(f"{n} token log-probs but text offsets {values!r}")
    if any(b < a for a, b in itertools.pairwise(values)):
        raise UnusableResponseError("text offsets go backwards")
    if isinstance(tokens, list) and len(tokens) != n:
        raise UnusableResponseError(f"{len(tokens)} tokens but {n} token log-probs")
    return list(values)


def _generated_logprobs(logprobs: Any, text_end: int, text: str, missing: str) -> list[float]:
    """The generated tokens' log-probs, without tokens past the returned text.

    Some servers (llama-cpp-python) also report the tokens of a stop string they cut off; their
    ``text_offset`` (counted from the start of the prompt) lies at or beyond the text's end.
    """
    if logprobs is None or getattr(logprobs, "token_logprobs", None) is None:
        if not text:
            return []
        raise UnusableResponseError("no log-probs for the generated text", capability=missing)
    values = _logprob_list(logprobs.token_logprobs, allow_none=False)
    tokens = getattr(logprobs, "tokens", None)
    offsets = getattr(logprobs, "text_offset", None)
    if offsets:
        offsets = _offsets(offsets, len(values), tokens)
        values = [v for v, o in zip(values, offsets, strict=True) if o < text_end]
    elif isinstance(tokens, list) and len(tokens) != len(values):
        raise UnusableResponseError(f"{len(tokens)} tokens but {len(values)} token log-probs")
    if text and not values:
        raise UnusableResponseError("no log-probs for the generated text")
    return [float(v) for v in values if v is not None]


def _chat_logprobs(logprobs: Any, text: str, missing: str) -> list[float]:
    content = getattr(logprobs, "content", None) if logprobs is not None else None
    if not content:
        if not text:
            return []
        raise UnusableResponseError("no log-probs for the generated text", capability=missing)
    if not isinstance(content, list):
        raise UnusableResponseError(f"log-prob content is {content!r}, not a list")
    return [_logprob(getattr(t, "logprob", None)) for t in content]


def _prompt_logprobs(
    choice: Any, prompt_len: int, missing: str
) -> tuple[list[float | None], list[int], int]:
    """vLLM's ``prompt_logprobs``: the prompt tokens' log-probs, start offsets and text end."""
    entries = getattr(choice, "prompt_logprobs", None)
    extra = getattr(choice, "model_extra", None)
    if entries is None and isinstance(extra, dict):
        entries = extra.get("prompt_logprobs")
    if not entries or not isinstance(entries, list):
        raise UnusableResponseError("no prompt_logprobs", capability=missing)
    values: list[float | None] = []
    lengths: list[int | None] = []
    for entry in entries:
        # vLLM: None for the first token, else {token_id: {logprob, rank, decoded_token}};
        # with prompt_logprobs=0 the only entry is the prompt token itself.
        if entry is None:
            values.append(None)
            lengths.append(None)
            continue
        if not isinstance(entry, dict) or not entry:
            raise UnusableResponseError(f"a prompt_logprobs entry is {entry!r}")
        info = next(iter(entry.values()))
        if not isinstance(info, dict):
            raise UnusableResponseError(f"a prompt_logprobs entry is {entry!r}")
        values.append(_logprob(info.get("logprob")))
        lengths.append(len(str(info.get("decoded_token") or "")))
    # The first token's text is not given; it is whatever the others leave of the prompt.
    known = sum(n for n in lengths if n is not None)
    offsets: list[int] = []
    pos = 0
    for n in lengths:
        offsets.append(pos)
        pos += n if n is not None else max(0, prompt_len - known)
    return values, offsets, pos


def _one_line(exc: BaseException | None) -> str:
    text = f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"
    return " ".join(text.split())[:300]
