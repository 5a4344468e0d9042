"""An empirical lower bound on ε from canary ranks, to set beside the accounted ε.

A canary is planted in one teacher's silo; after teaching, it is ranked against N − 1 references
drawn from the same space (rank = how many references score at least as high; ties count against
the canary). Had the canary not been planted it would be exchangeable with the references, so
``P(rank <= k) <= (k + 1)/N``. If teaching is (ε, δ)-DP for the silo-level unit, then for the
planted canary

    p = P(rank <= k)  <=  e^ε · (k + 1)/N + δ,

so a lower confidence bound p_lo on p over T independent runs (Clopper–Pearson) gives, with that
confidence,

    ε  >=  ln((p_lo − δ) · N / (k + 1)).

The bound is an *audit*: it can show that an implementation leaks more than its accounting says
(a bug), never that it leaks less. It must stay at or below the accounted ε. With the canary
planted in all m silos (the paper's audit), the neighbouring datasets differ in m units; compare
with the group ledger (:meth:`~sociallearn.privacy.accounting.PrivacyLedger.group`) instead.

Thresholds k are taken from a fixed, data-independent family (0, 1, 3, 7, …, < N) with a
Bonferroni correction, so trying several does not overstate the confidence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sociallearn.privacy.accounting import PrivacyLedger, check_delta


def conservative_rank(canary_score: float, reference_scores: Sequence[float]) -> int:
    """How many references score at least as high as the canary (ties count against it).

    With this tie rule ``P(rank <= k) <= (k + 1)/N`` holds under no memorisation even for lumpy
    scores; :func:`sociallearn.privacy.exposure.canary_rank` counts only strictly higher scores
    (the paper's rank) and would overstate the bound when ties occur.
    """
    if math.isnan(canary_score):
        raise ValueError("canary score is NaN")
    return sum(1 for s in reference_scores if s >= canary_score)


def clopper_pearson_lower(hits: int, runs: int, alpha: float) -> float:
    """One-sided lower confidence bound (level 1 − α) on a binomial proportion."""
    from scipy import stats

    if not 0 <= hits <= runs or runs < 1:
        raise ValueError(f"expected 0 <= hits <= runs and runs >= 1, got {hits}/{runs}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha: expected a number in (0, 1), got {alpha}")
    if hits == 0:
        return 0.0
    return float(stats.beta.ppf(alpha, hits, runs - hits + 1))


def threshold_family(n_candidates: int) -> tuple[int, ...]:
    """The fixed thresholds tried: k = 2^j − 1 below N − 1 (0, 1, 3, 7, ...)."""
    out: list[int] = []
    k = 0
    while k < n_candidates - 1:
        out.append(k)
        k = 2 * k + 1
    return tuple(out) or (0,)


@dataclass(frozen=True)
class EmpiricalBound:
    """ε ≥ ``epsilon`` with probability ``confidence`` (over the T runs), at ``delta``."""

    epsilon: float
    k: int
    hits: int
    runs: int
    p_lower: float
    n_candidates: int
    delta: float
    confidence: float
    thresholds_tried: int


def epsilon_lower_bound(
    ranks: Sequence[int],
    n_candidates: int,
    delta: float,
    *,
    k: int | None = None,
    confidence: float = 0.95,
) -> EmpiricalBound:
    """The empirical ε lower bound from one conservative rank per independent run.

    Args:
        ranks: per run, references scoring at least as high as the canary (0 = beat them all).
        n_candidates: N, the canary plus its references.
        delta: the δ of the accounted guarantee it is compared with.
        k: one threshold fixed in advance; ``None`` tries :func:`threshold_family` with a
            Bonferroni correction and reports the best.
        confidence: 1 − α of the whole statement.
    """
    check_delta(delta)
    if n_candidates < 2:
        raise ValueError(f"n_candidates: expected an integer >= 2, got {n_candidates}")
    if not ranks:
        raise ValueError("ranks: expected at least one run")
    for r in ranks:
        if not 0 <= r <= n_candidates - 1:
            raise ValueError(f"rank {r} is outside 0..{n_candidates - 1}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: expected a number in (0, 1), got {confidence}")
    ks = (k,) if k is not None else threshold_family(n_candidates)
    alpha = (1.0 - confidence) / len(ks)
    best: EmpiricalBound | None = None
    for kk in ks:
        if not 0 <= kk < n_candidates:
            raise ValueError(f"k: expected an integer in 0..{n_candidates - 1}, got {kk}")
        hits = sum(1 for r in ranks if r <= kk)
        p_lo = clopper_pearson_lower(hits, len(ranks), alpha)
        ratio = (p_lo - delta) * n_candidates / (kk + 1)
        eps = math.log(ratio) if ratio > 1.0 else 0.0
        bound = EmpiricalBound(
            epsilon=eps,
            k=kk,
            hits=hits,
            runs=len(ranks),
            p_lower=p_lo,
            n_candidates=n_candidates,
            delta=delta,
            confidence=confidence,
            thresholds_tried=len(ks),
        )
        if best is None or bound.epsilon > best.epsilon:
            best = bound
    assert best is not None
    return best


@dataclass(frozen=True)
class AccountedVsEmpirical:
    """One row of the accounted-vs-empirical table."""

    accounted: float
    empirical: EmpiricalBound
    group_size: int

    @property
    def consistent(self) -> bool:
        """The audit found no more leakage than the accounting allows."""
        return self.empirical.epsilon <= self.accounted


def compare(
    ledger: PrivacyLedger, bound: EmpiricalBound, *, canary_silos: int = 1
) -> AccountedVsEmpirical:
    """Accounted ε at the bound's δ for the unit the canary touched, beside the empirical bound.

    ``canary_silos`` is how many silos held the canary: 1 compares with the teacher-level ε, m
    with the group ledger of m silos (sensitivities × m, accounted by the library).
    """
    unit = ledger if canary_silos == 1 else ledger.group(canary_silos)
    return AccountedVsEmpirical(
        accounted=unit.epsilon(bound.delta), empirical=bound, group_size=canary_silos
    )


# ----------------------------------------------------------------- from the audit's privacy rows


@dataclass(frozen=True)
class AuditComparison:
    """Accounted vs empirical ε for one (task, method, template) cell of a canary audit."""

    task: str
    method: str
    template: str
    canary_silos: int
    covers: tuple[str, ...]
    runs: int
    accounted: float
    empirical: EmpiricalBound

    @property
    def comparable(self) -> bool:
        """A selection ε does not bound what the selected text carries (see docs/dp.md)."""
        return bool(self.covers) and "selection" not in self.covers

    @property
    def consistent(self) -> bool:
        return self.empirical.epsilon <= self.accounted


def audit_comparison(
    rows: Sequence[dict[str, Any]], delta: float | None = None, confidence: float = 0.95
) -> list[AuditComparison]:
    """Group the audit's privacy rows of DP methods by (task, method, template, silos) and put
    the empirical lower bound beside the accounted ε (the largest over the cell's runs; the
    group ledger of m silos when the canary was planted in m)."""
    cells: dict[tuple[str, str, str, int], list[dict[str, Any]]] = {}
    for row in rows:
        if not row.get("privacy"):
            continue
        silos = int(row.get("canary_silos") or 1)
        key = (str(row["task"]), str(row["method"]), str(row["template"]), silos)
        cells.setdefault(key, []).append(row)
    out: list[AuditComparison] = []
    for (task, method, template, silos), group in sorted(cells.items()):
        d = delta if delta is not None else float(group[0]["privacy"]["delta"])
        # References are stored rounded to 6 decimals: round the canary alike, so a tie stays
        # a tie (and counts against the canary).
        ranks = [
            conservative_rank(round(float(r["canary_score"]), 6), r["reference_scores"])
            for r in group
        ]
        n_candidates = len(group[0]["reference_scores"]) + 1
        bound = epsilon_lower_bound(ranks, n_candidates, d, confidence=confidence)
        accounted = 0.0
        covers: tuple[str, ...] = ()
        for r in group:
            ledger = PrivacyLedger.from_list(r["privacy"]["events"])
            unit = ledger if silos == 1 else ledger.group(silos)
            accounted = max(accounted, unit.epsilon(d))
            covers = tuple(dict.fromkeys([*covers, *ledger.covers()]))
        out.append(
            AuditComparison(task, method, template, silos, covers, len(group), accounted, bound)
        )
    return out


def comparison_lines(cells: Sequence[AuditComparison]) -> list[str]:
    """The accounted-vs-empirical table as plain lines (printed by ``sociallearn audit``)."""
    lines = [
        "accounted vs empirical ε (empirical: lower bound from conservative canary ranks, "
        "Clopper–Pearson)",
        "task | method | template | silos | covers | runs | accounted ε | empirical ε ≥ | ok",
    ]
    for c in cells:
        label = ",".join(c.covers) or "-"
        if not c.comparable:
            ok = "n/a (selection ε does not bound the text)"
        else:
            ok = "yes" if c.consistent else "NO: leaks more than accounted"
        lines.append(
            f"{c.task} | {c.method} | {c.template} | {c.canary_silos} | {label} | {c.runs} | "
            f"{c.accounted:.3g} at δ={c.empirical.delta:g} | {c.empirical.epsilon:.3g} | {ok}"
        )
    return lines
