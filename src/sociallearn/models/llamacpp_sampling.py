"""Sampling for the llama.cpp backend: sampler chains, grammars, and one sample's bookkeeping.

Shared by the sequential path (:mod:`sociallearn.models.llamacpp`) and the batched one
(:mod:`sociallearn.models.llamacpp_batch`), so both build the same chain from the same seed,
stop and cut at the same place, and report the same log-probs.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from sociallearn.errors import UserError
from sociallearn.models.base import Completion, GenerationParams

Logits = npt.NDArray[np.float32]

_TOKEN_DATA = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])


def logprob(row: Logits, token: int) -> float:
    """Natural-log probability of ``token`` under the softmax of one logits row (float64 math)."""
    x = row.astype(np.float64)
    top = float(x.max())
    return float(x[token] - top - np.log(np.exp(x - top).sum()))


class Samplers:
    """Builds sampler chains; parsed grammars are kept as templates and cloned per sample."""

    def __init__(self, lib: Any, vocab: Any, n_vocab: int) -> None:
        self._lib = lib
        self._vocab = vocab
        self._grammars: dict[str, Any] = {}  # GBNF text -> parsed grammar sampler (template)
        self._data = np.zeros(n_vocab, dtype=_TOKEN_DATA)

    def make(self, params: GenerationParams, seed: int) -> Any:
        lib = self._lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if params.grammar is not None:
            lib.llama_sampler_chain_add(
                chain, lib.llama_sampler_clone(self._grammar(params.grammar))
            )
        if params.temperature <= 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
            return chain
        if params.top_p < 1.0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_p(params.top_p, 1))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(params.temperature))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(seed))
        return chain

    def _grammar(self, gbnf: str) -> Any:
        template = self._grammars.get(gbnf)
        if template is None:
            template = self._lib.llama_sampler_init_grammar(
                self._vocab, gbnf.encode("utf-8"), b"root"
            )
            if not template:
                first = gbnf.strip().splitlines()[0] if gbnf.strip() else ""
                raise UserError(
                    f"grammar: invalid GBNF (expected a 'root ::= ...' rule), starting {first!r}"
                )
            self._grammars[gbnf] = template
        return template

    def sample_row(self, sampler: Any, row: Logits) -> int:
        """What ``llama_sampler_sample`` does with a context's logits row, from a copied row.

        Same candidates (every token in id order, ``p`` zero, unsorted), same chain, then the
        chosen token is accepted (advancing the grammar). A batch can thus sample its sequences
        in any order, from rows kept after later decodes.
        """
        lib = self._lib
        data = self._data
        data["id"] = np.arange(len(data), dtype=np.int32)
        data["logit"] = row
        data["p"] = 0.0
        arr = lib.llama_token_data_array(
            data=data.ctypes.data_as(lib.llama_token_data_p),
            size=len(data),
            selected=-1,
            sorted=False,
        )
        lib.llama_sampler_apply(sampler, ctypes.byref(arr))
        if not 0 <= arr.selected < arr.size:
            raise RuntimeError("llama.cpp sampler selected no token")
        token = int(arr.data[arr.selected].id)  # samplers may sort the array in place
        lib.llama_sampler_accept(sampler, token)
        return token

    def close(self) -> None:
        for template in self._grammars.values():
            self._lib.llama_sampler_free(template)
        self._grammars.clear()


@dataclass
class SampleState:
    """One sample being generated: its tokens, log-probs, text and stop rule."""

    prompt: list[int]
    sampler: Any
    max_tokens: int
    stop: tuple[str, ...]
    n_ctx: int
    constrained: bool
    generated: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)  # character offset of each token's text
    text: str = ""
    finish: str | None = None  # None while it may go on

    def can_sample(self) -> bool:
        return (
            self.finish is None
            and len(self.generated) < self.max_tokens
            and len(self.prompt) + len(self.generated) < self.n_ctx
        )

    def take(
        self, token: int, row: Logits, eog: bool, detokenize: Callable[[list[int]], str]
    ) -> None:
        """Record the token sampled from ``row`` (the logits it was drawn from)."""
        if eog:
            self.finish = "stop"
            return
        self.generated.append(token)
        self.logprobs.append(logprob(row, token))
        self.starts.append(len(self.text))
        self.text = detokenize(self.generated)
        cut = min((c for s in self.stop if (c := self.text.find(s)) >= 0), default=-1)
        if cut >= 0:
            # Keep the tokens that contribute at least one character before the stop.
            kept = sum(1 for s in self.starts if s < cut)
            self.text = self.text[:cut]
            del self.generated[kept:], self.logprobs[kept:]
            self.finish = "stop"

    def completion(self) -> Completion:
        return Completion(
            text=self.text,
            n_tokens=len(self.generated),
            logprob_sum=float(sum(self.logprobs)),
            finish_reason=self.finish or "length",
            constrained=self.constrained,
        )
