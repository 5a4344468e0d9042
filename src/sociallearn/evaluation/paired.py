"""Paired comparison of two methods evaluated on the same test items with the same seeds.

Two methods run at the same task, n and seeds answer the same test items, so their outcomes come
in pairs, one per (item, seed). Pooling the items of both as if they were independent (the
paper's test, :func:`sociallearn.evaluation.stats.permutation_test`) ignores that an item that is
hard for one method is usually hard for the other, and it treats the same item under several
seeds as several independent items. Here instead:

- **Paired permutation test**: under the null hypothesis that the two methods are exchangeable on
  every (item, seed), swapping the two outcomes within any pair leaves the distribution unchanged.
  The statistic is the mean over pairs of method - baseline; swaps are drawn independently per
  pair (10^4 times by default), one-sided in the direction of the observed difference as in the
  paper. Pairs with equal outcomes contribute 0 whichever way round they are, so only the
  discordant pairs are permuted; with at most log2(n_resamples) of them every sign pattern is
  enumerated and p is exact.
- **Seed-clustered bootstrap CI** of the same difference: seeds are resampled as whole clusters
  (a seed fixes the teachers' data split and sampling, so its items move together), and the test
  items are resampled as well, the same items for every resampled seed when all seeds share one
  item set (a crossed design), within each seed otherwise. With a single seed it reduces to the
  ordinary paired bootstrap over items; percentile interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from sociallearn.evaluation.stats import (
    Alternative,
    Comparison,
    ConfidenceInterval,
    PermutationResult,
    compare,
    permutation_p_value,
)

TestKind = Literal["paired", "pooled"]
Outcome = Callable[[Mapping[str, Any]], float | None]
"""Maps one per-item prediction record to its outcome (None: leave the item out)."""

_BOOTSTRAP_BATCH = 500


def correct_outcome(prediction: Mapping[str, Any]) -> float | None:
    """1.0 for a correct answer, 0.0 otherwise (the accuracy's outcome)."""
    return 1.0 if prediction.get("correct") else 0.0


@dataclass(frozen=True)
class PairedOutcomes:
    """Outcomes of two methods on the same (item, seed) pairs, in matching order.

    ``seeds`` holds each pair's seed (the bootstrap's cluster); ``items`` each pair's item id
    (a uid repeated within one row gets '#k' appended so pairs stay distinct); ``n_unpaired``
    counts outcomes, on either side, that had no partner and were left out.
    """

    baseline: npt.NDArray[np.float64]
    method: npt.NDArray[np.float64]
    seeds: tuple[str, ...]
    items: tuple[str, ...]
    n_unpaired: int = 0

    @property
    def n_pairs(self) -> int:
        return int(self.baseline.size)

    @property
    def n_seeds(self) -> int:
        return len(set(self.seeds))

    @property
    def differences(self) -> npt.NDArray[np.float64]:
        diff: npt.NDArray[np.float64] = self.method - self.baseline
        return diff


def _item_outcomes(
    rows: Iterable[Mapping[str, Any]], outcome: Outcome
) -> dict[tuple[str, str], float] | None:
    """{(seed, item): outcome} over rows; None when a row has no per-item predictions with uids."""
    found: dict[tuple[str, str], float] = {}
    for row in rows:
        predictions = row.get("predictions")
        if not isinstance(predictions, list) or not predictions:
            return None
        seed = str(row.get("seed"))
        seen: dict[str, int] = {}
        for prediction in predictions:
            uid = prediction.get("uid") if isinstance(prediction, Mapping) else None
            if uid is None:
                return None
            value = outcome(prediction)
            if value is None:
                continue
            occurrence = seen.get(str(uid), 0)
            seen[str(uid)] = occurrence + 1
            item = str(uid) if occurrence == 0 else f"{uid}#{occurrence}"
            if (seed, item) in found:
                # Two rows of one side with the same seed: pairing would be ambiguous.
                return None
            found[(seed, item)] = float(value)
    return found


def pair_rows(
    rows_baseline: Iterable[Mapping[str, Any]],
    rows_method: Iterable[Mapping[str, Any]],
    outcome: Outcome = correct_outcome,
) -> PairedOutcomes | None:
    """Pair two groups of result rows by (item uid, seed).

    None when pairing is impossible: a row without per-item ``predictions``, a prediction
    without ``uid``, or two rows of one side with the same seed. Items present on one side only
    are left out and counted in ``n_unpaired``.
    """
    base = _item_outcomes(rows_baseline, outcome)
    meth = _item_outcomes(rows_method, outcome)
    if base is None or meth is None:
        return None
    keys = sorted(base.keys() & meth.keys())
    return PairedOutcomes(
        baseline=np.array([base[key] for key in keys], dtype=np.float64),
        method=np.array([meth[key] for key in keys], dtype=np.float64),
        seeds=tuple(key[0] for key in keys),
        items=tuple(key[1] for key in keys),
        n_unpaired=len(base) + len(meth) - 2 * len(keys),
    )


def paired_permutation_test(
    baseline: npt.ArrayLike,
    method: npt.ArrayLike,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> PermutationResult:
    """One-sided paired permutation test of mean(method - baseline), swapping within pairs.

    ``baseline[i]`` and ``method[i]`` are the two outcomes of pair i. The direction is that of
    the observed difference ("greater" when the method's mean is at least the baseline's). When
    no pair differs, the null distribution is the single point 0 and p is 1.
    """
    base = np.asarray(baseline, dtype=np.float64)
    meth = np.asarray(method, dtype=np.float64)
    if base.ndim != 1 or base.shape != meth.shape:
        raise ValueError("paired outcomes must be two flat sequences of the same length")
    if base.size == 0:
        raise ValueError("paired_permutation_test needs at least one pair")
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    total = int(base.size)
    observed = float((meth - base).mean())
    alternative: Alternative = "greater" if observed >= 0 else "less"
    discordant = meth != base
    n_discordant = int(discordant.sum())
    if n_discordant == 0:
        return PermutationResult(1.0, observed, alternative, total, total, True, "paired")
    exact = 2**n_discordant <= n_resamples
    diffs = meth[discordant] - base[discordant]
    if np.all(np.abs(diffs) == abs(diffs[0])):
        p_value = _equal_magnitude_p(diffs, alternative, exact, n_resamples, seed)
        return PermutationResult(p_value, observed, alternative, total, total, exact, "paired")

    def mean_difference(
        x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], axis: int
    ) -> npt.NDArray[np.float64]:
        # Divided by every pair, not only the discordant ones: the statistic is the mean
        # difference over all pairs, and concordant pairs add 0 under any swap.
        diff: npt.NDArray[np.float64] = np.sum(x - y, axis=axis) / total
        return diff

    swappable = (meth[discordant], base[discordant])
    p_value = permutation_p_value(
        swappable, mean_difference, "samples", alternative, n_resamples, seed
    )
    return PermutationResult(
        p_value=p_value,
        observed_diff=observed,
        alternative=alternative,
        n_baseline=total,
        n_method=total,
        exact=exact,
        kind="paired",
    )


def _equal_magnitude_p(
    diffs: npt.NDArray[np.float64],
    alternative: Alternative,
    exact: bool,
    n_resamples: int,
    seed: int,
) -> float:
    """p of the sign-swap test when every discordant pair differs by the same amount.

    This is the usual case (right/wrong outcomes differ by 1). A random swap pattern then only
    changes how many of the D discordant pairs favour the method, which is Binomial(D, 1/2), so
    the permutations are drawn as binomial counts (the same distribution as swapping pairs one
    by one, thousands of times faster) or, when exact, summed from the binomial distribution.
    Sampled p counts the observed arrangement once, as scipy does: (hits + 1) / (draws + 1).
    """
    from scipy import stats

    n_discordant = int(diffs.size)
    favour = int((diffs > 0).sum())
    if exact:
        if alternative == "greater":
            return float(stats.binom.sf(favour - 1, n_discordant, 0.5))
        return float(stats.binom.cdf(favour, n_discordant, 0.5))
    draws = np.random.default_rng(seed).binomial(n_discordant, 0.5, size=n_resamples)
    hits = int((draws >= favour).sum() if alternative == "greater" else (draws <= favour).sum())
    return (hits + 1) / (n_resamples + 1)


def _crossed(paired: PairedOutcomes) -> npt.NDArray[np.float64] | None:
    """The seeds x items matrix of differences when every seed has every item once, else None."""
    seeds = sorted(set(paired.seeds))
    items = sorted(set(paired.items))
    if len(seeds) * len(items) != paired.n_pairs:
        return None
    seed_index = {s: i for i, s in enumerate(seeds)}
    item_index = {u: j for j, u in enumerate(items)}
    matrix = np.full((len(seeds), len(items)), np.nan)
    for s, u, d in zip(paired.seeds, paired.items, paired.differences, strict=True):
        matrix[seed_index[s], item_index[u]] = d
    return None if np.isnan(matrix).any() else matrix


def _crossed_replicates(
    matrix: npt.NDArray[np.float64], n_resamples: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    n_seeds, n_items = matrix.shape
    out = np.empty(n_resamples)
    for start in range(0, n_resamples, _BOOTSTRAP_BATCH):
        size = min(_BOOTSTRAP_BATCH, n_resamples - start)
        seed_counts = rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), size=size)
        item_counts = rng.multinomial(n_items, np.full(n_items, 1 / n_items), size=size)
        totals = np.einsum("bs,su,bu->b", seed_counts, matrix, item_counts)
        out[start : start + size] = totals / (n_seeds * n_items)
    return out


def _nested_replicates(
    paired: PairedOutcomes, n_resamples: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Seeds drawn as clusters, then each drawn seed's items resampled on their own."""
    diffs = paired.differences
    labels = np.array(paired.seeds)
    seeds = sorted(set(paired.seeds))
    n_seeds = len(seeds)
    sizes = np.array([int((labels == s).sum()) for s in seeds])
    out = np.empty(n_resamples)
    for start in range(0, n_resamples, _BOOTSTRAP_BATCH):
        size = min(_BOOTSTRAP_BATCH, n_resamples - start)
        # Sum of a resample of seed s's items, for every (replicate, cluster slot): a multinomial
        # over the seed's distinct differences (three values for right/wrong outcomes).
        sums = np.empty((n_seeds, size, n_seeds))
        for index, s in enumerate(seeds):
            values, counts = np.unique(diffs[labels == s], return_counts=True)
            draws = rng.multinomial(sizes[index], counts / counts.sum(), size=(size, n_seeds))
            sums[index] = draws @ values
        chosen = rng.integers(0, n_seeds, size=(size, n_seeds))
        slot_sums = np.take_along_axis(sums.transpose(1, 2, 0), chosen[..., None], axis=2)[..., 0]
        out[start : start + size] = slot_sums.sum(axis=1) / sizes[chosen].sum(axis=1)
    return out


def clustered_bootstrap_ci(
    paired: PairedOutcomes,
    confidence: float = 0.95,
    n_resamples: int = 9_999,
    seed: int = 0,
) -> ConfidenceInterval:
    """Percentile bootstrap interval of mean(method - baseline), seeds resampled as clusters.

    No pairs give (NaN, NaN); identical differences a zero-width interval at that value.
    """
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie strictly between 0 and 1")
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    diffs = paired.differences
    if diffs.size == 0:
        return ConfidenceInterval(math.nan, math.nan)
    if np.all(diffs == diffs[0]):
        return ConfidenceInterval(float(diffs[0]), float(diffs[0]))
    rng = np.random.default_rng(seed)
    matrix = _crossed(paired)
    if matrix is not None:
        replicates = _crossed_replicates(matrix, n_resamples, rng)
    else:
        replicates = _nested_replicates(paired, n_resamples, rng)
    tail = (1 - confidence) / 2
    low, high = np.quantile(replicates, [tail, 1 - tail])
    return ConfidenceInterval(float(low), float(high))


def compare_paired(
    paired: PairedOutcomes,
    n_resamples: int = 10_000,
    seed: int = 0,
    ci: bool = False,
    confidence: float = 0.95,
) -> Comparison:
    """Paired test (and, with ``ci``, the clustered bootstrap interval) of paired outcomes."""
    test = paired_permutation_test(paired.baseline, paired.method, n_resamples, seed)
    interval = clustered_bootstrap_ci(paired, confidence, seed=seed) if ci else None
    return Comparison(
        baseline_accuracy=float(paired.baseline.mean()),
        method_accuracy=float(paired.method.mean()),
        test=test,
        ci=interval,
    )


def compare_rows(
    rows_baseline: Iterable[Mapping[str, Any]],
    rows_method: Iterable[Mapping[str, Any]],
    test: TestKind = "paired",
    n_resamples: int = 10_000,
    seed: int = 0,
    ci: bool = False,
) -> Comparison:
    """Compare a method's result rows with a baseline's by the requested test.

    ``paired`` pairs per-item outcomes by (uid, seed); when that is impossible (rows without
    per-item predictions, no item in common) the paper's pooled test is run instead and
    ``fallback`` says why. ``pooled`` runs the paper's test directly.
    """
    base_rows = list(rows_baseline)
    meth_rows = list(rows_method)
    fallback = ""
    if test == "paired":
        paired = pair_rows(base_rows, meth_rows)
        if paired is not None and paired.n_pairs > 0:
            return compare_paired(paired, n_resamples, seed, ci=ci)
        fallback = (
            "no (item, seed) in common"
            if paired is not None
            else "rows lack per-item predictions with uids"
        )
    elif test != "pooled":
        raise ValueError(f"unknown test {test!r}; expected 'paired' or 'pooled'")
    pooled = compare(base_rows, meth_rows, n_resamples=n_resamples, seed=seed)
    return Comparison(
        baseline_accuracy=pooled.baseline_accuracy,
        method_accuracy=pooled.method_accuracy,
        test=pooled.test,
        fallback=fallback,
    )
