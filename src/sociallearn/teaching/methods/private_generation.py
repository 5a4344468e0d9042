"""``private_generation``: synthetic examples written token by token under DP (Tang et al.).

For each example a label is fixed first (round-robin over the task's labels: public). Its input
fields are then written token by token: at every step each teacher gives its next-token
distribution after a few-shot prompt of its own private examples (of that label first) followed by
the public partial example; the trusted aggregator keeps the candidate tokens — the top
``public_top`` tokens of the *public* prompt (the task's instruction and the partial example, on
the aggregator's model), plus the line break — clips each teacher's vector to mass ≤ 1, sums, and
releases one token by noisy argmax (``mechanism: gaussian``, noise ``sigma``) or by sampling
∝ exp(sum/``temperature``) (``mechanism: exponential``). A field ends at a line break (or the
next template text for multi-line fields), an end-of-text token, or ``max_tokens``.

**What ε covers: end to end**, teacher level: every token is a DP release; the label, the template
and the candidate set hold no private data. Tokens that the public prompt alone predicts are
charged like any other: releasing them for free (Amin et al.'s sparse-vector step) needs
accounting ``dp-accounting`` does not offer. Needs next-token distributions from the teachers'
and the aggregator's models (llamacpp, fake; an OpenAI-compatible server gives only top-k, which
counts the rest as 0). Classification tasks; trusted aggregation only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from sociallearn.models.base import LanguageModel, next_token_model
from sociallearn.privacy.accounting import Budget, PrivacyEvent
from sociallearn.privacy.mechanisms import (
    VOTE_L2_SENSITIVITY,
    TokenChoice,
    exponential_token,
    gaussian_token,
)
from sociallearn.seeds import mix_seed
from sociallearn.tasks.base import Example, Task
from sociallearn.teaching.boundary import Ask
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.lesson import Candidate
from sociallearn.teaching.methods.base import Method, methods
from sociallearn.teaching.methods.private_labels import (
    check_budget,
    check_classification,
    public_header,
    template_parts,
)
from sociallearn.teaching.rounds import MethodContext, Plan
from sociallearn.teaching.transcript import AGGREGATOR

COVERS = "generation"
LINE_BREAK = "\n"


# --------------------------------------------------------------------- the teacher's policy


def shots_for(task: Task, shuffled: Sequence[Example], label: str | None, k: int) -> list[Example]:
    """``k`` of a teacher's private examples, those with ``label`` first."""
    same = [e for e in shuffled if label is None or task.gold(e) == label]
    other = [e for e in shuffled if e not in same]
    return (same + other)[:k]


def next_token_distribution(
    model: LanguageModel, prompt: str, candidates: Sequence[str]
) -> dict[str, float]:
    """Runs inside a teacher: its probabilities of the candidate tokens after ``prompt``."""
    [dist] = next_token_model(model, "method private_generation").next_token_logprobs([prompt])
    probs = dist.probabilities()
    return {c: probs.get(c, 0.0) for c in candidates}


# ------------------------------------------------------------------------------- the method


class PrivateGeneration(Method):
    """Synthetic examples written token by token from the teachers' noisy aggregate."""

    name: ClassVar[str] = "private_generation"
    requires_trusted: ClassVar[bool] = True
    covers: ClassVar[str] = COVERS

    mechanism: Literal["gaussian", "exponential"] = "gaussian"
    sigma: float = Field(1.0, gt=0, allow_inf_nan=False)
    temperature: float = Field(0.5, gt=0, allow_inf_nan=False)
    public_top: int = Field(20, ge=1)
    shots: int = Field(4, ge=1)
    max_tokens: int = Field(32, ge=1)
    max_epsilon: float | None = Field(None, gt=0, allow_inf_nan=False)
    delta: float = Field(1e-5, gt=0, lt=1)

    def token_event(self, round_no: int = 0) -> PrivacyEvent:
        if self.mechanism == "gaussian":
            return PrivacyEvent(
                "gaussian", self.sigma, VOTE_L2_SENSITIVITY, round=round_no, covers=COVERS
            )
        return PrivacyEvent("exponential", self.temperature, 1.0, round=round_no, covers=COVERS)

    def check(self, task: Task, n_teachers: int) -> None:
        check_classification(task, self.name)
        check_budget([self.token_event()], self.max_epsilon, self.delta)

    def check_models(self, teacher_model: LanguageModel, student_model: LanguageModel) -> None:
        next_token_model(teacher_model, "method private_generation (teachers' model)")
        next_token_model(student_model, "method private_generation (public candidate tokens)")

    def plan(self, context: MethodContext) -> Plan:
        task = context.task
        ledger = context.ledger
        ledger.delta = self.delta
        left: int | None = None
        if self.max_epsilon is not None:
            ledger.budget = Budget(self.max_epsilon, self.delta)
            left = ledger.affordable(self.token_event(), self.max_epsilon, self.delta)
        noise = np.random.default_rng(mix_seed(context.seed, 41))
        parts = template_parts(task)
        chosen: list[Example] = []
        k = 0
        while len(chosen) < context.n and k < context.n * context.max_rounds_factor:
            label = task.labels[k % len(task.labels)]
            seed = mix_seed(context.seed, 43, k)
            k += 1
            yield Ask(f"Write an example of {label!r} token by token.", (), ())
            text = ""  # the public partial example (template text and released tokens)
            fields: dict[str, str] = {}
            for j, (literal, name) in enumerate(parts):
                if name is None:
                    break
                # The field's tokens bring their own leading space (BPE " word" tokens).
                text += literal.rstrip(" ")
                nxt = parts[j + 1][0].strip()
                end = nxt if name in task.multiline_fields and nxt else LINE_BREAK
                value = ""
                for _ in range(self.max_tokens):
                    if left is not None and left <= 0:
                        ledger.exhausted = True
                        break
                    token = self._next_token(context, text + value, label, seed, noise)
                    if left is not None:
                        left -= 1
                    if not token.token:  # end of text
                        break
                    if not value.strip() and token.token.strip() in ("", end.strip()):
                        continue  # a field does not end before it has begun
                    value += token.token
                    if end in value:
                        value = value[: value.index(end)]
                        break
                if ledger.exhausted:
                    break
                fields[name] = " ".join(value.split())
                text += value if value.startswith((" ", "\n")) else " " + value
            if ledger.exhausted:
                break  # a half-written example is not released
            if not all(fields.get(f) for f in task.field_names):
                continue
            example = Example(fields=fields, target=label)
            context.release([Candidate(example, AGGREGATOR, 0.0, task.render(example))])
            chosen.append(example)
            context.keep(Curriculum(examples=tuple(chosen), shortfall=context.n - len(chosen)))
        return Curriculum(examples=tuple(chosen), shortfall=context.n - len(chosen))

    def _next_token(
        self,
        context: MethodContext,
        partial: str,
        label: str,
        seed: int,
        noise: np.random.Generator,
    ) -> TokenChoice:
        task = context.task
        public = context.boundary.public_next_tokens(
            context.round_no, public_header(task) + partial, self.public_top
        )
        candidates = list(dict.fromkeys([*public, LINE_BREAK]))
        dists = context.boundary.next_token_distributions(
            context.round_no, partial, candidates, label, self.shots, seed
        )
        # Charged before the token is released (the record is the release's receipt).
        context.ledger.record(self.token_event(context.round_no))
        if self.mechanism == "gaussian":
            return gaussian_token(
                dists, candidates, self.sigma, noise, round_no=context.round_no, covers=COVERS
            )
        return exponential_token(
            dists, candidates, self.temperature, noise, round_no=context.round_no, covers=COVERS
        )


methods.register("private_generation", PrivateGeneration)
