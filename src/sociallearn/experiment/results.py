"""The typed result of a unit: what the store keeps, the table, the report and exports read.

Rows are stored as JSON (``UnitResult.to_row``); ``UnitResult.from_row`` reads rows written by
this version and by earlier ones (fields added later have defaults).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class RoundResult(_Frozen):
    """One iteration of a multi-round method (e.g. feedback): its curriculum and its cost."""

    iteration: int
    test_accuracy: float
    heldout_accuracy: float | None = None
    released: int = 0
    rejected: int = 0
    copy_rate: float = 0.0
    tokens: int = 0
    chosen: bool = False  # the curriculum the student was finally given


class UnitResult(_Frozen):
    """One unit's result. ``method`` is the method's label (its name, with non-default
    arguments: ``feedback(rounds=3)``), so variants of a method never share a row or a line."""

    unit: str
    task: str
    task_spec: str
    method: str
    method_name: str = ""
    method_args: dict[str, Any] = Field(default_factory=dict)
    n: int
    aggregator: str | None
    aggregation: str = "student"
    seed: int
    accuracy: float
    n_items: int
    n_correct: int
    answer_mode: str
    calibrated: bool = False
    student_model: str = ""
    teacher_model: str = ""
    contains_private: bool = False
    # Verbatim private examples in messages to the student, and in its final prompt.
    private_examples_to_student: int = 0
    private_examples_in_prompt: int = 0
    near_copies_in_prompt: int = 0
    canaries_in_prompt: int = 0
    n_examples_taught: int = 0
    shortfall: int = 0
    instruction: str | None = None
    prompt_tokens_chars: int = 0
    predictions: list[dict[str, Any]] = Field(default_factory=list)
    leakage: dict[str, Any] | None = None
    rounds: list[RoundResult] | None = None
    n_rounds: int = 0
    params: dict[str, Any] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    # Differential privacy: the event log (ε at any δ is recomputed from it), ε at the run's δ,
    # what ε covers ("selection", "labels", "generation"), the budget and whether it stopped
    # teaching (see sociallearn.privacy.accounting.PrivacyLedger.summary).
    privacy: dict[str, Any] | None = None

    def to_row(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> UnitResult:
        return cls.model_validate(row)
