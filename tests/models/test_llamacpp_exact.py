"""Exact evaluations give the same logits whatever the KV cache held before.

On x86, K-quant weights (Q4_K_M files) made a token's logits depend on where its decode call
began; exact evaluations then pad each call to a multiple of ``DECODE_MULTIPLE`` tokens. The
embedded SmolLM2 does not need it (its probe says so); the padding itself is tested on it by
switching it on, and the history test runs on any GGUF named by ``SOCIALLEARN_KQUANT_GGUF``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

from sociallearn.models.base import ScoreRequest

pytestmark = pytest.mark.embedded

TEXT = (
    "Question: Natalia sold clips to 48 of her friends in April, and then she sold half as many "
    "clips in May. How many clips did Natalia sell altogether?\nAnswer: 48 + 24 = 72.\n#### 72"
)


def _model(path: str, **options: Any) -> Any:
    from sociallearn.models.llamacpp import LlamaCppModel

    return LlamaCppModel(path, **{"n_ctx": 512, "n_threads": 1, **options})


def _last_rows_after_histories(model: Any) -> list[Any]:
    """The last token's logits from an empty cache and after caching each shorter prefix, some
    of them decoded one token at a time (as sampling does)."""
    tokens = model._tokenize(TEXT)
    n = len(tokens)
    rows = []
    for k in [0, *range(1, n - 1, 3)]:
        model._forget()
        if k:
            model._eval(tokens[:k], logits_from=k - 1, exact=k % 2 == 0)
        rows.append(model._eval(tokens, logits_from=n - 1)[-1])
    return rows


def test_padded_decodes_leave_scores_and_cache_as_unpadded(embedded_gguf: Any) -> None:
    from sociallearn.models.llamacpp import DECODE_MULTIPLE

    plain = _model(str(embedded_gguf))
    padded = _model(str(embedded_gguf))
    try:
        assert plain._pad_to == 1  # SmolLM2's kernels do not depend on the call's size
        padded._pad_to = DECODE_MULTIPLE
        reqs = [
            ScoreRequest(TEXT[:90], TEXT[90:]),
            ScoreRequest(TEXT[:91], " 72"),
            ScoreRequest(TEXT, ""),
        ]
        before = padded.decoded_tokens
        assert padded.score(reqs) == plain.score(reqs)
        # Every decode of an exact evaluation is padded; the padding never stays in the KV.
        assert (padded.decoded_tokens - before) % DECODE_MULTIPLE == 0
        assert padded._kv == padded._kv[: padded._exact_kv]
        tokens = plain._tokenize(TEXT)
        fresh = plain._eval(tokens, logits_from=len(tokens) - 1)[-1]
        assert all(np.array_equal(fresh, row) for row in _last_rows_after_histories(padded))
    finally:
        plain.close()
        padded.close()


def _window_end_rows(model: Any) -> tuple[Any, list[Any]]:
    """The last token's logits for a text 3 tokens short of the window, from an empty cache and
    after caching prefixes that leave 1-9 tokens to decode (padding after them cannot fit)."""
    tokens = (model._tokenize(TEXT) * 16)[: model.n_ctx - 3]
    n = len(tokens)
    model._forget()
    fresh = model._eval(tokens, logits_from=n - 1)[-1]
    rows = []
    for k in [n - 1, n - 2, n - 5, n - 9]:
        model._forget()
        model._eval(tokens[:k], logits_from=k - 1)
        before = model.decoded_tokens
        rows.append(model._eval(tokens, logits_from=n - 1)[-1])
        assert (model.decoded_tokens - before) % model._pad_to == 0
        assert model._kv == tokens and model._exact_kv == n
    return fresh, rows


def test_exact_decodes_at_the_window_end_begin_earlier_instead_of_padding(
    embedded_gguf: Any,
) -> None:
    from sociallearn.models.llamacpp import DECODE_MULTIPLE

    model = _model(str(embedded_gguf), n_ctx=64)  # llama.cpp makes it 256
    try:
        model._pad_to = DECODE_MULTIPLE
        model._chunk = model._chunk - model._chunk % DECODE_MULTIPLE
        fresh, rows = _window_end_rows(model)
        assert all(np.array_equal(fresh, row) for row in rows)
    finally:
        model.close()


@pytest.mark.skipif(
    not os.environ.get("SOCIALLEARN_KQUANT_GGUF"),
    reason="set SOCIALLEARN_KQUANT_GGUF to a K-quant GGUF (e.g. Qwen2.5-Coder-0.5B Q4_K_M)",
)
def test_kquant_logits_do_not_depend_on_the_cache() -> None:
    path = os.environ["SOCIALLEARN_KQUANT_GGUF"]
    model, fresh = _model(path), _model(path)
    try:
        rows = _last_rows_after_histories(model)
        assert all(np.array_equal(rows[0], row) for row in rows[1:])
        small = _model(path, n_ctx=64)
        try:
            row, rows = _window_end_rows(small)  # padding there would not fit
            assert all(np.array_equal(row, other) for other in rows)
        finally:
            small.close()
        # Next-token distributions keep prompts in KV slots: the same after a slot's history.
        [expected] = fresh.next_token_logprobs([TEXT], top=20)
        for k in (len(TEXT) - 3, len(TEXT) - 11, 40):
            model.next_token_logprobs([TEXT[:k]])
            assert model.next_token_logprobs([TEXT], top=20) == [expected]
    finally:
        model.close()
        fresh.close()
