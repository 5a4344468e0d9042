"""Any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, OpenAI) via the ``openai`` client.

Generation uses the completions endpoint (or chat completions with ``chat=True``). Scoring needs
the log-probs of *prompt* tokens, which only some servers give:

* ``scoring="echo"`` (default): completions with ``echo=True, logprobs=1, max_tokens=1``; the
  continuation's tokens are found by their character offsets (``text_offset``).
* ``scoring="prompt_logprobs"``: vLLM's ``prompt_logprobs`` extra field.

llama-cpp-python's server pairs each echoed token with the logits *at* that token instead of the
ones before it when the model adds no BOS token (SmolLM2 for one): the values are then wrong. The
first score call sends one probe to detect this (the generated token goes missing from the echoed
log-probs in that case) and refuses to score with a :class:`CapabilityError` rather than return
wrong numbers. Serving the model with a BOS token (``--kv_overrides
tokenizer.ggml.add_bos_token=bool:true``) gives aligned values.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sociallearn.errors import BackendError, CapabilityError, UserError
from sociallearn.models.base import (
    Completion,
    GenerationParams,
    Score,
    ScoreRequest,
    derive_seed,
    sample_indices,
)

T = TypeVar("T")

_INSTALL_HINT = "the openai backend needs the 'openai' package: pip install 'openai>=1.30'"
_SCORE_CAPABILITY = "prompt log-probs for scoring"
_HAVE_SCORING = "the llamacpp backend (embedded GGUF) or a vLLM server"
_PROBE = "1, 2, 3, 4, 5, 6,"
_DEFAULT_URL = "https://api.openai.com/v1"


def _import_openai() -> Any:
    try:
        import openai
    except ImportError as exc:
        raise UserError(_INSTALL_HINT) from exc
    return openai


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


class OpenAICompatModel:
    """A model behind an OpenAI-compatible HTTP API.

    Args:
        name: the served model's name (``--model openai:<name>``).
        base_url / api_key: default to ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``.
        chat: generate through chat completions (the prompt becomes one user message).
        scoring: ``"echo"`` or ``"prompt_logprobs"`` (vLLM), see the module doc.
        timeout: seconds per request.
        max_tries: attempts per request on 429, 5xx, timeouts and connection errors.
        backoff: first retry delay in seconds; doubles on each retry.
        concurrency: requests in flight at once.
        grammar_field: request field that carries ``GenerationParams.grammar`` (``"grammar"``
            for llama.cpp servers, ``"guided_grammar"`` for vLLM); without it grammars are ignored.
        extra_body: extra fields sent with every request (e.g. ``{"repeat_penalty": 1.0}``).
        client: a ready ``openai.OpenAI`` client (tests).
    """

    def __init__(
        self,
        name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        chat: bool = False,
        scoring: str = "echo",
        timeout: float = 60.0,
        max_tries: int = 3,
        backoff: float = 0.5,
        concurrency: int = 4,
        grammar_field: str | None = None,
        extra_body: dict[str, Any] | None = None,
        client: Any = None,
    ) -> None:
        if not name:
            raise UserError("--model openai:<name>: the served model's name is missing")
        if scoring not in ("echo", "prompt_logprobs"):
            raise UserError(
                f"option scoring: expected 'echo' or 'prompt_logprobs', got {scoring!r}"
            )
        if max_tries < 1:
            raise UserError(f"option max_tries: expected an integer >= 1, got {max_tries}")
        self.name = name
        env_url = os.environ.get("OPENAI_BASE_URL")
        self.base_url = (base_url or env_url or _DEFAULT_URL).rstrip("/")
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if key is None:
            if self.base_url == _DEFAULT_URL:
                raise UserError("openai backend: set OPENAI_API_KEY (or the api_key option)")
            key = "no-key"  # local servers accept any key, but the client insists on one
        self.chat = chat
        self.scoring = scoring
        self.max_tries = max_tries
        self.backoff = backoff
        self.concurrency = max(1, concurrency)
        self.grammar_field = grammar_field
        self.extra_body = dict(extra_body or {})
        self._openai = _import_openai()
        self._client = client or self._openai.OpenAI(
            base_url=self.base_url, api_key=key, timeout=timeout, max_retries=0
        )
        self._echo_checked = False

    @property
    def model_id(self) -> str:
        return f"openai:{self.name}@{self.base_url}"

    # ------------------------------------------------------------------------ transport

    def _call(self, fn: Callable[..., T], **kwargs: Any) -> T:
        """Call the API with bounded retries and exponential backoff on transient failures."""
        oa = self._openai
        last: Exception | None = None
        for attempt in range(self.max_tries):
            try:
                return fn(**kwargs)
            except (oa.APIConnectionError, oa.RateLimitError, oa.InternalServerError) as exc:
                last = exc
            except oa.APIStatusError as exc:
                if exc.status_code < 500:
                    raise BackendError(
                        f"OpenAI-compatible server at {self.base_url} rejected the request "
                        f"({exc.status_code}): {_one_line(exc)}"
                    ) from exc
                last = exc
            if attempt + 1 < self.max_tries:
                time.sleep(self.backoff * 2**attempt)
        raise BackendError(
            f"cannot reach OpenAI-compatible server at {self.base_url} after {self.max_tries} "
            f"tries: {_one_line(last)}"
        ) from last

    def _map(self, fn: Callable[[T], Any], items: Sequence[T]) -> list[Any]:
        if self.concurrency == 1 or len(items) < 2:
            return [fn(x) for x in items]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(fn, items))

    # ------------------------------------------------------------------------ generation

    def generate(self, prompts: Sequence[str], params: GenerationParams) -> list[Completion]:
        """Sample per prompt; the j-th repeat of a prompt is sent with ``derive_seed(seed, j)``.

        ``logprob_sum`` is what the server reports for the sampled tokens (vLLM and llama.cpp
        report the model's distribution before sampling filters).
        """
        jobs = list(zip(prompts, sample_indices(prompts), strict=True))
        return self._map(lambda job: self._generate_one(job[0], params, job[1]), jobs)

    def _request_body(self, params: GenerationParams) -> tuple[dict[str, Any], bool]:
        body = dict(self.extra_body)
        constrained = params.grammar is not None and self.grammar_field is not None
        if constrained and self.grammar_field:
            body[self.grammar_field] = params.grammar
        return body, constrained

    def _generate_one(self, prompt: str, params: GenerationParams, index: int) -> Completion:
        body, constrained = self._request_body(params)
        common: dict[str, Any] = {
            "model": self.name,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": derive_seed(params.seed, index),
            "stop": list(params.stop) or None,
            "extra_body": body or None,
        }
        if self.chat:
            resp = self._call(
                self._client.chat.completions.create,
                messages=[{"role": "user", "content": prompt}],
                logprobs=True,
                **common,
            )
            choice = resp.choices[0]
            text = choice.message.content or ""
            content = choice.logprobs.content if choice.logprobs is not None else None
            lps = [t.logprob for t in content] if content else None
        else:
            resp = self._call(self._client.completions.create, prompt=prompt, logprobs=1, **common)
            choice = resp.choices[0]
            text = choice.text or ""
            lps = _generated_logprobs(choice.logprobs, len(prompt) + len(text))
        if lps is None:
            if not text:
                lps = []
            else:
                raise CapabilityError(
                    f"the server at {self.base_url} returns no token log-probs for generated "
                    "text (needed to rank samples by perplexity); use a server that does "
                    f"(vLLM, llama.cpp) or {_HAVE_SCORING}"
                )
        return Completion(
            text=text,
            n_tokens=len(lps),
            logprob_sum=float(sum(lps)),
            finish_reason=str(choice.finish_reason or "stop"),
            constrained=constrained,
        )

    # --------------------------------------------------------------------------- scoring

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        """Continuation log-probs from the server's prompt log-probs (see the module doc)."""
        unique = list(dict.fromkeys(requests))
        for req in unique:
            if not req.context:
                raise UserError(
                    "score: the openai backend cannot score a continuation with an empty context"
                )
        if self.scoring == "echo" and not self._echo_checked:
            self._check_echo_alignment()
        fn = self._score_echo if self.scoring == "echo" else self._score_prompt_logprobs
        scores = dict(zip(unique, self._map(fn, unique), strict=True))
        return [scores[r] for r in requests]

    def _echo(self, prompt: str) -> Any:
        try:
            resp = self._call(
                self._client.completions.create,
                model=self.name,
                prompt=prompt,
                echo=True,
                logprobs=1,
                max_tokens=1,
                temperature=0.0,
                extra_body=self.extra_body or None,
            )
        except BackendError as exc:
            if "rejected the request (4" in str(exc):
                raise self._no_scoring(f"echo with log-probs was rejected: {exc}") from exc
            raise
        choice = resp.choices[0]
        lp = choice.logprobs
        if lp is None or not lp.token_logprobs or lp.text_offset is None:
            raise self._no_scoring("the response carries no prompt log-probs")
        return choice

    def _no_scoring(self, why: str) -> CapabilityError:
        return CapabilityError(
            f"{_SCORE_CAPABILITY} unavailable from the server at {self.base_url} ({why}); "
            f"use {_HAVE_SCORING}"
        )

    def _check_echo_alignment(self) -> None:
        # A correct server's echo covers the generated token too; llama-cpp-python's
        # misaligned echo (no BOS) drops it, because it has one logits row too few.
        choice = self._echo(_PROBE)
        generated = (choice.text or "")[len(_PROBE) :]
        offsets = list(choice.logprobs.text_offset)
        if generated and not any(o >= len(_PROBE) for o in offsets):
            raise self._no_scoring(
                "its echoed log-probs are shifted by one token, a llama-cpp-python bug for models "
                "without a BOS token; serve with "
                "--kv_overrides tokenizer.ggml.add_bos_token=bool:true"
            )
        self._echo_checked = True

    def _score_echo(self, req: ScoreRequest) -> Score:
        prompt = req.context + req.continuation
        choice = self._echo(prompt)
        lp = choice.logprobs
        picked = continuation_span(
            list(lp.text_offset), len(choice.text or prompt), len(req.context), len(prompt)
        )
        values = [lp.token_logprobs[i] for i in picked]
        return _score(values, self.base_url)

    def _score_prompt_logprobs(self, req: ScoreRequest) -> Score:
        prompt = req.context + req.continuation
        body = {**self.extra_body, "prompt_logprobs": 0}
        resp = self._call(
            self._client.completions.create,
            model=self.name,
            prompt=prompt,
            max_tokens=1,
            temperature=0.0,
            extra_body=body,
        )
        choice = resp.choices[0]
        entries = getattr(choice, "prompt_logprobs", None)
        if entries is None and choice.model_extra:
            entries = choice.model_extra.get("prompt_logprobs")
        if not entries:
            raise self._no_scoring("no prompt_logprobs in the response")
        values: list[float | None] = []
        lengths: list[int | None] = []
        for entry in entries:
            # vLLM: None for the first token, else {token_id: {logprob, rank, decoded_token}};
            # with prompt_logprobs=0 the only entry is the prompt token itself.
            if entry is None:
                values.append(None)
                lengths.append(None)
                continue
            info = next(iter(entry.values()))
            values.append(float(info["logprob"]))
            lengths.append(len(info.get("decoded_token") or ""))
        # The first token's text is not given; it is whatever the others leave of the prompt.
        known = sum(n for n in lengths if n is not None)
        offsets: list[int] = []
        pos = 0
        for n in lengths:
            offsets.append(pos)
            pos += n if n is not None else max(0, len(prompt) - known)
        picked = continuation_span(offsets, pos, len(req.context), len(prompt))
        return _score([values[i] for i in picked], self.base_url)


def _generated_logprobs(logprobs: Any, text_end: int) -> list[float] | None:
    """The generated tokens' log-probs, without tokens past the returned text.

    Some servers (llama-cpp-python) also report the tokens of a stop string they cut off; their
    ``text_offset`` (counted from the start of the prompt) lies at or beyond the text's end.
    """
    if logprobs is None or logprobs.token_logprobs is None:
        return None
    values = list(logprobs.token_logprobs)
    offsets = getattr(logprobs, "text_offset", None)
    if offsets and len(offsets) == len(values):
        values = [v for v, o in zip(values, offsets, strict=True) if o < text_end]
    return [float(v) for v in values if v is not None]


def _score(values: Sequence[float | None], url: str) -> Score:
    if any(v is None for v in values):
        raise CapabilityError(
            f"{_SCORE_CAPABILITY}: the server at {url} gave no log-prob for a continuation token"
        )
    lps = tuple(float(v) for v in values if v is not None)
    return Score(logprob_sum=sum(lps), n_tokens=len(lps), token_logprobs=lps)


def _one_line(exc: BaseException | None) -> str:
    text = f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"
    return " ".join(text.split())[:300]
