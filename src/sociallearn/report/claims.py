"""Checks of the paper's accuracy claims (a)-(c) against a run: each returns a Finding with its
verdict, one-line evidence and a table of the evidence per task."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sociallearn.evaluation.paired import pair_rows, paired_permutation_test
from sociallearn.paper import PaperClaim
from sociallearn.report.analysis import format_p
from sociallearn.report.claim_context import (
    ClaimContext,
    Finding,
    KeyPair,
    Verdict,
    effect_cells,
    effect_columns,
    majority,
    pct,
    untested,
)
from sociallearn.report.reference import (
    GENERATED,
    INSTRUCTION,
    INSTRUCTION_N,
    ORIGINAL,
    PAPER_INSTRUCTION,
    ZERO_SHOT,
)
from sociallearn.report.summary import GroupKey, aggregator_rank
from sociallearn.report.tables import Table, TableRow

CLAIM_N = 16  # claim (a) is about 16 examples
SPAM_TASKS = ("sms_spam", "sms_spam_class")
SPAM_MIN_N = 8  # the paper's G < O on spam is at n = 8 and 16


def _pairs_by_task(
    tasks: Iterable[str], pair_of: Callable[[str], KeyPair | None]
) -> tuple[list[str], list[KeyPair]]:
    """The tasks that have the claim's two cells, and those cells, in the same order."""
    kept: list[str] = []
    pairs: list[KeyPair] = []
    for task in tasks:
        pair = pair_of(task)
        if pair is not None:
            kept.append(task)
            pairs.append(pair)
    return kept, pairs


def _og_pair(ctx: ClaimContext, task: str, n: int) -> KeyPair | None:
    """Original examples and generated ones (random aggregator, as in the paper) at ``n``."""
    generated = ctx.cell(task, GENERATED, n, ("random", None))
    original = ctx.cell(task, ORIGINAL, n, (None, "random", "voting"))
    if generated is None or original is None:
        return None
    return original, generated


def check_og_16(ctx: ClaimContext, claim: PaperClaim) -> Finding:
    tasks, pairs = _pairs_by_task(ctx.tasks(), lambda task: _og_pair(ctx, task, CLAIM_N))
    if not pairs:
        return untested(claim, f"no task has both O and G (random) at n = {CLAIM_N}")
    # Equal accuracy says nothing where the student learns nothing from original examples
    # (both at the floor, say): such tasks are shown but left out of the count and the family.
    informative = [
        _examples_help(ctx, task, pair[0]) for task, pair in zip(tasks, pairs, strict=True)
    ]
    family = iter(ctx.tested([p for p, ok in zip(pairs, informative, strict=True) if ok]))
    rows, same = [], 0
    for task, pair, ok in zip(tasks, pairs, informative, strict=True):
        o_ref = ctx.paper.cell("table8", task, ORIGINAL, CLAIM_N)
        g_ref = ctx.paper.cell("table8", task, GENERATED, CLAIM_N, "random")
        paper = (
            f"{o_ref.mean:.1f} / {g_ref.mean:.1f} (p {format_p(g_ref.p)})"
            if o_ref and g_ref
            else "–"
        )
        if ok:
            comparison, p_holm = next(family)
            differs = p_holm < ctx.level
            same += not differs
            reading = (
                ("G < O" if comparison.diff < 0 else "G > O")
                if differs
                else "no significant difference"
            )
        else:
            comparison, p_holm = ctx.analysis.compare(*pair, ci=True), math.nan
            reading = "uninformative: O no better than zero-shot"
        rows.append(
            TableRow(
                (
                    task,
                    paper,
                    ctx.mean(pair[0]),
                    ctx.mean(pair[1]),
                    *effect_cells(comparison, p_holm),
                    ctx.pooled(pair),
                    reading,
                )
            )
        )
    n_informative = sum(informative)
    verdict: Verdict = (
        "not tested"
        if n_informative == 0
        else "held"
        if majority(same, n_informative)
        else "not held"
    )
    evidence = f"no significant difference on {same} of {n_informative} tasks at n = {CLAIM_N}"
    if n_informative < len(tasks):
        evidence += (
            f" ({len(tasks) - n_informative} left out: original examples do not beat zero-shot)"
        )
    table = Table(
        title=f"(a) {claim.title} — {verdict}",
        header=(
            "task",
            "paper O / G (p)",
            "O",
            "G",
            *effect_columns("G − O"),
            "p pooled",
            "ours",
        ),
        rows=tuple(rows),
        note=ctx.note(
            f"Held when the corrected p is ≥ {ctx.level:g} (no significant difference) on "
            f"more than half of the tasks tested. A task counts only where 16 original "
            f"examples beat zero-shot (paired test, p < {ctx.level:g}; without zero-shot, "
            f"where O is above 0%): otherwise G = O says nothing, and p Holm is left out. G uses "
            f"the random aggregator, as in the paper. Not significant is not the same as equal: "
            f"read the CI's width."
        ),
    )
    return Finding(claim, verdict, evidence, ctx.models_of(pairs), table)


def _examples_help(ctx: ClaimContext, task: str, original: GroupKey) -> bool:
    """Whether original examples lift the student above zero-shot on this task."""
    zero = ctx.analysis.first(task, ZERO_SHOT)
    if zero is None:
        return ctx.analysis.summaries[original].mean > 0
    comparison = ctx.analysis.compare(zero, original)
    return comparison.diff > 0 and comparison.p_value < ctx.level


def _instruction_key(ctx: ClaimContext, task: str) -> GroupKey | None:
    keys = ctx.analysis.keys(task, INSTRUCTION)
    if not keys:
        return None

    # The paper writes the instruction from 8 examples; then one written without examples.
    def rank(key: GroupKey) -> tuple[int, int, tuple[int, str]]:
        return (key[2] != INSTRUCTION_N, key[2] != 0, aggregator_rank(key[3]))

    return sorted(keys, key=rank)[0]


def _instruction_pair(ctx: ClaimContext, task: str) -> KeyPair | None:
    zero = ctx.analysis.first(task, ZERO_SHOT)
    instruction = _instruction_key(ctx, task)
    if zero is None or instruction is None:
        return None
    return zero, instruction


def check_instruction(ctx: ClaimContext, claim: PaperClaim) -> Finding:
    tasks, pairs = _pairs_by_task(ctx.tasks(), lambda task: _instruction_pair(ctx, task))
    if not pairs:
        return untested(claim, "no task has both zero-shot and a generated instruction")
    rows, beats = [], 0
    for task, pair, (comparison, p_holm) in zip(tasks, pairs, ctx.tested(pairs), strict=True):
        zero_ref = ctx.paper.cell("table9", task, ZERO_SHOT)
        instr_ref = ctx.paper.cell("table9", task, INSTRUCTION, label=PAPER_INSTRUCTION)
        paper = "–"
        if zero_ref and instr_ref:
            word = "beats" if task in claim.holds_on else "does not beat"
            paper = f"{instr_ref.mean:.1f} vs {zero_ref.mean:.1f} ({word})"
        wins = comparison.diff > 0 and p_holm < ctx.level
        beats += wins
        rows.append(
            TableRow(
                (
                    task,
                    paper,
                    ctx.mean(pair[0]),
                    f"{ctx.mean(pair[1])} (n = {pair[1][2]})",
                    *effect_cells(comparison, p_holm),
                    ctx.pooled(pair),
                    "beats" if wins else "does not beat",
                )
            )
        )
    verdict: Verdict = "held" if majority(beats, len(tasks)) else "not held"
    table = Table(
        title=f"(b) {claim.title} — {verdict}",
        header=(
            "task",
            "paper instr. vs zero-shot",
            "zero-shot",
            "instruction",
            *effect_columns("effect"),
            "p pooled",
            "ours",
        ),
        rows=tuple(rows),
        note=ctx.note(
            f"Held when the instruction is above zero-shot with corrected p < {ctx.level:g} "
            f"on more than half of the tasks tested. The paper compares means only (no "
            f"test); its instruction is PaLM 2-S's, written from 8 examples."
        ),
    )
    evidence = f"the instruction beats zero-shot on {beats} of {len(tasks)} tasks"
    return Finding(claim, verdict, evidence, ctx.models_of(pairs), table)


def _spam_pair(ctx: ClaimContext, task: str) -> KeyPair | None:
    """O and G at the largest n ≥ :data:`SPAM_MIN_N` that both were run at."""
    if task not in ctx.analysis.tasks():
        return None
    ns = sorted(
        {k[2] for k in ctx.analysis.keys(task, GENERATED) if k[3] in ("random", None)}
        & {k[2] for k in ctx.analysis.keys(task, ORIGINAL)}
    )
    usable = [n for n in ns if n >= SPAM_MIN_N]
    if not usable:
        return None
    return _og_pair(ctx, task, usable[-1])


def check_spam(ctx: ClaimContext, claim: PaperClaim) -> Finding:
    tasks, pairs = _pairs_by_task(SPAM_TASKS, lambda task: _spam_pair(ctx, task))
    if not pairs:
        return untested(claim, f"no SMS spam task has O and G (random) at n ≥ {SPAM_MIN_N}")
    rows, verdicts = [], []
    for task, pair, (comparison, p_holm) in zip(tasks, pairs, ctx.tested(pairs), strict=True):
        n = pair[1][2]
        o_ref = ctx.paper.cell("table8", task, ORIGINAL, n)
        g_ref = ctx.paper.cell("table8", task, GENERATED, n, "random")
        paper = f"{o_ref.mean:.1f} / {g_ref.mean:.1f}" if o_ref and g_ref else "–"
        below = comparison.diff < 0 and p_holm < ctx.level
        bias = _not_spam_bias(
            ctx.analysis.groups[pair[0]],
            ctx.analysis.groups[pair[1]],
            ctx.analysis.n_resamples,
            ctx.analysis.seed,
        )
        if not below:
            verdicts.append("not held")
            reading = "G not below O"
        elif bias is None:
            verdicts.append("not tested")
            reading = "G < O; answers not recorded, bias not measured"
        elif bias.more_not_spam and bias.p < ctx.level:
            verdicts.append("held")
            reading = "G < O, G answers 'not spam' more often"
        else:
            verdicts.append("not held")
            reading = "G < O, but not from a 'not spam' bias"
        rows.append(
            TableRow(
                (
                    task,
                    str(n),
                    paper,
                    ctx.mean(pair[0]),
                    ctx.mean(pair[1]),
                    *effect_cells(comparison, p_holm),
                    "–"
                    if bias is None
                    else f"{pct(bias.share_o)} / {pct(bias.share_g)} / {pct(bias.gold)}",
                    "–" if bias is None else format_p(bias.p),
                    reading,
                )
            )
        )
    verdict: Verdict = (
        "not held"
        if "not held" in verdicts
        else "held"
        if all(v == "held" for v in verdicts)
        else "not tested"
    )
    table = Table(
        title=f"(c) {claim.title} — {verdict}",
        header=(
            "task",
            "n",
            "paper O / G",
            "O",
            "G",
            *effect_columns("G − O"),
            "'not spam' answers O / G / gold %",
            "p (bias)",
            "ours",
        ),
        rows=tuple(rows),
        note=ctx.note(
            f"Held when G is below O (corrected p < {ctx.level:g}) at the largest n ≥ "
            f"{SPAM_MIN_N} run, and the student answers 'not spam' (or 'ham') more often "
            f"after G than after O on the same items (p (bias): one-sided paired "
            f"permutation test of that indicator, < {ctx.level:g}) — the class bias the paper "
            f"names. Gold: the share of test items that are not spam."
        ),
    )
    evidence = "; ".join(f"{row.cells[0]}: {row.cells[-1]}" for row in rows)
    return Finding(claim, verdict, evidence, ctx.models_of(pairs), table)


@dataclass(frozen=True)
class _Bias:
    share_o: float
    share_g: float
    gold: float
    p: float
    more_not_spam: bool


def _not_spam_answer(prediction: Mapping[str, Any]) -> float | None:
    answer = prediction.get("answer")
    if answer is None and "answer" not in prediction:
        return None
    return 1.0 if str(answer or "").strip().lower() in ("not spam", "ham") else 0.0


def _not_spam_gold(prediction: Mapping[str, Any]) -> float | None:
    gold = prediction.get("gold")
    return None if gold is None else float(str(gold).strip().lower() == "not spam")


def _not_spam_bias(
    rows_o: Sequence[Mapping[str, Any]],
    rows_g: Sequence[Mapping[str, Any]],
    n_resamples: int,
    seed: int,
) -> _Bias | None:
    """How often the student answers 'not spam' after O and after G, paired on the same items."""
    answers = pair_rows(rows_o, rows_g, outcome=_not_spam_answer)
    gold = pair_rows(rows_o, rows_o, outcome=_not_spam_gold)
    if answers is None or answers.n_pairs == 0:
        return None
    test = paired_permutation_test(answers.baseline, answers.method, n_resamples, seed)
    return _Bias(
        share_o=float(answers.baseline.mean()),
        share_g=float(answers.method.mean()),
        gold=float(gold.baseline.mean()) if gold is not None and gold.n_pairs else math.nan,
        p=test.p_value,
        more_not_spam=test.observed_diff > 0,
    )
