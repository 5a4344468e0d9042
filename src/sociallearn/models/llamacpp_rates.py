"""Token rates of a llama.cpp model on this machine, measured in seconds (for ``--dry-run``).

A run's cost is prefill (prompts read in batches), decode (one token per step while sampling)
and scoring (short continuations behind a prompt). Each costs a fixed time per token plus a
part that grows with the tokens already in the context (attention reads every earlier key and
value): behind a 2,400-token BoolQ prompt a token costs about twice what it costs behind a
short one, which rates measured at an empty context miss (they under-estimated such
evaluations by 1.6-1.8x). So each rate is a line, fitted to two measurements: one behind a
short context and one behind a long one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sociallearn.errors import UserError
from sociallearn.models.llamacpp_sampling import logprob

if TYPE_CHECKING:
    from sociallearn.models.llamacpp import LlamaCppModel

# Any text serves: the cost of a token does not depend on which token it is.
_FILLER = (
    "The committee met on a grey morning to review the harbour plans, and after a long debate "
    "about tides, budgets and the old lighthouse, it agreed to rebuild the northern pier first. "
)


@dataclass(frozen=True)
class TokenCost:
    """Seconds per token as a line in the context length: ``base + per_context * context``;
    for scoring, plus a fixed ``per_call`` for each continuation (its decode call and setup)."""

    base: float  # seconds per token behind an empty context
    per_context: float = 0.0  # extra seconds per token for each token already in the context
    per_call: float = 0.0  # seconds per scored continuation, whatever its length

    @property
    def rate(self) -> float:
        """Tokens per second behind an empty context."""
        return 1.0 / self.base

    def seconds(self, tokens: float, context: float = 0.0) -> float:
        """Time for ``tokens`` tokens read one after another behind ``context`` tokens (each sees
        the ones before it, so on average the context is ``context + (tokens - 1) / 2``)."""
        return tokens * (self.base + self.per_context * (context + max(tokens - 1, 0) / 2))

    def continuation(self, tokens: float, context: float) -> float:
        """Time to score one continuation of ``tokens`` tokens behind ``context`` tokens."""
        return self.per_call + self.seconds(tokens, context)

    @classmethod
    def fit(cls, near: tuple[float, float, float], far: tuple[float, float, float]) -> TokenCost:
        """The line through two measurements ``(tokens, mean context, seconds)``, one behind a
        short context and one behind a long one (mean context: the tokens before each measured
        token, averaged). Noise can tilt it below zero: the slope is then 0."""
        (t1, x1, s1), (t2, x2, s2) = near, far
        slope = max((s2 / t2 - s1 / t1) / (x2 - x1), 0.0) if x2 > x1 else 0.0
        return cls(max(s1 / t1 - slope * x1, 1e-9), slope)

    @classmethod
    def fit_calls(
        cls,
        near: tuple[float, float, float],
        far: tuple[float, float, float],
        longer: tuple[float, float, float],
    ) -> TokenCost:
        """Scoring, from ``(tokens, mean context, seconds)`` of one continuation: ``near`` and
        ``far`` of equal length behind a short and a long context, ``longer`` a longer one behind
        the short context. A continuation of a few tokens costs more per token than a long one
        (its decode call does little work for its fixed cost), so a cost per call is fitted
        beside the line; clamped at zero where noise would make it negative."""
        (k1, x1, s1), (k2, x2, s2), (k3, x3, s3) = near, far, longer
        if k1 != k2 or k3 <= k1:
            raise ValueError("fit_calls: near and far need equal lengths, longer a longer one")
        slope = max((s2 - s1) / (k1 * (x2 - x1)), 0.0) if x2 > x1 else 0.0
        base = max((s3 - s1 - slope * (k3 * x3 - k1 * x1)) / (k3 - k1), 1e-9)
        return cls(base, slope, max(s1 - k1 * base - k1 * x1 * slope, 0.0))


_SHORT, _LONGER = 6, 48  # tokens of the short and the longer scored continuations


@dataclass(frozen=True)
class Rates:
    """Costs of one llama.cpp worker at one thread."""

    prefill: TokenCost
    decode: TokenCost
    score: TokenCost

    def describe(self) -> str:
        def one(name: str, cost: TokenCost) -> str:
            # Relative growth per 1,000 tokens of context, the figure a reader can picture.
            growth = 1000 * cost.per_context / cost.base
            call = f" + {cost.per_call * 1000:.0f} ms per continuation" if cost.per_call else ""
            return (
                f"{name} {cost.rate:.0f} tokens/s{call} (+{growth:.0%} per 1,000 tokens of context)"
            )

        return ", ".join(
            [one("prefill", self.prefill), one("decode", self.decode), one("scoring", self.score)]
        )


def measure_rates(model: LlamaCppModel, long_context: int = 768, repeats: int = 2) -> Rates:
    """Time prefill, decode and scoring behind a short and a long context.

    About 1,200 tokens per repeat: with two repeats and loading, 16 s for SmolLM2-135M and 25 s
    for a 0.5B model at one thread here. ``long_context`` is capped to fit the model's
    ``n_ctx``; a window too small to measure in raises ``UserError``. The model's KV state is
    cleared before and after, so later calls see no difference.
    """
    short, steps = 128, 16
    needed = short + 64 + steps + _LONGER + 8
    if model.n_ctx < needed:
        raise UserError(
            f"n_ctx {model.n_ctx} is too small to measure token rates in (needs {needed} tokens)"
        )
    long_context = max(short + 64, min(long_context, model.n_ctx - steps - _LONGER - 8))
    tokens = _filler_tokens(model, long_context + steps + 8 * _SHORT + 4 * _LONGER)
    near_ctx, far_ctx = tokens[:short], tokens[:long_context]
    later = tokens[long_context:]

    def prefill(ctx: list[int]) -> Callable[[], object]:
        return lambda: model._eval(ctx, len(ctx) - 1)

    def decode(ctx: list[int]) -> Callable[[], object]:
        return lambda: _decode(model, ctx, later, steps)

    def score(ctx: list[int], conts: int, size: int) -> Callable[[], object]:
        return lambda: _score(model, ctx, later, conts, size)

    work = [
        prefill(near_ctx),
        decode(near_ctx),
        score(near_ctx, 8, _SHORT),
        score(near_ctx, 4, _LONGER),
        prefill(far_ctx),
        decode(far_ctx),
        score(far_ctx, 8, _SHORT),
    ]
    runs = []
    with model._lock:
        try:
            for _ in range(repeats):
                model._forget()
                runs.append([_timed(model, step) for step in work])
        finally:
            model._forget()
    # The fastest of the repeats: the one least disturbed by other work on the machine.
    p1, d1, s1, s3, p2, d2, s2 = (min(timings) for timings in zip(*runs, strict=True))
    # Mean context of a measured token: prefill reads positions up to the context's end (the
    # far one only what follows the reused prefix); decode steps sit just after the context;
    # a scored continuation is decoded from the context's last token.
    decode_at, score_at = (steps - 1) / 2, -1 + (_SHORT - 1) / 2
    return Rates(
        prefill=TokenCost.fit(
            (p1[1], (short - 1) / 2, p1[0]), (p2[1], long_context - (p2[1] + 1) / 2, p2[0])
        ),
        decode=TokenCost.fit(
            (d1[1], short + decode_at, d1[0]), (d2[1], long_context + decode_at, d2[0])
        ),
        score=TokenCost.fit_calls(
            (_SHORT, short + score_at, s1[0] / 8),
            (_SHORT, long_context + score_at, s2[0] / 8),
            (_LONGER, short - 1 + (_LONGER - 1) / 2, s3[0] / 4),
        ),
    )


def _timed(model: LlamaCppModel, work: Callable[[], object]) -> tuple[float, int]:
    """Seconds and tokens decoded by ``work``."""
    decoded = model.decoded_tokens
    start = time.perf_counter()
    work()
    return time.perf_counter() - start, model.decoded_tokens - decoded


def _filler_tokens(model: LlamaCppModel, count: int) -> list[int]:
    tokens: list[int] = []
    while len(tokens) < count:
        tokens.extend(model._tokenize(_FILLER, first=not tokens))
    return tokens[:count]


def _decode(model: LlamaCppModel, context: list[int], more: list[int], steps: int) -> None:
    """One-token decode steps after ``context``, as sampling does (``exact=False``)."""
    for i in range(1, steps + 1):
        model._eval(context + more[:i], len(context) + i - 1, exact=False, fresh=False)


def _score(
    model: LlamaCppModel, context: list[int], pool: list[int], conts: int, size: int
) -> None:
    """``conts`` continuations of ``size`` tokens behind ``context``, each decoded in one call
    with its log-probs taken, as ``score`` does for label and canary continuations."""
    n = len(context)
    for j in range(conts):
        cont = pool[j * size : (j + 1) * size]
        rows = model._eval(context + cont[:-1], n - 1)
        [logprob(row, tok) for row, tok in zip(rows, cont, strict=True)]
