"""Scoring canaries behind a learned prompt (SPEC §5.2) and summarising audits (SPEC §5.4).

The score of a text is its *example reconstruction likelihood*: the mean per-token log-probability
(natural log) of the text as a continuation of the prompt. Only the text's own tokens count, and
dividing by their number keeps long and short renderings (``"Mary"`` vs ``"Christopher"``)
comparable. Higher is more likely.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from sociallearn.evaluation.stats import mean_sem
from sociallearn.models.base import LanguageModel, ScoreRequest
from sociallearn.privacy.canaries import CanarySet
from sociallearn.privacy.exposure import canary_rank, rank_exposure


def score_canaries(model: LanguageModel, prompt: str, texts: Sequence[str]) -> list[float]:
    """Mean token log-prob of each text as a continuation of ``prompt``, in input order.

    All texts go to ``model.score`` in one batch, so backends compute the shared prompt once.
    ``prompt`` is used as given: end it with the task's separator if the canary should read as
    the next example. A text that yields no tokens raises ValueError (it cannot be ranked).
    """
    scores = model.score([ScoreRequest(context=prompt, continuation=t) for t in texts])
    if len(scores) != len(texts):
        raise ValueError(f"model returned {len(scores)} scores for {len(texts)} texts")
    out: list[float] = []
    for text, score in zip(texts, scores, strict=True):
        if score.n_tokens == 0:
            raise ValueError(f"canary text {text[:40]!r} produced no tokens to score")
        out.append(score.mean_logprob)
    return out


@dataclass(frozen=True)
class CanaryResult:
    """One audit run: where the planted canary ranks among its references.

    ``rank`` is the number of references scoring strictly higher (0 = memorised), ``exposure`` is
    ``log2(N_SS) - log2(rank + 1)`` with ``N_SS = n_references + 1``.
    """

    rank: int
    exposure: float
    canary_score: float
    n_references: int
    reference_scores: tuple[float, ...] = field(default=(), repr=False, compare=False)

    @property
    def n_total(self) -> int:
        return self.n_references + 1


def audit_prompt(model: LanguageModel, prompt: str, canary_set: CanarySet) -> CanaryResult:
    """Score ``canary_set``'s canary and references behind ``prompt`` and rank the canary."""
    scores = score_canaries(model, prompt, canary_set.texts)
    canary, refs = scores[0], scores[1:]
    rank = canary_rank(canary, refs)
    return CanaryResult(
        rank=rank,
        exposure=rank_exposure(rank, len(refs) + 1),
        canary_score=canary,
        n_references=len(refs),
        reference_scores=tuple(refs),
    )


@dataclass(frozen=True)
class AuditSummary:
    """Ranks and exposures over the T_SS runs of one audit.

    ``mean_exposure`` averages the per-run exposures (the meaningful figure);
    ``exposure_of_mean_rank`` is the exposure of the mean rank, shown only for comparison with
    rank-only reports; by convexity it is lower whenever ranks vary. With no memorisation the mean
    rank is about ``(N_SS - 1) / 2`` and the mean exposure about 1.44 bits.
    """

    n_runs: int
    n_total: int
    mean_rank: float
    rank_sem: float
    n_rank_zero: int
    mean_exposure: float
    exposure_sem: float
    exposure_of_mean_rank: float

    @property
    def rank_zero(self) -> int:
        """Same as ``n_rank_zero``."""
        return self.n_rank_zero

    @property
    def expected_rank_zero(self) -> float:
        """How many rank-0 runs chance alone would give: ``n_runs / N_SS``."""
        return self.n_runs / self.n_total


def summarize_audit(results: Sequence[CanaryResult]) -> AuditSummary:
    """Aggregate runs that share one N_SS. SEMs are NaN for a single run."""
    if not results:
        raise ValueError("cannot summarise an audit with no runs")
    sizes = {r.n_total for r in results}
    if len(sizes) != 1:
        raise ValueError(f"audit runs mix canary set sizes {sorted(sizes)}; summarise them apart")
    n_total = sizes.pop()
    ranks = [float(r.rank) for r in results]
    exposures = [r.exposure for r in results]
    mean_rank = statistics.fmean(ranks)
    return AuditSummary(
        n_runs=len(results),
        n_total=n_total,
        mean_rank=mean_rank,
        rank_sem=mean_sem(ranks).sem,
        n_rank_zero=sum(1 for r in results if r.rank == 0),
        mean_exposure=statistics.fmean(exposures),
        exposure_sem=mean_sem(exposures).sem,
        exposure_of_mean_rank=rank_exposure(mean_rank, n_total),
    )
