"""Scoring canaries through the model contract, and summarising audit runs."""

from __future__ import annotations

import math

import pytest

from sociallearn.models.fake import FakeModel
from sociallearn.privacy import (
    CanaryResult,
    audit_prompt,
    make_canary_set,
    rank_exposure,
    score_canaries,
    summarize_audit,
)
from sociallearn.tasks.base import CanaryTemplate

TEMPLATE = CanaryTemplate("t", "code", "The secret code is {code} -> code")


def test_score_canaries_sends_one_batch_sharing_the_prompt() -> None:
    model = FakeModel()
    calls: list[int] = []
    original = model.score

    def spy(requests):  # type: ignore[no-untyped-def]
        calls.append(len(requests))
        return original(requests)

    model.score = spy  # type: ignore[method-assign]
    texts = ["a b c", "d e", "f"]
    scores = score_canaries(model, "prompt\n\n", texts)
    assert calls == [3]
    assert all(r.context == "prompt\n\n" for r in model.score_calls)
    expected = original([type(model.score_calls[0])("prompt\n\n", t) for t in texts])
    assert scores == pytest.approx([s.mean_logprob for s in expected])


def test_audit_ranks_a_preferred_canary_first() -> None:
    cs = make_canary_set(TEMPLATE, n_total=50, seed=4)
    # The fake model gives +5 nats to continuations containing a preferred substring.
    model = FakeModel(preferences=[cs.secret])
    result = audit_prompt(model, "Examples:\n\n", cs)
    assert result.rank == 0
    assert result.n_references == 49 and result.n_total == 50
    assert result.exposure == pytest.approx(math.log2(50))
    assert len(result.reference_scores) == 49


def test_audit_rank_is_the_count_of_strictly_better_references() -> None:
    cs = make_canary_set(TEMPLATE, n_total=50, seed=4)
    model = FakeModel()
    result = audit_prompt(model, "Examples:\n\n", cs)
    scores = score_canaries(model, "Examples:\n\n", cs.texts)
    assert result.rank == sum(s > scores[0] for s in scores[1:])
    assert result.exposure == pytest.approx(rank_exposure(result.rank, 50))


def test_summary_averages_exposure_per_run() -> None:
    results = [
        CanaryResult(rank=r, exposure=rank_exposure(r, 1000), canary_score=-1.0, n_references=999)
        for r in (0, 0, 499, 999)
    ]
    s = summarize_audit(results)
    assert s.n_runs == 4 and s.n_total == 1000
    assert s.mean_rank == pytest.approx(374.5)
    assert s.n_rank_zero == 2 == s.rank_zero
    expected = (2 * math.log2(1000) + math.log2(1000 / 500) + 0.0) / 4
    assert s.mean_exposure == pytest.approx(expected)
    assert s.exposure_of_mean_rank == pytest.approx(math.log2(1000) - math.log2(375.5))
    assert s.exposure_of_mean_rank < s.mean_exposure  # convexity, SPEC §5.4
    assert s.rank_sem > 0 and s.exposure_sem > 0
    assert s.expected_rank_zero == pytest.approx(0.004)


def test_summary_of_one_run_has_nan_sem_and_mixing_sizes_fails() -> None:
    one = CanaryResult(rank=3, exposure=rank_exposure(3, 10), canary_score=-1.0, n_references=9)
    assert math.isnan(summarize_audit([one]).rank_sem)
    other = CanaryResult(rank=3, exposure=rank_exposure(3, 20), canary_score=-1.0, n_references=19)
    with pytest.raises(ValueError, match="mix"):
        summarize_audit([one, other])
    with pytest.raises(ValueError):
        summarize_audit([])
