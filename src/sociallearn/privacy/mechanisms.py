"""Differentially private release mechanisms over teachers' votes and next-token distributions.

Each function returns what it released together with the :class:`PrivacyEvent` s it spent, so the
caller records them in the unit's :class:`~sociallearn.privacy.accounting.PrivacyLedger`. The
privacy unit is one teacher's silo; sensitivities below are for replacing one teacher.

* :func:`gnmax` — noisy argmax of a vote histogram (Papernot et al. 2018, "GNMax"): one teacher
  moves one vote, which changes the histogram by L2 √2; Gaussian noise σ on every count, release
  the argmax (post-processing of the Gaussian mechanism).
* :func:`confident_gnmax` — answer only when the noisy top count passes a threshold T (noise σ₁ on
  the top count, sensitivity 1), else abstain. **Accounting is data-independent only**: every query
  is charged both the threshold check and the GNMax release, answered or not. Papernot et al.'s
  tighter data-dependent (smooth-sensitivity) analysis is not in ``dp-accounting`` and is not
  applied here, so confident-GNMax buys utility (no low-consensus answers), not a smaller ε.
* :func:`gaussian_token` / :func:`exponential_token` — one token of private generation (Tang et
  al., ICLR'24): each teacher's next-token distribution is restricted to a candidate set fixed
  without private data (the whole vocabulary, or the top tokens of a public prompt) and clipped to
  L1 ≤ 1; the per-candidate sums are released by noisy argmax (Gaussian, L2 sensitivity √2) or
  sampled ∝ exp(sum/τ) (exponential mechanism, utility sensitivity 1, ε = 2/τ per token).

Noise comes from numpy's PCG64 generator with floating-point arithmetic: fine for research and
for measuring privacy–utility trade-offs, not hardened against floating-point side channels
(Mironov 2012) or a predictable seed. Use a fresh, secret seed for real releases.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sociallearn.privacy.accounting import PrivacyEvent

SQRT2 = math.sqrt(2.0)
#: L2 sensitivity of a vote histogram (or of a sum of probability vectors) when one teacher
#: changes: its one-hot vote e_a becomes e_b, and ||e_a - e_b||₂ = √2.
VOTE_L2_SENSITIVITY = SQRT2
#: Sensitivity of the top count of a histogram (each count moves by at most 1).
TOP_COUNT_SENSITIVITY = 1.0

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class NoisyVote:
    """The outcome of one private vote. ``winner`` is None when confident-GNMax abstained."""

    winner: int | None
    events: tuple[PrivacyEvent, ...]


def vote_histogram(votes: Sequence[int], n_candidates: int) -> Floats:
    """Counts of one vote per teacher over ``n_candidates`` options."""
    if n_candidates < 1:
        raise ValueError(f"n_candidates: expected an integer >= 1, got {n_candidates}")
    counts = np.zeros(n_candidates, dtype=np.float64)
    for v in votes:
        if not 0 <= v < n_candidates:
            raise ValueError(f"vote {v} is outside 0..{n_candidates - 1}")
        counts[v] += 1.0
    return counts


def _counts(counts: Sequence[float] | Floats) -> Floats:
    arr = np.asarray(counts, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("counts: expected a non-empty flat sequence of numbers")
    if not np.isfinite(arr).all():
        raise ValueError("counts: expected finite numbers")
    return arr


def _check_noise(value: float, what: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{what}: expected a finite number > 0, got {value}")


def gnmax(
    counts: Sequence[float] | Floats,
    sigma: float,
    rng: np.random.Generator,
    *,
    round_no: int = 0,
    covers: str = "selection",
) -> NoisyVote:
    """Noisy argmax: ``argmax(counts + N(0, σ²))``; one Gaussian release of L2 sensitivity √2.

    For two options with counts c₁ and c₂ the first wins with probability Φ((c₁ − c₂)/(σ√2)).
    """
    _check_noise(sigma, "sigma")
    arr = _counts(counts)
    noisy = arr + rng.normal(0.0, sigma, size=arr.size)
    event = PrivacyEvent(
        "gaussian", noise=sigma, sensitivity=VOTE_L2_SENSITIVITY, round=round_no, covers=covers
    )
    return NoisyVote(winner=int(np.argmax(noisy)), events=(event,))


def confident_gnmax(
    counts: Sequence[float] | Floats,
    sigma: float,
    threshold: float,
    sigma_threshold: float,
    rng: np.random.Generator,
    *,
    round_no: int = 0,
    covers: str = "selection",
) -> NoisyVote:
    """Answer with GNMax only when ``max(counts) + N(0, σ₁²) >= threshold``, else abstain.

    Charged data-independently (see the module doc): a Gaussian release of the top count
    (σ₁, sensitivity 1) and a GNMax release (σ, √2), whether or not it answers.
    """
    _check_noise(sigma, "sigma")
    _check_noise(sigma_threshold, "sigma_threshold")
    arr = _counts(counts)
    events = (
        PrivacyEvent(
            "gaussian",
            noise=sigma_threshold,
            sensitivity=TOP_COUNT_SENSITIVITY,
            round=round_no,
            covers=covers,
        ),
        PrivacyEvent(
            "gaussian", noise=sigma, sensitivity=VOTE_L2_SENSITIVITY, round=round_no, covers=covers
        ),
    )
    passed = float(arr.max()) + float(rng.normal(0.0, sigma_threshold)) >= threshold
    # Draw the GNMax noise either way, so the random stream (and the charge) is the same.
    noisy = arr + rng.normal(0.0, sigma, size=arr.size)
    return NoisyVote(winner=int(np.argmax(noisy)) if passed else None, events=events)


# ------------------------------------------------------------------------ private generation


@dataclass(frozen=True)
class TokenChoice:
    """One privately chosen token (an element of the candidate set) and what it spent."""

    token: str
    index: int
    events: tuple[PrivacyEvent, ...]


def clipped_sum(distributions: Sequence[Mapping[str, float]], candidates: Sequence[str]) -> Floats:
    """Σ over teachers of each teacher's probabilities of the candidates, each clipped to L1 ≤ 1.

    A teacher's vector is restricted to ``candidates`` (tokens it gives no probability count 0,
    as with top-k log-probs), negative or non-finite values become 0, and a vector whose mass
    exceeds 1 is scaled down to 1. Every teacher's contribution is then a non-negative vector of
    L1 (hence L2) norm at most 1, which is what the sensitivities of the token mechanisms assume.
    """
    if not candidates:
        raise ValueError("candidates: expected at least one candidate token")
    if len(set(candidates)) != len(candidates):
        raise ValueError("candidates: tokens must be distinct")
    total = np.zeros(len(candidates), dtype=np.float64)
    for dist in distributions:
        row = np.array([float(dist.get(tok, 0.0)) for tok in candidates], dtype=np.float64)
        row[~np.isfinite(row) | (row < 0)] = 0.0
        mass = float(row.sum())
        if mass > 1.0:
            row /= mass
        total += row
    return total


def gaussian_token(
    distributions: Sequence[Mapping[str, float]],
    candidates: Sequence[str],
    sigma: float,
    rng: np.random.Generator,
    *,
    round_no: int = 0,
    covers: str = "generation",
) -> TokenChoice:
    """Noisy argmax of the clipped sum of teachers' distributions (Tang et al.'s Gaussian variant).

    ``candidates`` must be chosen without private data (whole vocabulary or a public prompt's top
    tokens): a candidate set built from the teachers' own distributions would leak.
    """
    _check_noise(sigma, "sigma")
    total = clipped_sum(distributions, candidates)
    noisy = total + rng.normal(0.0, sigma, size=total.size)
    index = int(np.argmax(noisy))
    event = PrivacyEvent(
        "gaussian", noise=sigma, sensitivity=VOTE_L2_SENSITIVITY, round=round_no, covers=covers
    )
    return TokenChoice(token=candidates[index], index=index, events=(event,))


def exponential_probabilities(utilities: Sequence[float] | Floats, temperature: float) -> Floats:
    """The exponential mechanism's output distribution: softmax(utility / τ)."""
    _check_noise(temperature, "temperature")
    u = np.asarray(utilities, dtype=np.float64) / temperature
    u -= u.max()
    w = np.exp(u)
    return np.asarray(w / w.sum(), dtype=np.float64)


def exponential_token(
    distributions: Sequence[Mapping[str, float]],
    candidates: Sequence[str],
    temperature: float,
    rng: np.random.Generator,
    *,
    round_no: int = 0,
    covers: str = "generation",
) -> TokenChoice:
    """Sample a candidate ∝ exp(clipped sum / τ): ε = 2/τ per token (utility sensitivity 1).

    Same candidate-set rule as :func:`gaussian_token`.
    """
    total = clipped_sum(distributions, candidates)
    probs = exponential_probabilities(total, temperature)
    index = int(rng.choice(len(candidates), p=probs))
    event = PrivacyEvent(
        "exponential", noise=temperature, sensitivity=1.0, round=round_no, covers=covers
    )
    return TokenChoice(token=candidates[index], index=index, events=(event,))
