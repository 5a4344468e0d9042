"""``private_labels``: public inputs, labels by a noisy vote of the teachers (PromptPATE).

Inputs come from a source that holds no private data: written by the aggregator's (the
student's) model from the task's format alone, or read from a user-given unlabelled file
(``inputs: path/to/file.jsonl`` with the task's input fields). Each teacher labels each input
by few-shot prompting with its own private examples (the label it scores likeliest is its vote);
the trusted aggregator releases the noisy argmax of the votes (GNMax, optionally confident) as the
label. The student learns from these labelled public inputs.

**What ε covers: end to end**, at the teacher level. Nothing a teacher computes from its silo
leaves the boundary except through the noisy vote; the inputs were public to begin with.
Classification tasks only (a label set to vote over); trusted aggregation only.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
from pydantic import Field

from sociallearn.errors import ConfigError, DataError
from sociallearn.models.base import GenerationParams, LanguageModel, ScoreRequest
from sociallearn.privacy.accounting import Budget, PrivacyEvent, PrivacyLedger, require_library
from sociallearn.privacy.mechanisms import (
    TOP_COUNT_SENSITIVITY,
    VOTE_L2_SENSITIVITY,
    confident_gnmax,
    gnmax,
    vote_histogram,
)
from sociallearn.seeds import mix_seed
from sociallearn.tasks.base import Example, Task
from sociallearn.teaching.boundary import Ask
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.lesson import Candidate
from sociallearn.teaching.methods.base import Method, methods
from sociallearn.teaching.rounds import MethodContext, Plan
from sociallearn.teaching.transcript import AGGREGATOR

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


# ------------------------------------------------------------------- shared by the DP methods


def check_classification(task: Task, method: str) -> None:
    if not task.labels or task.parser.kind != "choice":
        raise ConfigError(
            f"methods: {method} needs a classification task with a label set; task "
            f"{task.name!r} has none"
        )


def check_budget(events: Sequence[PrivacyEvent], max_epsilon: float | None, delta: float) -> None:
    """Refuse a budget that not even one release fits (before any unit runs)."""
    require_library()
    if max_epsilon is None:
        return
    one = PrivacyLedger(list(events)).epsilon(delta)
    if one > max_epsilon:
        raise ConfigError(
            f"methods: max_epsilon {max_epsilon:g} is below the ε of a single release "
            f"({one:.3g} at δ = {delta:g}); raise max_epsilon or the noise"
        )


def template_parts(task: Task) -> list[tuple[str, str | None]]:
    """The input template as (literal, field) pairs; the last pair's field is None."""
    parts: list[tuple[str, str | None]] = []
    pos = 0
    for m in _FIELD.finditer(task.input_template):
        parts.append((task.input_template[pos : m.start()], m.group(1)))
        pos = m.end()
    parts.append((task.input_template[pos:], None))
    return parts


def public_header(task: Task) -> str:
    """What a public prompt may say about the task: its instruction, if it has one."""
    return f"{task.instruction.strip()}\n\n" if task.instruction else ""


# -------------------------------------------------------------------------- public inputs


def generated_inputs(
    context: MethodContext, count: int, seed: int, max_tokens: int = 48
) -> list[dict[str, str]]:
    """``count`` inputs written by the aggregator's model from the task's format alone.

    Fields are written in template order: the prompt is the task's instruction (if any) and the
    template's literal text, so no private example is in it.
    """
    task = context.task
    parts = template_parts(task)
    texts = [public_header(task)] * count
    values: list[dict[str, str]] = [{} for _ in range(count)]
    for k, (literal, name) in enumerate(parts):
        # A prompt that ends in a space leaves BPE models without their usual " word" tokens.
        texts = [t + (literal.rstrip(" ") if name else literal) for t in texts]
        if name is None:
            break
        nxt = parts[k + 1][0].strip()
        multiline = name in task.multiline_fields
        # No stop string: small models often open with a line break, and a stop at "\n" would
        # leave most inputs empty. The first non-empty line (or, for a multi-line field, the
        # text before the next template literal) is the field.
        params = GenerationParams(max_tokens=max_tokens, temperature=1.0, seed=mix_seed(seed, k))
        outs = context.boundary.public_texts(context.round_no, texts, params)
        for i, out in enumerate(outs):
            if multiline:
                value = (out.split(nxt)[0] if nxt else out).strip()
            else:
                value = next((line.strip() for line in out.splitlines() if line.strip()), "")
            values[i][name] = value
            texts[i] = texts[i] + " " + value
    unique: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    for v in values:
        if all(v.get(f) for f in task.field_names):
            unique.setdefault(tuple(sorted(v.items())), v)
    return list(unique.values())


def file_inputs(task: Task, path: str) -> list[dict[str, str]]:
    """Unlabelled inputs from a JSONL/CSV/TSV file with the task's input fields."""
    from sociallearn.tasks.readers import clean_value, read_table

    table = read_table(Path(path).expanduser())
    missing = [f for f in task.field_names if f not in table.columns]
    if missing:
        raise DataError(
            f"{table.where}: inputs lack column(s) {', '.join(missing)} "
            f"(task {task.name!r} needs {', '.join(task.field_names)})"
        )
    out = []
    for row in table.rows:
        fields = {
            f: clean_value(str(row.get(f) or ""), f in task.multiline_fields)
            for f in task.field_names
        }
        if all(fields.values()):
            out.append(fields)
    if not out:
        raise DataError(f"{table.where}: no row has every input field filled")
    return out


# --------------------------------------------------------------------- the teacher's policy


def label_votes(
    task: Task, model: LanguageModel, shown: Sequence[Example], queries: Sequence[str]
) -> list[int]:
    """Runs inside a teacher: per query, the index of the label scored likeliest (summed token
    log-probs) after a few-shot prompt of the teacher's private examples ``shown``."""
    prefix = task.render_many(shown)
    requests = [
        ScoreRequest(prefix + q, task.render_target(Example(fields={}, target=label)))
        for q in queries
        for label in task.labels
    ]
    scores = model.score(requests)
    k = len(task.labels)
    votes = []
    for i in range(len(queries)):
        row = [s.logprob_sum for s in scores[i * k : (i + 1) * k]]
        votes.append(int(np.argmax(row)))
    return votes


# ------------------------------------------------------------------------------- the method


class PrivateLabels(Method):
    """Public inputs labelled by the teachers' noisy vote; see the module doc."""

    name: ClassVar[str] = "private_labels"
    requires_trusted: ClassVar[bool] = True
    covers: ClassVar[str] = "labels"

    sigma: float = Field(4.0, gt=0, allow_inf_nan=False)
    threshold: float | None = None
    sigma_threshold: float | None = Field(None, gt=0, allow_inf_nan=False)
    shots: int = Field(4, ge=1)
    inputs: str = "generated"
    candidates_factor: int = Field(3, ge=1)  # public inputs tried per wanted example
    max_epsilon: float | None = Field(None, gt=0, allow_inf_nan=False)
    delta: float = Field(1e-5, gt=0, lt=1)

    def release_events(self, round_no: int = 0) -> tuple[PrivacyEvent, ...]:
        events = [PrivacyEvent("gaussian", self.sigma, VOTE_L2_SENSITIVITY, round=round_no)]
        if self.threshold is not None:
            sigma1 = self.sigma_threshold or self.sigma
            events.insert(0, PrivacyEvent("gaussian", sigma1, TOP_COUNT_SENSITIVITY))
        return tuple(
            PrivacyEvent(e.mechanism, e.noise, e.sensitivity, round=round_no, covers="labels")
            for e in events
        )

    def check(self, task: Task, n_teachers: int) -> None:
        check_classification(task, self.name)
        check_budget(self.release_events(), self.max_epsilon, self.delta)
        if self.inputs != "generated":
            try:
                file_inputs(task, self.inputs)
            except DataError as err:
                raise ConfigError(f"methods: private_labels.inputs: {err}") from None

    def plan(self, context: MethodContext) -> Plan:
        task = context.task
        want = context.n
        ledger = context.ledger
        ledger.delta = self.delta
        # One label costs the same every time: the budget gives how many labels fit, once.
        left: int | None = None
        if self.max_epsilon is not None:
            ledger.budget = Budget(self.max_epsilon, self.delta)
            left = ledger.affordable(self.release_events(), self.max_epsilon, self.delta)
        noise = np.random.default_rng(mix_seed(context.seed, 32))
        chosen: list[Example] = []
        seen: set[str] = set()
        yield Ask("Write public inputs from the task format.", (), ())
        if self.inputs == "generated":
            pool = generated_inputs(
                context, want * self.candidates_factor, mix_seed(context.seed, 31)
            )
        else:
            pool = file_inputs(task, self.inputs)
            random.Random(mix_seed(context.seed, 33)).shuffle(pool)
        pos = 0
        while len(chosen) < want and pos < len(pool) and not ledger.exhausted:
            batch = pool[pos : pos + want - len(chosen)]
            if pos:  # the first batch is labelled in the round that wrote the inputs
                yield Ask(f"Label {len(batch)} more public inputs.", (), ())
            pos += len(batch)
            queries = [task.render_query(Example(fields=f, target="")) for f in batch]
            votes = context.boundary.label_votes(
                context.round_no, queries, self.shots, mix_seed(context.seed, context.round_no)
            )
            released: list[Candidate] = []
            for j, fields in enumerate(batch):
                if left is not None and left <= 0:
                    ledger.exhausted = True
                    break
                ledger.extend(self.release_events(context.round_no))
                if left is not None:
                    left -= 1
                counts = vote_histogram([v[j] for v in votes], len(task.labels))
                winner = self._vote(counts, noise, context.round_no)
                if winner is None:
                    continue
                example = Example(fields=fields, target=task.labels[winner])
                text = task.render(example)
                if text in seen:
                    continue
                seen.add(text)
                released.append(Candidate(example, AGGREGATOR, 0.0, text))
                chosen.append(example)
            context.release(released)
            context.keep(Curriculum(examples=tuple(chosen), shortfall=want - len(chosen)))
        return Curriculum(examples=tuple(chosen), shortfall=want - len(chosen))

    def _vote(self, counts: np.ndarray, noise: np.random.Generator, round_no: int) -> int | None:
        if self.threshold is None:
            return gnmax(counts, self.sigma, noise, round_no=round_no, covers="labels").winner
        return confident_gnmax(
            counts,
            self.sigma,
            self.threshold,
            self.sigma_threshold or self.sigma,
            noise,
            round_no=round_no,
            covers="labels",
        ).winner


methods.register("private_labels", PrivateLabels)
