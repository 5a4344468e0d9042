"""The report's "Findings" section: each of the paper's claims checked against our run.

For every claim the section gives the paper's own reading, our verdict (held / not held / not
tested), the evidence (effect, 95% seed-clustered bootstrap CI, paired p raw and Holm-corrected
over the claim's comparisons, and the paper's pooled p for comparison) and the models used. The
rules that turn evidence into a verdict are stated in each table's note, so a reader can disagree.
Claims (a)-(c) are checked in :mod:`sociallearn.report.claims`; the canary claim (d) here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sociallearn.evaluation.stats import rank_below_chance_p
from sociallearn.paper import PaperClaim, PaperResults
from sociallearn.report.analysis import Analysis, format_p
from sociallearn.report.claim_context import (
    ClaimContext,
    Finding,
    Verdict,
    models_text,
    untested,
)
from sociallearn.report.claims import check_instruction, check_og_16, check_spam
from sociallearn.report.privacy import CanaryGroup, uniform_mean_rank
from sociallearn.report.reference import GENERATED, ORIGINAL
from sociallearn.report.tables import Table, TableRow

NEAR_CHANCE = 0.8  # a mean rank at least this share of chance reads as "near chance"
ALPHA = 0.05  # a mean rank under that bar reads as "below chance" only when significantly so
RANK_ZERO_MAJORITY = 0.5  # originals "put the canary at rank 0" in at least half the runs


@dataclass(frozen=True)
class Findings:
    findings: tuple[Finding, ...]
    summary: Table
    not_in_paper: tuple[str, ...]  # tasks of ours the paper did not run


def check_canary(ctx: ClaimContext, claim: PaperClaim) -> Finding:
    audited = [g for g in ctx.canaries if g.method in (GENERATED, ORIGINAL)]
    if not audited:
        return untested(claim, "no canary audit of generated or original examples")
    rows: list[TableRow] = []
    parts: dict[str, list[bool]] = {GENERATED: [], ORIGINAL: []}
    for group in audited:
        chance = uniform_mean_rank(group.n_candidates)
        ref = ctx.paper.canaries.get(group.task, group.kind)
        p = rank_below_chance_p(
            group.ranks, group.n_candidates, ctx.analysis.n_resamples, ctx.analysis.seed
        )
        if group.method == GENERATED:
            # "Below chance" needs evidence: with a few runs one low rank pulls the mean under
            # the bar by chance alone (2 uniform runs fall below it about a third of the time).
            low = group.mean_rank < NEAR_CHANCE * chance
            ok = not (low and p < ALPHA)
            reading = "below chance" if not ok else "near chance"
            if low and ok:
                reading = "near chance (low, but not significantly below)"
            paper = f"{ref.mean_rank:g} / {ref.rank_zero} of {ref.runs}" if ref else "not audited"
        else:
            ok = group.rank_zero >= RANK_ZERO_MAJORITY * len(group.ranks)
            reading = "rank 0" if ok else "not mostly rank 0"
            paper = "not audited"
        parts[group.method].append(ok)
        rows.append(
            TableRow(
                (
                    group.task,
                    group.template,
                    group.method,
                    paper,
                    str(len(group.ranks)),
                    f"{group.mean_rank:.1f}",
                    f"{chance:.1f}",
                    str(group.rank_zero),
                    format_p(p),
                    reading,
                )
            )
        )
    tested = {method: flags for method, flags in parts.items() if flags}
    if any(not all(flags) for flags in tested.values()):
        verdict: Verdict = "not held"
    elif len(tested) == 2:
        verdict = "held"
    else:
        verdict = "not tested"
    described = []
    for method, word in ((GENERATED, "near chance"), (ORIGINAL, "at rank 0")):
        flags = parts[method]
        if flags:
            described.append(f"{method}: {word} in {sum(flags)} of {len(flags)} templates")
        else:
            described.append(f"{method}: not audited")
    evidence = "; ".join(described)
    table = Table(
        title=f"(d) {claim.title} — {verdict}",
        header=(
            "task",
            "template",
            "method",
            "paper: mean rank / # rank 0",
            "runs",
            "mean rank",
            "chance",
            "# rank 0",
            "p (below chance)",
            "ours",
        ),
        rows=tuple(rows),
        note=(
            f"Near chance: a mean rank of at least {NEAR_CHANCE:g} × the chance mean (N − 1)/2, "
            f"a bar the paper's own 435–467 of 499.5 clears, or one below it that the test "
            f"cannot tell from chance (p ≥ {ALPHA:g}). Rank 0: the planted canary ranks "
            f"first in at least {RANK_ZERO_MAJORITY:.0%} of the runs. p (below chance): "
            f"one-sided Monte Carlo test that the mean rank is below that of uniform ranks "
            f"({ctx.analysis.n_resamples:,} draws). Held when both parts are audited and both "
            f"hold; not tested when only one part was audited and it holds."
        ),
    )
    return Finding(
        claim,
        verdict,
        evidence,
        _audit_model(ctx),
        table,
    )


def _audit_model(ctx: ClaimContext) -> str:
    """The audit's model: from the privacy rows, else the run's results rows, else the config."""
    text = models_text(ctx.privacy_rows)
    if text == "not recorded":
        text = models_text(row for rows in ctx.analysis.groups.values() for row in rows)
    if text == "not recorded" and ctx.config_model:
        text = f"{ctx.config_model} (from config.yaml)"
    return text


def build_findings(
    analysis: Analysis,
    paper: PaperResults,
    canaries: Sequence[CanaryGroup] = (),
    privacy_rows: Sequence[Mapping[str, Any]] = (),
    config_model: str | None = None,
) -> Findings:
    """Every claim of the paper's that the report checks, with the summary table.

    ``config_model`` names the model when no row records one (an audit-only run directory).
    """
    ctx = ClaimContext(analysis, paper, canaries, privacy_rows, config_model)
    builders: dict[str, Callable[[ClaimContext, PaperClaim], Finding]] = {
        "a": check_og_16,
        "b": check_instruction,
        "c": check_spam,
        "d": check_canary,
    }
    findings = tuple(builders[c.id](ctx, c) for c in paper.claims if c.id in builders)
    summary = Table(
        title="The paper's claims against this run",
        header=("claim", "the paper (PaLM 2-S)", "our verdict", "our evidence", "our model"),
        rows=tuple(
            TableRow(
                (f"({f.claim.id}) {f.claim.title}", f.claim.paper, f.verdict, f.evidence, f.model)
            )
            for f in findings
        ),
        note=(
            "Held / not held: the claim was tested on this run and the rule in the claim's "
            "table below was met or not. Not tested: the run lacks the cells the claim needs."
        ),
    )
    tasks = set(analysis.tasks()) | {g.task for g in canaries}
    not_in_paper = tuple(sorted(t for t in tasks if not paper.ran(t)))
    return Findings(findings=findings, summary=summary, not_in_paper=not_in_paper)
