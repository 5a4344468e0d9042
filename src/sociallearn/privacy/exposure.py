"""Exposure of a planted secret, as defined by the Secret Sharer (Carlini et al., 2019).

Two conventions are used throughout, and they point in opposite directions:

* a **perplexity** is *lower* for more likely text. Here it is the negative mean per-token
  log-probability (natural log) of the canary text, i.e. ``-score``; any strictly increasing
  transform gives the same ranks, but the skew-normal fit of :func:`exposure_extrapolation` depends
  on the scale, so use the same quantity for secrets and references.
* a **score** is *higher* for more likely text: the mean per-token log-probability itself, as
  returned by :func:`sociallearn.privacy.score_canaries`.

The exposure functions take perplexities (the Secret Sharer's own formulation, so results can be
compared with other implementations); :func:`canary_rank` and :func:`rank_exposure` take scores
and the social-learning paper's 0-indexed rank.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _as_array(values: Sequence[float], what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a flat sequence of numbers")
    if np.isnan(arr).any():
        raise ValueError(f"{what} contains NaN")
    return arr


def exposure_interpolation(
    secret_perplexities: Sequence[float], reference_perplexities: Sequence[float]
) -> list[float]:
    """Exposure of each secret against a sample of never-planted references.

    ``rank = 1 + #{references with perplexity <= the secret's}`` (a tie counts against the
    secret, as in TF Privacy) and ``exposure = log2(N_ref) - log2(rank)``. The result has one value
    per secret, **in input order**. It lies in ``[log2(N/(N+1)), log2(N)]``: slightly negative when
    the secret is less likely than every reference, ``log2(N)`` when it beats them all.

    Example: with references ``1..16``, a secret of perplexity ``3.5`` has rank 4, so 2 bits.
    """
    secrets = _as_array(secret_perplexities, "secret perplexities")
    refs = np.sort(_as_array(reference_perplexities, "reference perplexities"))
    if refs.size == 0:
        raise ValueError("exposure needs at least one reference perplexity")
    # side="right" counts references equal to the secret, which is the tie rule above.
    ranks = 1 + np.searchsorted(refs, secrets, side="right")
    return [float(x) for x in math.log2(refs.size) - np.log2(ranks)]


def exposure_extrapolation(
    secret_perplexities: Sequence[float], reference_perplexities: Sequence[float]
) -> list[float]:
    """Exposure estimated from a skew-normal fitted to the reference perplexities.

    Returns ``-log2(CDF(p))`` for each secret perplexity ``p``, in input order, where CDF is that of
    ``scipy.stats.skewnorm`` fitted by maximum likelihood. Unlike interpolation it can exceed
    ``log2(N_ref)``. The CDF is taken in log space, so very small tail probabilities still give a
    finite exposure (up to roughly 1,000 bits, where double precision ends); a secret even further
    out returns ``math.inf``.

    The fit needs references that actually vary: at least 3 distinct values are required.
    Scores of discrete, tokenisation-dependent canaries (4-digit codes) are lumpy; prefer
    :func:`exposure_enumeration` or interpolation there.
    """
    from scipy import stats

    secrets = _as_array(secret_perplexities, "secret perplexities")
    refs = _as_array(reference_perplexities, "reference perplexities")
    if np.unique(refs).size < 3:
        raise ValueError("a skew-normal fit needs at least 3 distinct reference perplexities")
    a, loc, scale = stats.skewnorm.fit(refs)
    log_cdf = np.asarray(stats.skewnorm.logcdf(secrets, a, loc, scale), dtype=float)
    out: list[float] = []
    for value in log_cdf:
        bits = -float(value) / math.log(2)
        out.append(math.inf if math.isinf(bits) else max(bits, 0.0))
    return out


def exposure_enumeration(
    space_perplexities: Sequence[float], secret_indices: Sequence[int]
) -> list[float]:
    """Exact exposure when every member of the randomness space was scored.

    ``space_perplexities`` holds one perplexity per possible secret (e.g. all 9,000 four-digit
    codes rendered into the template); ``secret_indices`` says which entries were planted. Each
    secret is ranked against all *other* members (Carlini et al.'s rank, which counts the secret
    itself): ``rank = 1 + #{others with perplexity <= the secret's}`` and
    ``exposure = log2(|R|) - log2(rank)``, in ``[0, log2(|R|)]``. Indexing the space, rather than
    passing the secret's value again, keeps the secret from being compared with itself.

    This equals :func:`exposure_interpolation` against the other ``|R| - 1`` members, plus
    ``log2(|R| / (|R| - 1))`` for the different denominator.
    """
    space = _as_array(space_perplexities, "space perplexities")
    if space.size == 0:
        raise ValueError("the randomness space is empty")
    order = np.sort(space)
    out: list[float] = []
    for index in secret_indices:
        if not 0 <= index < space.size:
            raise ValueError(f"secret index {index} is outside the space of {space.size}")
        # Counting every member <= the secret includes the secret itself: that is the rank.
        rank = int(np.searchsorted(order, space[index], side="right"))
        out.append(math.log2(space.size) - math.log2(rank))
    return out


def canary_rank(canary_score: float, reference_scores: Sequence[float]) -> int:
    """The social-learning paper's rank: how many references score *strictly* higher.

    Scores are mean token log-probs (higher = more likely). 0 means the canary beat every
    reference (perfect memorisation); with no memorisation the rank is uniform on ``0..N_ref``.
    """
    refs = _as_array(reference_scores, "reference scores")
    if math.isnan(canary_score):
        raise ValueError("canary score is NaN")
    return int(np.count_nonzero(refs > canary_score))


def rank_exposure(rank: float, n_total: int) -> float:
    """Exposure from a 0-indexed rank: ``log2(n_total) - log2(rank + 1)``.

    ``n_total`` counts the canary and its references (N_SS, 1000 in the paper), so the range is
    ``[0, log2(n_total)]``. ``rank`` may be a mean rank (a float), but note that the exposure of the
    mean rank is *not* the mean exposure; average per-run exposures instead.
    """
    if n_total < 1:
        raise ValueError(f"n_total must be at least 1, got {n_total}")
    if not 0 <= rank <= n_total - 1:
        raise ValueError(f"rank {rank} is outside 0..{n_total - 1}")
    return math.log2(n_total) - math.log2(rank + 1)
