"""Scores from the embedded llama.cpp backend: log-probs of continuations from raw logits.

Kept apart from :mod:`sociallearn.models.llamacpp` (which owns the KV state and its exact
evaluation); :meth:`LlamaCppModel.score` delegates here. Requests with the same context are
scored together behind one context evaluation, and contexts are visited in token order so that
neighbours share their longest prefixes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from sociallearn.models.base import Score, ScoreRequest, common_prefix
from sociallearn.models.llamacpp_sampling import Logits, logprob

if TYPE_CHECKING:
    from sociallearn.models.llamacpp import LlamaCppModel


def score(model: LlamaCppModel, requests: Sequence[ScoreRequest]) -> list[Score]:
    """Log-probs of each continuation given its context (the caller holds the model's lock)."""
    split = {req: model._split(req) for req in dict.fromkeys(requests)}
    by_context: dict[tuple[int, ...], list[tuple[ScoreRequest, tuple[int, ...]]]] = {}
    for req, tok in split.items():
        by_context.setdefault(tok.context, []).append((req, tok.continuation))
    results: dict[ScoreRequest, Score] = {}
    for context in sorted(by_context):
        for req, result in _score_group(model, context, by_context[context]):
            results[req] = result
    return [results[req] for req in requests]


def _token_logprobs(rows: Sequence[Logits], tokens: Sequence[int]) -> tuple[float, ...]:
    return tuple(logprob(row, tok) for row, tok in zip(rows, tokens, strict=True))


def _score(lps: tuple[float, ...]) -> Score:
    return Score(logprob_sum=sum(lps), n_tokens=len(lps), token_logprobs=lps)


def _score_group(
    model: LlamaCppModel,
    context: tuple[int, ...],
    group: list[tuple[ScoreRequest, tuple[int, ...]]],
) -> Iterator[tuple[ScoreRequest, Score]]:
    n = len(context)
    if not model.prefix_reuse:
        for req, cont in group:
            rows = model._eval(context + cont[:-1], logits_from=n - 1) if cont else []
            yield req, _score(_token_logprobs(rows, cont))
        return
    # Continuations are visited in token order, so neighbours share their leading tokens
    # (canaries of one template differ only in a few slot tokens). The logits rows of the
    # previous continuation are kept: rows up to and including the end of the shared part
    # depend only on shared tokens, so only the rows after it are decoded.
    # The log-probs of the shared tokens themselves are kept too.
    prev: tuple[int, ...] = ()
    prev_rows: list[Logits] = []
    prev_lps: tuple[float, ...] = ()
    for req, cont in sorted(group, key=lambda item: item[1]):
        if not cont:
            yield req, Score(logprob_sum=0.0, n_tokens=0)
            continue
        if not prev_rows:
            # The row before the first continuation token is the same for the whole group.
            prev_rows = model._eval(context, logits_from=n - 1)
        shared = min(common_prefix(prev, cont), len(cont) - 1, len(prev_rows) - 1)
        rows = prev_rows[: shared + 1]
        if len(cont) > shared + 1:
            rows += model._eval(context + cont[:-1], logits_from=n + shared)
        lps = prev_lps[:shared] + _token_logprobs(rows[shared:], cont[shared:])
        prev, prev_rows, prev_lps = cont, rows, lps
        yield req, _score(lps)
