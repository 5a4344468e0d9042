"""A deterministic, scriptable model for unit tests, docs and dry runs.

It runs no neural network. Generations come from a script (a callable or a list of replies) or,
by default, from a simple rule: it repeats the last block of the prompt with a few characters
changed, which is enough to exercise parsing, top-k selection and privacy checks. Scores are a
deterministic function of the text, so rankings are stable across runs.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Callable, Sequence

from sociallearn.models.base import (
    Completion,
    GenerationParams,
    Score,
    ScoreRequest,
    TokenDistribution,
    derive_seed,
    sample_indices,
)

Script = Callable[[str, GenerationParams, int], str]

# Tokens every fake next-token distribution contains, beside the pieces of the prompt itself.
BASE_VOCABULARY = ("\n", "\n\n", " the", " a", " is", " yes", " no", ".")


def _stable_unit(text: str) -> float:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _fake_tokens(text: str) -> list[str]:
    # Whitespace-delimited pieces stand in for tokens; keeps counts intuitive in tests.
    pieces: list[str] = []
    current = ""
    for ch in text:
        if ch.isspace() and current and not current.isspace():
            pieces.append(current)
            current = ch
        else:
            current += ch
    if current:
        pieces.append(current)
    return pieces


def _by_prob(item: tuple[str, float]) -> tuple[float, str]:
    return (-item[1], item[0])


class FakeModel:
    """Deterministic stand-in for a :class:`~sociallearn.models.base.LanguageModel`.

    Args:
        replies: a list of texts returned in turn (cycled), or a callable
            ``(prompt, params, sample_index) -> text``. ``None`` uses the built-in mutation rule.
        preferences: substrings that make a continuation score higher (by +5 nats per match),
            for scripting which label or candidate "the model" prefers.
    """

    def __init__(
        self,
        replies: Sequence[str] | Script | None = None,
        preferences: Sequence[str] = (),
        name: str = "fake",
        latency: float = 0.0,
    ) -> None:
        self._replies = replies
        self._reply_counter = 0
        self._preferences = tuple(preferences)
        self._name = name
        # Seconds slept per request: lets tests interrupt a run mid-way, like a real model.
        self._latency = float(latency)
        self.generate_calls: list[tuple[str, GenerationParams]] = []
        self.score_calls: list[ScoreRequest] = []
        self.next_token_calls: list[str] = []

    @property
    def model_id(self) -> str:
        return f"fake:{self._name}"

    def generate(self, prompts: Sequence[str], params: GenerationParams) -> list[Completion]:
        out: list[Completion] = []
        for prompt, index in zip(prompts, sample_indices(prompts), strict=True):
            self.generate_calls.append((prompt, params))
            if self._latency:
                time.sleep(self._latency)
            text = self._reply(prompt, params, index)
            for stop in params.stop:
                cut = text.find(stop)
                if cut >= 0:
                    text = text[:cut]
            pieces = _fake_tokens(text)
            tokens = pieces[: params.max_tokens]
            text = "".join(tokens)
            logprob = sum(self._token_logprob(prompt, t) for t in tokens)
            finish = "length" if len(pieces) > params.max_tokens else "stop"
            out.append(
                Completion(
                    text=text, n_tokens=len(tokens), logprob_sum=logprob, finish_reason=finish
                )
            )
        return out

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        out: list[Score] = []
        for req in requests:
            self.score_calls.append(req)
            if self._latency:
                time.sleep(self._latency)
            tokens = _fake_tokens(req.continuation)
            lps = tuple(self._token_logprob(req.context, t) for t in tokens)
            bonus = sum(5.0 for p in self._preferences if p in req.continuation)
            if lps:
                lps = (lps[0] + bonus, *lps[1:])
            out.append(Score(logprob_sum=sum(lps), n_tokens=len(lps), token_logprobs=lps))
        return out

    def next_token_logprobs(
        self, prompts: Sequence[str], top: int | None = None
    ) -> list[TokenDistribution]:
        """A complete distribution over a per-prompt vocabulary: :data:`BASE_VOCABULARY` plus
        the prompt's own pieces (each also with a leading space). Weights follow the scoring
        rule (pieces already in the prompt are likelier, preferences add 5 nats), softmaxed."""
        out: list[TokenDistribution] = []
        for prompt in prompts:
            self.next_token_calls.append(prompt)
            pieces = {p.strip() for p in _fake_tokens(prompt) if p.strip()}
            vocab = sorted({*BASE_VOCABULARY, *pieces, *(" " + p for p in pieces)})
            logits = [
                self._token_logprob(prompt, t) + sum(5.0 for p in self._preferences if p and p in t)
                for t in vocab
            ]
            top_logit = max(logits)
            log_z = top_logit + math.log(sum(math.exp(x - top_logit) for x in logits))
            ranked = sorted(zip(vocab, (x - log_z for x in logits), strict=True), key=_by_prob)
            if top is not None:
                ranked = ranked[: max(0, top)]
            out.append(
                TokenDistribution(
                    tokens=tuple(t for t, _ in ranked),
                    logprobs=tuple(lp for _, lp in ranked),
                    complete=top is None or top >= len(vocab),
                )
            )
        return out

    def _token_logprob(self, context: str, token: str) -> float:
        # Tokens already in the context are "likely", like a copying LM.
        base = -1.0 - 4.0 * _stable_unit(token)
        return base + (0.8 if token.strip() and token.strip() in context else 0.0)

    def _reply(self, prompt: str, params: GenerationParams, index: int) -> str:
        if callable(self._replies):
            return self._replies(prompt, params, index)
        if self._replies is not None:
            replies = list(self._replies)
            if not replies:
                return ""
            text = replies[self._reply_counter % len(replies)]
            self._reply_counter += 1
            return text
        return self._mutate_last_block(prompt, params, index)

    @staticmethod
    def _mutate_last_block(prompt: str, params: GenerationParams, index: int) -> str:
        blocks = [b for b in prompt.split("\n\n") if b.strip()]
        if not blocks:
            return "ok"
        rng = random.Random(derive_seed(params.seed, index) ^ int(_stable_unit(prompt) * 1e9))
        block = blocks[rng.randrange(len(blocks))]
        chars = list(block)
        # Change only the first line's value (after "Label: "), so the block still parses.
        first_line_end = block.find("\n") if "\n" in block else len(block)
        start = block.find(": ") + 2 if 0 <= block.find(": ") < first_line_end else 0
        letters = [i for i in range(start, first_line_end) if chars[i].isalpha()]
        for i in rng.sample(letters, k=min(len(letters), 1 + len(letters) // 6)):
            chars[i] = rng.choice("abcdefghijklmnopqrstuvwxyz")
        return "".join(chars) + "\n\n"
