"""The language-model contract every backend implements.

Two batched calls, nothing else:

* :meth:`LanguageModel.generate` samples continuations and reports their log-probability (needed to
  keep the top-k samples by perplexity);
* :meth:`LanguageModel.score` returns the log-probability of a given continuation after a context.
  Exposure, voting and label scoring all go through it, so backends group requests that share a
  context and compute that context only once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy.typing as npt


@dataclass(frozen=True)
class GenerationParams:
    """How to sample. ``seed`` plus a prompt's sample index make each sample reproducible."""

    max_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int = 0
    # A GBNF grammar constraining the output; backends that cannot honour it ignore it and
    # report ``constrained=False`` on the completion, so results can say whether it was used.
    grammar: str | None = None


@dataclass(frozen=True)
class Completion:
    """One sampled continuation."""

    text: str
    n_tokens: int
    logprob_sum: float
    finish_reason: str = "stop"
    constrained: bool = False

    @property
    def mean_logprob(self) -> float:
        return self.logprob_sum / self.n_tokens if self.n_tokens else 0.0

    @property
    def perplexity(self) -> float:
        """Per-token perplexity; lower means the model found the text more likely."""
        return math.exp(-self.mean_logprob)


@dataclass(frozen=True)
class ScoreRequest:
    """Score ``continuation`` as the text that follows ``context``."""

    context: str
    continuation: str


@dataclass(frozen=True)
class Score:
    """Sum of the continuation tokens' log-probs (natural log) and how many tokens there were."""

    logprob_sum: float
    n_tokens: int
    token_logprobs: tuple[float, ...] = field(default=(), compare=False)

    @property
    def mean_logprob(self) -> float:
        return self.logprob_sum / self.n_tokens if self.n_tokens else 0.0


@runtime_checkable
class LanguageModel(Protocol):
    """A text-in, text-out model with log-probabilities.

    ``generate`` must give *different* samples for repeated identical prompts in one batch when the
    temperature is above zero: the j-th occurrence of a prompt is sample j. Example::

        model = create_model("fake")
        [c] = model.generate(["Text: hi\\nClass:"], GenerationParams(max_tokens=4))
        [s] = model.score([ScoreRequest("Text: hi\\nClass:", " spam")])
    """

    @property
    def model_id(self) -> str:
        """A stable identifier (spec plus anything that changes outputs); part of cache keys."""
        ...

    def generate(self, prompts: Sequence[str], params: GenerationParams) -> list[Completion]: ...

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]: ...


@dataclass(frozen=True)
class TokenDistribution:
    """A model's distribution over the token that follows a prompt.

    ``tokens`` are token texts and ``logprobs`` their natural-log probabilities, in the same
    order (descending when a ``top`` was asked for, otherwise the backend's order). ``complete``
    says whether they cover the whole vocabulary (llama.cpp, the fake) or only the top k (an
    OpenAI-compatible server's ``top_logprobs``: the remaining mass is unknown, not zero).
    """

    tokens: tuple[str, ...]
    logprobs: tuple[float, ...]
    complete: bool

    @classmethod
    def from_vocabulary(
        cls, vocab: Sequence[str], logprobs: npt.ArrayLike, top: int | None
    ) -> TokenDistribution:
        """A full-vocabulary distribution (``logprobs[k]`` is ``vocab[k]``'s), whole when ``top``
        is None, else its ``top`` likeliest tokens in descending order (ties in id order)."""
        import numpy as np

        lps = np.asarray(logprobs, dtype=np.float64)
        if top is None:
            return cls(tuple(vocab), tuple(lps.tolist()), complete=True)
        keep = np.argsort(-lps, kind="stable")[:top]
        return cls(
            tokens=tuple(vocab[k] for k in keep),
            logprobs=tuple(float(lps[k]) for k in keep),
            complete=top >= len(lps),
        )

    def probabilities(self) -> dict[str, float]:
        """Token text -> probability; distinct tokens with the same text are summed."""
        out: dict[str, float] = {}
        for tok, lp in zip(self.tokens, self.logprobs, strict=True):
            out[tok] = out.get(tok, 0.0) + math.exp(lp)
        return out


NEXT_TOKEN_CAPABILITY = "next-token distributions"
NEXT_TOKEN_BACKENDS = "llamacpp or hf (full vocabulary), fake, or openai (top-k log-probs only)"


@runtime_checkable
class NextTokenModel(Protocol):
    """Optional capability: the next-token distribution after each prompt. Example::

    [dist] = model.next_token_logprobs(["Text: hi\\nClass:"], top=5)
    dist.probabilities()  # {" spam": 0.61, ...}
    """

    @property
    def model_id(self) -> str: ...

    def next_token_logprobs(
        self, prompts: Sequence[str], top: int | None = None
    ) -> list[TokenDistribution]: ...


def next_token_model(model: object, where: str) -> NextTokenModel:
    """``model`` as a :class:`NextTokenModel`, or a one-line CapabilityError saying who has it.

    A wrapper without the method (the response cache) is looked through to the model it wraps;
    next-token distributions are then computed, not cached.
    """
    from sociallearn.errors import CapabilityError

    seen: object | None = model
    while seen is not None:
        if isinstance(seen, NextTokenModel):
            return seen
        seen = getattr(seen, "model", None)
    model_id = getattr(model, "model_id", type(model).__name__)
    raise CapabilityError(
        f"{where} needs {NEXT_TOKEN_CAPABILITY}, which the model {model_id} does not give; "
        f"use {NEXT_TOKEN_BACKENDS}"
    )


def sample_indices(prompts: Sequence[str]) -> list[int]:
    """For each prompt, how many identical prompts precede it in the batch (its sample index)."""
    seen: dict[str, int] = {}
    out: list[int] = []
    for p in prompts:
        i = seen.get(p, 0)
        out.append(i)
        seen[p] = i + 1
    return out


def derive_seed(seed: int, sample_index: int) -> int:
    """A per-sample seed (see :func:`sociallearn.seeds.sample_seed`, the one definition)."""
    from sociallearn.seeds import sample_seed

    return sample_seed(seed, sample_index)


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share (what a KV cache holding ``a`` can keep)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
