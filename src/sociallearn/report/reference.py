"""Which of the paper's reported values stands beside which of our cells (``--compare-paper``).

A cell of ours is (task, method, n, aggregator). Its reference is the paper's value for the same
task, method and n: Table 8 for zero-shot, original and randomly aggregated generated examples,
Table 13 for the voting aggregator, Table 9 for the hand-written (manual) prompt and for the
generated instruction (which the paper writes from 8 examples). Tasks the paper did not run,
methods it did not have (feedback, variants) and n it did not try have no reference.
"""

from __future__ import annotations

from sociallearn.paper import PaperCell, PaperResults

ORIGINAL = "original_examples"
GENERATED = "synthetic_examples"
INSTRUCTION = "synthetic_instruction"
ZERO_SHOT = "zero_shot"
HAND_WRITTEN = "hand_written"

# The paper's main instruction row (same model as every other table); the GPT-3.5 row is extra.
PAPER_INSTRUCTION = "PaLM 2-S generated instruction"
GPT_INSTRUCTION = "GPT-3.5 generated instruction"
INSTRUCTION_N = 8


def cell_reference(
    paper: PaperResults | None, task: str, method: str, n: int, aggregator: str | None
) -> PaperCell | None:
    """The paper's value for our cell, or None when the paper has no such cell."""
    if paper is None or not paper.ran(task):
        return None
    if method == ZERO_SHOT:
        return paper.cell("table8", task, ZERO_SHOT, 0)
    if method == HAND_WRITTEN:
        return paper.cell("table9", task, HAND_WRITTEN)
    if method == ORIGINAL and n > 0:
        return paper.cell("table8", task, ORIGINAL, n)
    if method == GENERATED and n > 0:
        if aggregator in (None, "random"):
            return paper.cell("table8", task, GENERATED, n, "random")
        if aggregator == "voting":
            return paper.cell("table13", task, GENERATED, n, "voting")
        return None
    if method == INSTRUCTION and n in (0, INSTRUCTION_N):
        return paper.cell("table9", task, INSTRUCTION, label=PAPER_INSTRUCTION)
    return None


def fraction(cell: PaperCell | None) -> float | None:
    """The paper's percent as a fraction, like our accuracies."""
    return None if cell is None else cell.mean / 100


def reference_text(cell: PaperCell | None, star: bool = True) -> str:
    """'88.0 (1.2)*' in the report's one-decimal style; the paper's star where it printed one."""
    if cell is None:
        return ""
    text = f"{cell.mean:.1f}"
    if cell.sem is not None:
        text += f" ({cell.sem:.1f})"
    if star and cell.star:
        text += "*"
    return text


def p_text(cell: PaperCell | None) -> str:
    return "" if cell is None or cell.p is None else f"{cell.p:.4f}"
