"""Next-token distributions from the embedded llama.cpp backend (full vocabulary, raw logits).

Kept apart from :mod:`sociallearn.models.llamacpp` so that module stays about scoring and
generation; :meth:`LlamaCppModel.next_token_logprobs` delegates here. It evaluates in KV slots
(:mod:`.llamacpp_slots`): each recent prompt keeps a KV sequence of its own, so private
generation, which asks each teacher in turn for the next token after its own prompt grown by a
token, costs one or two decoded tokens per teacher rather than a new prefill each.

Token texts come from llama.cpp's ``token_to_piece`` without special tokens: end-of-generation and
other control tokens have the empty text ``""`` (private generation stops there), and byte tokens
that are not whole UTF-8 characters become U+FFFD. Distinct tokens with equal texts are summed by
:meth:`TokenDistribution.probabilities`.
"""

from __future__ import annotations

import ctypes
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from sociallearn.errors import UserError
from sociallearn.models.base import TokenDistribution
from sociallearn.models.llamacpp_slots import PromptSlots

if TYPE_CHECKING:
    from sociallearn.models.llamacpp import LlamaCppModel

_VOCABULARIES: weakref.WeakKeyDictionary[Any, tuple[str, ...]] = weakref.WeakKeyDictionary()


def slots(model: LlamaCppModel) -> PromptSlots:
    """The model's next-token slots, made on first use (freed by ``model.close``)."""
    if model._slots is None:
        model._slots = PromptSlots(model)
    return model._slots


def _piece(lib: Any, vocab: Any, token: int) -> bytes:
    size = 32
    while True:
        buf = ctypes.create_string_buffer(size)
        # lstrip=0, special=False: the token's own bytes, control tokens empty.
        n = int(lib.llama_token_to_piece(vocab, token, buf, size, 0, False))
        if n >= 0:
            return buf.raw[:n]
        size = -n


def vocabulary(model: LlamaCppModel) -> tuple[str, ...]:
    """Every token's text, by token id (built once per model instance)."""
    cached = _VOCABULARIES.get(model)
    if cached is None:
        lib, vocab = model._lib, model._vocab
        cached = tuple(
            _piece(lib, vocab, i).decode("utf-8", errors="replace") for i in range(model._n_vocab)
        )
        _VOCABULARIES[model] = cached
    return cached


def next_token_logprobs(
    model: LlamaCppModel, prompts: Sequence[str], top: int | None
) -> list[TokenDistribution]:
    """The log-softmax of the logits after each prompt: all tokens, or the ``top`` likeliest."""
    if top is not None and top < 1:
        raise UserError(f"top: expected an integer >= 1 or None, got {top}")
    with model._lock:
        vocab = vocabulary(model)
        out: dict[int, TokenDistribution] = {}
        # Sorted prompts sit next to those they share a prefix with.
        for i in sorted(range(len(prompts)), key=lambda j: prompts[j]):
            tokens = model._prompt_tokens(prompts[i], "next-token prompt")
            if len(tokens) >= model.n_ctx:
                raise UserError(
                    f"context overflow: prompt of {len(tokens)} tokens leaves no room in "
                    f"n_ctx {model.n_ctx}; raise the model option n_ctx"
                )
            x = slots(model).last_logits(tokens).astype(np.float64)
            peak = float(x.max())
            lps = x - peak - float(np.log(np.exp(x - peak).sum()))
            out[i] = TokenDistribution.from_vocabulary(vocab, lps, top)
        return [out[i] for i in range(len(prompts))]
