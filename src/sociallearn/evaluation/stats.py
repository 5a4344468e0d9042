"""Statistics for comparing teaching methods: mean and SEM over seeds, the paper's (unpaired,
pooled) permutation test, bootstrap confidence intervals. The paired test that the report uses by
default lives in :mod:`sociallearn.evaluation.paired`.

The permutation test follows the social-learning paper's appendix: the per-item outcomes (1 = the
student answered the item correctly) of the baseline and of the method are pooled over all seeds,
shuffled, and split into two piles of the original sizes; the difference of the piles' accuracies
forms the null distribution. The test is one-sided, in the direction of the observed difference, so
two methods with equal accuracy get p close to 0.5 rather than 1.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

Alternative = Literal["greater", "less"]
Outcomes = Sequence[bool | float] | npt.NDArray[Any]
"""Per-item outcomes: booleans (correct or not) or numbers, as a sequence or a 1-D array."""

# Piles of a few thousand items times 10^4 permutations would need gigabytes at once; scipy
# evaluates the statistic on this many permutations per batch instead.
_PERMUTATION_BATCH = 500


@dataclass(frozen=True)
class MeanSEM:
    """Mean and standard error of the mean of a sample.

    ``sem`` is the sample standard deviation (ddof = 1) divided by sqrt(n). It is NaN when n < 2,
    because one seed says nothing about the spread; ``mean`` is NaN when n = 0.
    """

    mean: float
    sem: float
    n: int


@dataclass(frozen=True)
class PermutationResult:
    """Outcome of :func:`permutation_test`.

    ``observed_diff`` is mean(method) - mean(baseline); ``alternative`` is the one-sided direction
    that was tested ("greater": the method is better); ``exact`` says whether every split of the
    pooled items was enumerated instead of sampled.
    """

    p_value: float
    observed_diff: float
    alternative: Alternative
    n_baseline: int
    n_method: int
    exact: bool
    # "pooled": the paper's unpaired test over items pooled across seeds (this module);
    # "paired": outcomes swapped within (item, seed) pairs (sociallearn.evaluation.paired).
    kind: Literal["pooled", "paired"] = "pooled"

    def significant(self, level: float = 0.05) -> bool:
        """Whether the difference is significant at ``level`` (the paper uses p < 0.05)."""
        return self.p_value < level


class ConfidenceInterval(NamedTuple):
    """A two-sided confidence interval; NaN bounds when it cannot be estimated."""

    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    """A permutation test between two groups of result rows, with their accuracies.

    For a pooled test the accuracies are over all items of each side; for a paired test over the
    paired items only. ``ci`` is a confidence interval of method - baseline where one was
    computed; ``fallback`` says why a paired test was asked for but the pooled one was run.
    """

    baseline_accuracy: float
    method_accuracy: float
    test: PermutationResult
    ci: ConfidenceInterval | None = None
    fallback: str = ""

    @property
    def p_value(self) -> float:
        return self.test.p_value

    @property
    def kind(self) -> Literal["pooled", "paired"]:
        return self.test.kind

    @property
    def diff(self) -> float:
        """method - baseline (a fraction)."""
        return self.method_accuracy - self.baseline_accuracy

    def significant(self, level: float = 0.05) -> bool:
        return self.test.significant(level)


def _as_float_array(
    values: Iterable[bool | float] | npt.NDArray[Any], name: str
) -> npt.NDArray[np.float64]:
    array = np.asarray(list(values), dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a flat sequence of numbers or booleans")
    return array


def mean_sem(values: Iterable[float]) -> MeanSEM:
    """Mean and standard error of the mean of ``values`` (see :class:`MeanSEM` for n < 2)."""
    array = _as_float_array(values, "values")
    n = int(array.size)
    if n == 0:
        return MeanSEM(mean=math.nan, sem=math.nan, n=0)
    mean = float(array.mean())
    if n < 2:
        return MeanSEM(mean=mean, sem=math.nan, n=n)
    sem = float(array.std(ddof=1) / math.sqrt(n))
    return MeanSEM(mean=mean, sem=sem, n=n)


def _difference_of_means(
    method: npt.NDArray[np.float64], baseline: npt.NDArray[np.float64], axis: int
) -> npt.NDArray[np.float64]:
    diff: npt.NDArray[np.float64] = np.mean(method, axis=axis) - np.mean(baseline, axis=axis)
    return diff


def permutation_p_value(
    samples: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
    statistic: Callable[..., npt.NDArray[np.float64]],
    permutation_type: Literal["independent", "samples"],
    alternative: Alternative,
    n_resamples: int,
    seed: int,
) -> float:
    """scipy's permutation test of a vectorized ``statistic``, batched and seeded as every test
    of this package is."""
    from scipy import stats

    result = stats.permutation_test(
        samples,
        statistic,
        permutation_type=permutation_type,
        vectorized=True,
        n_resamples=n_resamples,
        batch=_PERMUTATION_BATCH,
        alternative=alternative,
        rng=np.random.default_rng(seed),
    )
    return float(result.pvalue)


def permutation_test(
    baseline: Outcomes,
    method: Outcomes,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> PermutationResult:
    """One-sided permutation test of mean(method) - mean(baseline) over pooled per-item outcomes.

    The direction is that of the observed difference ("greater" when the method's mean is at least
    the baseline's). scipy enumerates every split exactly when there are no more than
    ``n_resamples`` of them; otherwise it samples ``n_resamples`` random splits and counts the
    observed split once (so p is never 0). When the difference is zero, p is P(null >= 0), which
    is a little above 0.5 because the null puts mass on 0 itself; when every outcome is the same,
    p is 1.
    """
    base = _as_float_array(baseline, "baseline")
    meth = _as_float_array(method, "method")
    if base.size == 0 or meth.size == 0:
        raise ValueError("permutation_test needs at least one outcome in each group")
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    observed = float(meth.mean() - base.mean())
    alternative: Alternative = "greater" if observed >= 0 else "less"
    p_value = permutation_p_value(
        (meth, base), _difference_of_means, "independent", alternative, n_resamples, seed
    )
    n_splits = math.comb(base.size + meth.size, base.size)
    return PermutationResult(
        p_value=p_value,
        observed_diff=observed,
        alternative=alternative,
        n_baseline=int(base.size),
        n_method=int(meth.size),
        exact=n_splits <= n_resamples,
    )


def bootstrap_ci(
    values: Iterable[float],
    confidence: float = 0.95,
    n_resamples: int = 9_999,
    seed: int = 0,
) -> ConfidenceInterval:
    """Bootstrap confidence interval of the mean of ``values`` (BCa, percentile as a fallback).

    Fewer than two values give (NaN, NaN): the spread cannot be estimated. Identical values give a
    zero-width interval at that value, where BCa would be undefined.
    """
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie strictly between 0 and 1")
    array = _as_float_array(values, "values")
    if array.size < 2:
        return ConfidenceInterval(math.nan, math.nan)
    if np.all(array == array[0]):
        return ConfidenceInterval(float(array[0]), float(array[0]))
    from scipy import stats

    def run(method: str) -> ConfidenceInterval:
        result = stats.bootstrap(
            (array,),
            np.mean,
            n_resamples=n_resamples,
            confidence_level=confidence,
            method=method,
            vectorized=True,
            rng=np.random.default_rng(seed),
        )
        interval = result.confidence_interval
        return ConfidenceInterval(float(interval.low), float(interval.high))

    with warnings.catch_warnings():
        # BCa warns (and returns NaN) on tiny or lumpy samples; the percentile fallback covers it.
        warnings.simplefilter("ignore")
        interval = run("BCa")
        if math.isnan(interval.low) or math.isnan(interval.high):
            interval = run("percentile")
    return interval


def item_outcomes(rows: Iterable[Mapping[str, Any]]) -> list[float]:
    """Per-item correctness (1.0 / 0.0) pooled over result rows (usually one row per seed).

    Uses each row's ``predictions`` when present; otherwise rebuilds ``n_correct`` ones and
    ``n_items - n_correct`` zeros, which gives the same accuracy-difference test because the
    statistic does not depend on which item is which.
    """
    outcomes: list[float] = []
    for row in rows:
        predictions = row.get("predictions")
        if predictions:
            outcomes.extend(1.0 if p.get("correct") else 0.0 for p in predictions)
            continue
        n_items = row.get("n_items")
        n_correct = row.get("n_correct")
        if n_items is None:
            raise ValueError(f"row {row.get('unit', '?')} has neither predictions nor n_items")
        if n_correct is None:
            n_correct = round(float(row["accuracy"]) * int(n_items))
        outcomes.extend([1.0] * int(n_correct) + [0.0] * (int(n_items) - int(n_correct)))
    return outcomes


def compare(
    rows_baseline: Iterable[Mapping[str, Any]],
    rows_method: Iterable[Mapping[str, Any]],
    n_resamples: int = 10_000,
    seed: int = 0,
) -> Comparison:
    """Permutation test of a method's result rows against a baseline's, items pooled over seeds."""
    base = item_outcomes(rows_baseline)
    meth = item_outcomes(rows_method)
    test = permutation_test(base, meth, n_resamples=n_resamples, seed=seed)
    return Comparison(
        baseline_accuracy=float(np.mean(base)),
        method_accuracy=float(np.mean(meth)),
        test=test,
    )


def rank_below_chance_p(
    ranks: Sequence[int], n_candidates: int, n_resamples: int = 10_000, seed: int = 0
) -> float:
    """One-sided p that a canary's mean rank is below what no memorisation gives.

    Without memorisation each run's 0-indexed rank is uniform on 0..N-1; the null distribution
    of the mean over the runs is drawn ``n_resamples`` times, and p = (hits + 1) / (draws + 1)
    where a hit is a simulated mean at or below the observed one.
    """
    if not ranks:
        raise ValueError("rank_below_chance_p needs at least one rank")
    if n_candidates < 1:
        raise ValueError("n_candidates must be at least 1")
    observed = float(np.mean(ranks))
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, n_resamples, _PERMUTATION_BATCH):
        size = min(_PERMUTATION_BATCH, n_resamples - start)
        means = rng.integers(0, n_candidates, size=(size, len(ranks))).mean(axis=1)
        hits += int((means <= observed).sum())
    return (hits + 1) / (n_resamples + 1)
