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

Faults (see ``docs/failure-modes.md``): transport failures (connection errors, timeouts, 408,
409, 429 and 5xx) are retried by the ``openai`` client itself (``max_tries - 1`` retries,
exponential backoff from 0.5 s to 8 s with jitter, ``Retry-After`` honoured). A 200 response that
does not carry what was asked for (no text, missing, short or non-numeric log-probs, invalid
JSON, an HTML page, no choices) is *never* turned into an answer: it is retried here, with the
same kind of backoff, up to ``max_tries`` times, and then raised as a :class:`BackendError`, so
nothing wrong reaches the response cache or the results. No new try starts once ``retry_budget``
seconds have passed since a request's first try.

Keeping a server busy (see :mod:`sociallearn.models.endpoint_pool`): every try of every request
takes a slot of its endpoint's process-wide pool, shared by all models and threads that use the
same base URL and API key, so at most ``max_connections`` requests are in flight to one endpoint
(the largest value when models set different ones). A slot is held for one try, the client's own
transport retries and ``Retry-After`` waits included, and given back during our backoff; the
retry budget starts with the first try, not while a request waits for a slot. ``base_url`` may
name several endpoints serving the same model (a list, or URLs separated by commas): each request
goes to the one with the least requests in flight, and errors name the URL that failed. Which
endpoint answered must not change results: endpoints that list different models are refused
(:mod:`.served_model`, whose digest also keys the response cache); the same weights and settings
behind the same list are the user's to keep. ``concurrency`` is the older ``max_connections``.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sociallearn.errors import BackendError, CapabilityError, UserError
from sociallearn.models.base import (
    Completion,
    GenerationParams,
    Score,
    ScoreRequest,
    derive_seed,
    sample_indices,
)
from sociallearn.models.endpoint_pool import (
    ClientRouter,
    Endpoint,
    EndpointPool,
    RoutedCall,
    parse_base_urls,
    slots_for,
)
from sociallearn.models.openai_options import max_connections_option, number_option
from sociallearn.models.openai_responses import (
    UnusableResponseError,
    _chat_logprobs,
    _first_choice,
    _generated_logprobs,
    _logprob_list,
    _offsets,
    _one_line,
    _prompt_logprobs,
    _text,
    continuation_span,
)

if TYPE_CHECKING:
    from sociallearn.models.base import TokenDistribution

T = TypeVar("T")

_INSTALL_HINT = "the openai backend needs the 'openai' package: pip install 'openai>=1.30'"
_SCORE_CAPABILITY = "prompt log-probs for scoring"
_HAVE_SCORING = "the llamacpp backend (embedded GGUF) or a vLLM server"
_PROBE = "1, 2, 3, 4, 5, 6,"
_DEFAULT_URL = "https://api.openai.com/v1"
_MAX_DELAY = 8.0  # the openai client's cap on one backoff delay; ours matches it


def _import_openai() -> Any:
    try:
        import openai
    except ImportError as exc:
        raise UserError(_INSTALL_HINT) from exc
    return openai


class OpenAICompatModel:
    """A model behind an OpenAI-compatible HTTP API.

    Args:
        name: the served model's name (``--model openai:<name>``).
        base_url / api_key: default to ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY``; ``base_url``
            may name several endpoints of one model (a list, or URLs separated by commas).
        chat: generate through chat completions (the prompt becomes one user message).
        scoring: ``"echo"`` or ``"prompt_logprobs"`` (vLLM), see the module doc.
        timeout: seconds per HTTP try.
        max_tries: tries per request, for transport failures (the client's retries) and for
            unusable 200 responses (ours) alike.
        backoff: first delay, in seconds, before retrying an unusable response; doubles per try
            up to 8 s, with up to 25 % jitter (transport retries use the client's own delays).
        retry_budget: seconds after a request's first try in which another try may start.
        max_connections: requests in flight per endpoint, across all models and threads of
            the process that use it (default 64, enough to keep a vLLM server busy).
        concurrency: the older name of ``max_connections``.
        grammar_field: request field that carries ``GenerationParams.grammar`` (``"grammar"``
            for llama.cpp servers, ``"guided_grammar"`` for vLLM); without it grammars are ignored.
        extra_body: extra fields sent with every request (e.g. ``{"repeat_penalty": 1.0}``).
        client: a ready ``openai.OpenAI`` client (tests).
    """

    def __init__(
        self,
        name: str,
        *,
        base_url: str | Sequence[str] | None = None,
        api_key: str | None = None,
        chat: bool = False,
        scoring: str = "echo",
        timeout: float = 60.0,
        max_tries: int = 5,
        backoff: float = 0.5,
        retry_budget: float = 300.0,
        max_connections: int | None = None,
        concurrency: int | None = None,
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
        self.timeout = number_option("timeout", timeout, minimum=0.001)
        self.max_tries = number_option("max_tries", max_tries, integer=True, minimum=1)
        self.backoff = number_option("backoff", backoff)
        self.retry_budget = number_option("retry_budget", retry_budget, minimum=0.001)
        self.max_connections = max_connections_option(max_connections, concurrency)
        if extra_body is not None and not isinstance(extra_body, dict):
            raise UserError(f"option extra_body: expected a mapping, got {extra_body!r}")
        if api_key is not None and not isinstance(api_key, str):
            raise UserError(f"option api_key: expected a string, got {api_key!r}")
        self.name = name
        self.base_urls = (
            parse_base_urls(base_url)
            or parse_base_urls(os.environ.get("OPENAI_BASE_URL"), source="OPENAI_BASE_URL")
            or (_DEFAULT_URL,)
        )
        self.base_url = ",".join(self.base_urls)  # sorted: the model id ignores their order
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if key is None:
            if _DEFAULT_URL in self.base_urls:
                raise UserError("openai backend: set OPENAI_API_KEY (or the api_key option)")
            key = "no-key"  # local servers accept any key, but the client insists on one
        self.chat = chat
        self.scoring = scoring
        self.grammar_field = grammar_field
        self.extra_body = dict(extra_body or {})
        self._openai = _import_openai()
        # The client retries transport failures itself, honouring Retry-After: one per endpoint.
        endpoints = [
            Endpoint(
                url,
                client
                or self._openai.OpenAI(
                    base_url=url, api_key=key, timeout=self.timeout, max_retries=self.max_tries - 1
                ),
                slots_for(url, key),
            )
            for url in self.base_urls
        ]
        self._pool = EndpointPool(endpoints, self.max_connections)
        # A ready client (tests) answers for every endpoint; else methods are routed per request.
        self._client = client or ClientRouter(endpoints[0].client)
        self._echo_checked = False
        self._served: tuple[str | None] | None = None  # content_digest, once asked
        self._served_lock = threading.Lock()

    @property
    def content_digest(self) -> str | None:
        """What the endpoints say they serve (:mod:`.served_model`), asked once; endpoints that
        list different models are refused (before a pool's first request, see ``_map``)."""
        with self._served_lock:
            if self._served is None:
                from sociallearn.models.served_model import served_digest

                pairs = [(e.url, e.client) for e in self._pool.endpoints]
                self._served = (served_digest(pairs, self.name, (self._openai.OpenAIError,)),)
            return self._served[0]

    @property
    def model_id(self) -> str:
        return f"openai:{self.name}@{self.base_url}"

    def retry_policy(self) -> str:
        """The retry budget in words (error messages and docs say the same)."""
        return (
            f"max_tries={self.max_tries} per request, retry_budget={self.retry_budget:g}s, "
            f"timeout={self.timeout:g}s per try"
        )

    # ------------------------------------------------------------------------ transport

    def _call(
        self, fn: Callable[..., Any] | RoutedCall, parse: Callable[[Any], T], **kwargs: Any
    ) -> T:
        """One request: the client's transport retries, then ours for unusable responses.

        All tries go to one endpoint, each holding one of its slots (none during our backoff).
        """
        oa = self._openai
        endpoint = self._pool.pick()
        url = endpoint.url
        send = fn.on(endpoint.client) if isinstance(fn, RoutedCall) else fn
        first = deadline = 0.0
        last: UnusableResponseError | None = None
        attempt = 0
        while True:
            attempt += 1
            with endpoint.slots.hold(self.max_connections):
                if attempt == 1:  # the budget starts with the first try, not in the queue
                    first = time.monotonic()
                    deadline = first + self.retry_budget
                remaining = deadline - time.monotonic()
                try:
                    return parse(send(timeout=max(0.001, min(self.timeout, remaining)), **kwargs))
                except UnusableResponseError as exc:
                    last = exc
                except ValueError as exc:  # invalid JSON in a 200 response
                    last = UnusableResponseError(
                        f"the response is not valid JSON ({_one_line(exc)})"
                    )
                except oa.APIResponseValidationError as exc:
                    last = UnusableResponseError(
                        f"the response does not fit the API ({_one_line(exc)})"
                    )
                except oa.APIStatusError as exc:
                    if exc.status_code < 500 and exc.status_code not in (408, 409, 429):
                        raise BackendError(
                            f"OpenAI-compatible server at {url} rejected the request "
                            f"({exc.status_code}): {_one_line(exc)}"
                        ) from exc
                    raise self._gave_up(url, f"{exc.status_code} {_one_line(exc)}", first) from exc
                except oa.APIError as exc:  # connection errors, timeouts (after client retries)
                    raise self._gave_up(url, _one_line(exc), first) from exc
            delay = min(self.backoff * 2 ** (attempt - 1), _MAX_DELAY) * (
                1 - 0.25 * random.random()
            )
            if attempt >= self.max_tries or time.monotonic() + delay >= deadline:
                break
            time.sleep(delay)
        assert last is not None  # the loop leaves only after an unusable response
        if last.capability is not None:
            raise CapabilityError(last.capability) from last
        raise BackendError(
            f"OpenAI-compatible server at {url} sent {attempt} unusable "
            f"response{'s' if attempt > 1 else ''} in a row (last: {last}); nothing was stored "
            f"({self.retry_policy()}; raise with -O max_tries=... -O retry_budget=...)"
        ) from last

    def _gave_up(self, url: str, why: str, first: float) -> BackendError:
        spent = time.monotonic() - first
        return BackendError(
            f"cannot reach OpenAI-compatible server at {url} after {self.max_tries} "
            f"tries in {spent:.1f}s: {why} ({self.retry_policy()}; Retry-After honoured)"
        )

    def _map(self, fn: Callable[[T], Any], items: Sequence[T]) -> list[Any]:
        if len(self._pool.endpoints) > 1:
            _ = self.content_digest  # a pool's endpoints must list one model: asked once
        return self._pool.map(fn, items)

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

    def _no_generation_logprobs(self) -> str:
        return (
            f"the server at {self.base_url} returns no token log-probs for generated "
            "text (needed to rank samples by perplexity); use a server that does "
            f"(vLLM, llama.cpp) or {_HAVE_SCORING}"
        )

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

        def parse(resp: Any) -> Completion:
            choice = _first_choice(resp)
            if self.chat:
                text = _text(getattr(getattr(choice, "message", None), "content", None))
                lps = _chat_logprobs(choice.logprobs, text, self._no_generation_logprobs())
            else:
                text = _text(getattr(choice, "text", None))
                lps = _generated_logprobs(
                    getattr(choice, "logprobs", None),
                    len(prompt) + len(text),
                    text,
                    self._no_generation_logprobs(),
                )
            return Completion(
                text=text,
                n_tokens=len(lps),
                logprob_sum=float(sum(lps)),
                finish_reason=str(getattr(choice, "finish_reason", None) or "stop"),
                constrained=constrained,
            )

        if self.chat:
            messages = [{"role": "user", "content": prompt}]
            return self._call(
                self._client.chat.completions.create,
                parse,
                messages=messages,
                logprobs=True,
                **common,
            )
        return self._call(
            self._client.completions.create, parse, prompt=prompt, logprobs=1, **common
        )

    def next_token_logprobs(
        self, prompts: Sequence[str], top: int | None = None
    ) -> list[TokenDistribution]:
        """The server's top-k next-token log-probs (:mod:`sociallearn.models.openai_nexttoken`)."""
        from sociallearn.models.openai_nexttoken import next_token_logprobs

        return next_token_logprobs(self, prompts, top)

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

    def _echo(self, prompt: str, parse: Callable[[Any], T]) -> T:
        try:
            return self._call(
                self._client.completions.create,
                parse,
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

    def _echo_parts(self, resp: Any, prompt: str) -> tuple[str, list[int], list[float | None]]:
        """The echoed text, token offsets and token log-probs, checked against each other."""
        choice = _first_choice(resp)
        text = _text(getattr(choice, "text", None))
        lp = getattr(choice, "logprobs", None)
        if lp is None:
            raise UnusableResponseError(
                "no log-probs",
                capability=str(self._no_scoring("the response carries no prompt log-probs")),
            )
        values = _logprob_list(getattr(lp, "token_logprobs", None), allow_none=True)
        offsets = getattr(lp, "text_offset", None)
        if not values or offsets is None:
            raise UnusableResponseError(
                "no prompt log-probs",
                capability=str(self._no_scoring("the response carries no prompt log-probs")),
            )
        offsets = _offsets(offsets, len(values), getattr(lp, "tokens", None))
        return text, offsets, values

    def _no_scoring(self, why: str) -> CapabilityError:
        return CapabilityError(
            f"{_SCORE_CAPABILITY} unavailable from the server at {self.base_url} ({why}); "
            f"use {_HAVE_SCORING}"
        )

    def _check_echo_alignment(self) -> None:
        # A correct server's echo covers the generated token too; llama-cpp-python's
        # misaligned echo (no BOS) drops it, because it has one logits row too few.
        text, offsets, _ = self._echo(_PROBE, lambda resp: self._echo_parts(resp, _PROBE))
        generated = text[len(_PROBE) :]
        if generated and not any(o >= len(_PROBE) for o in offsets):
            raise self._no_scoring(
                "its echoed log-probs are shifted by one token, a llama-cpp-python bug for models "
                "without a BOS token; serve with "
                "--kv_overrides tokenizer.ggml.add_bos_token=bool:true"
            )
        self._echo_checked = True

    def _score_echo(self, req: ScoreRequest) -> Score:
        prompt = req.context + req.continuation

        def parse(resp: Any) -> Score:
            text, offsets, values = self._echo_parts(resp, prompt)
            picked = continuation_span(offsets, len(text), len(req.context), len(prompt))
            return self._score([values[i] for i in picked])

        return self._echo(prompt, parse)

    def _score(self, values: Sequence[float | None]) -> Score:
        if not values:
            raise UnusableResponseError("no echoed token covers the continuation")
        if any(v is None for v in values):
            raise UnusableResponseError("no log-prob for a continuation token")
        lps = tuple(float(v) for v in values if v is not None)
        return Score(logprob_sum=sum(lps), n_tokens=len(lps), token_logprobs=lps)

    def _score_prompt_logprobs(self, req: ScoreRequest) -> Score:
        prompt = req.context + req.continuation
        body = {**self.extra_body, "prompt_logprobs": 0}

        def parse(resp: Any) -> Score:
            missing = str(self._no_scoring("no prompt_logprobs in the response"))
            values, offsets, end = _prompt_logprobs(_first_choice(resp), len(prompt), missing)
            picked = continuation_span(offsets, end, len(req.context), len(prompt))
            return self._score([values[i] for i in picked])

        return self._call(
            self._client.completions.create,
            parse,
            model=self.name,
            prompt=prompt,
            max_tokens=1,
            temperature=0.0,
            extra_body=body,
        )


# ------------------------------------------------------------------ response checking
