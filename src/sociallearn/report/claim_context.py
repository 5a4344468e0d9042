"""What the checks of the paper's claims share: the verdict record, the run they read, and how
they test and format a comparison (paired test with CI, Holm over the claim's comparisons)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sociallearn.evaluation.correction import holm
from sociallearn.evaluation.stats import Comparison
from sociallearn.paper import PaperClaim, PaperResults
from sociallearn.report.analysis import Analysis, format_p
from sociallearn.report.privacy import CanaryGroup
from sociallearn.report.summary import GroupKey
from sociallearn.report.tables import Table

Verdict = Literal["held", "not held", "not tested"]
KeyPair = tuple[GroupKey, GroupKey]  # (baseline, method) cells of one task, compared in a claim


@dataclass(frozen=True)
class Finding:
    claim: PaperClaim
    verdict: Verdict
    evidence: str  # one sentence
    model: str
    table: Table | None


def untested(claim: PaperClaim, why: str) -> Finding:
    """The finding of a claim the run lacks the cells for: no model, no table."""
    return Finding(claim, "not tested", why, "–", None)


def pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.1f}"


def points(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:+.1f}"


def ci_text(comparison: Comparison) -> str:
    if comparison.ci is None or math.isnan(comparison.ci.low):
        return "–"
    return f"[{100 * comparison.ci.low:+.1f}, {100 * comparison.ci.high:+.1f}]"


def p_text_of(comparison: Comparison) -> str:
    mark = "†" if comparison.fallback else ""
    return format_p(comparison.p_value) + mark


def effect_columns(effect: str) -> tuple[str, ...]:
    """The header of the cells :func:`effect_cells` fills, the effect column named ``effect``."""
    return (effect, "95% CI", "p", "p Holm")


def effect_cells(comparison: Comparison, p_holm: float) -> tuple[str, ...]:
    """A comparison's effect, CI, raw p and Holm-corrected p, as a claim table shows them."""
    return (points(comparison.diff), ci_text(comparison), p_text_of(comparison), format_p(p_holm))


def models_text(rows: Iterable[Mapping[str, Any]]) -> str:
    rows = list(rows)
    students = sorted({str(r["student_model"]) for r in rows if r.get("student_model")})
    teachers = sorted({str(r["teacher_model"]) for r in rows if r.get("teacher_model")})
    if not students and not teachers:
        models = sorted({str(r["model"]) for r in rows if r.get("model")})
        return ", ".join(models) or "not recorded"
    parts = []
    if students:
        parts.append(f"student {', '.join(students)}")
    if teachers:
        parts.append(f"teachers {', '.join(teachers)}")
    return "; ".join(parts)


def majority(count: int, total: int) -> bool:
    return total > 0 and count > total / 2


class ClaimContext:
    """What every claim check reads: the analysis (results rows), the paper, the canary audit."""

    def __init__(
        self,
        analysis: Analysis,
        paper: PaperResults,
        canaries: Sequence[CanaryGroup],
        privacy_rows: Sequence[Mapping[str, Any]],
        config_model: str | None = None,
    ) -> None:
        self.analysis = analysis
        self.config_model = config_model
        self.paper = paper
        self.canaries = canaries
        self.privacy_rows = privacy_rows
        self.level = analysis.level

    def tasks(self) -> list[str]:
        return [t for t in self.analysis.tasks() if self.paper.ran(t)]

    def cell(self, task: str, method: str, n: int, prefer: Sequence[str | None]) -> GroupKey | None:
        keys = [k for k in self.analysis.keys(task, method) if k[2] == n]
        for aggregator in prefer:
            for key in keys:
                if key[3] == aggregator:
                    return key
        return None

    def tested(self, pairs: list[KeyPair]) -> list[tuple[Comparison, float]]:
        """Paired tests with CIs, Holm-corrected over this claim's comparisons."""
        comparisons = [self.analysis.compare(b, m, ci=True) for b, m in pairs]
        corrected = holm([c.p_value for c in comparisons])
        return [
            (c, math.nan if p is None else p) for c, p in zip(comparisons, corrected, strict=True)
        ]

    def pooled(self, pair: KeyPair) -> str:
        return format_p(self.analysis.compare(*pair, test="pooled").p_value)

    def rows_of(self, keys: Iterable[GroupKey]) -> list[Mapping[str, Any]]:
        return [row for key in keys for row in self.analysis.groups.get(key, [])]

    def models_of(self, pairs: Iterable[KeyPair]) -> str:
        """The models recorded in the rows of the compared cells."""
        return models_text(self.rows_of(key for pair in pairs for key in pair))

    def mean(self, key: GroupKey) -> str:
        return pct(self.analysis.summaries[key].mean)

    def note(self, rule: str) -> str:
        test = (
            "paired permutation test within (item, seed) pairs"
            if self.analysis.test == "paired"
            else "pooled permutation test (the paper's, items pooled over seeds)"
        )
        return (
            f"Effect in percentage points; CI: 95% bootstrap, seeds resampled as clusters and "
            f"items within them; p: one-sided {test}, in the direction of the observed "
            f"difference ({self.analysis.n_resamples:,} permutations); p Holm: corrected "
            f"over this claim's comparisons; p pooled: the "
            f"paper's unpaired test, for comparison with its tables; † = pooled test (no "
            f"per-item predictions to pair). {rule}"
        )
