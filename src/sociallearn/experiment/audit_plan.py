"""``sociallearn audit --dry-run``: the audit's runs per cell, what one run costs, the wall time.

An audit run teaches (as a grid unit of its method at the audit's n) and then scores the N_SS
canary texts behind the learned prompt. Scoring usually dominates, and its cost is set by
where the template's secret sits: texts of one template share the tokens before the first
secret (scored once), and every token from the secret on is scored anew for each of the N_SS
texts — about 70-76 tokens per text for the GSM8K templates, whose secret comes early, against
14 for Lambada's code.
"""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table

from sociallearn.experiment.audit import audit_keys, audit_store_key
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.plan import (
    CHARS_PER_TOKEN,
    TaskShape,
    note_changed_inputs,
    print_rates,
    print_wall_times,
    prompt_seconds,
    prompt_tokens,
    run_rates,
    stored_keys,
    task_shape,
    teaching_seconds,
)
from sociallearn.experiment.plan_calibration import Kinds, calibrate, stored_timings
from sociallearn.experiment.units import UnitKey
from sociallearn.experiment.workbench import Workbench
from sociallearn.models.llamacpp_rates import Rates
from sociallearn.tasks.base import CanaryTemplate


def canary_tokens(template: CanaryTemplate) -> tuple[float, float]:
    """Estimated tokens of one rendering: before the first secret, and from it to the end."""
    from sociallearn.privacy import make_canary_set

    canaries = make_canary_set(template, n_total=2, seed=0)
    text = canaries.canary
    first = min((i for s in canaries.secrets if (i := text.find(s)) >= 0), default=0)
    return _tokens(text[:first]), _tokens(text[first:])


def _tokens(text: str) -> float:
    # Tokenizers split numbers into single digits or short groups: count a digit as a token
    # (codes and products are most of a GSM8K code canary), other text by characters.
    digits = sum(c.isdigit() for c in text)
    return digits + (len(text) - digits) / CHARS_PER_TOKEN


def run_seconds(
    config: ExperimentConfig,
    key: UnitKey,
    template: CanaryTemplate,
    shape: TaskShape,
    student: Rates,
    teacher: Rates,
) -> tuple[float, float]:
    """Estimated teaching and scoring seconds of one audit run on one worker (one thread)."""
    teaching = teaching_seconds(config, key, shape, teacher, reused=False)
    shared, anew = canary_tokens(template)
    behind = prompt_tokens(key, shape) + shared
    scoring = (
        prompt_seconds(key, shape, student)
        + student.prefill.seconds(shared, behind - shared)
        + config.audit.n_references * student.score.continuation(anew, behind)
    )
    return teaching, scoring


def print_audit_plan(config: ExperimentConfig, console: Console) -> None:
    """Runs per (task, template, method) cell, those left to do, and their estimated cost."""
    bench = Workbench(config, None)
    keys = audit_keys(config, bench)
    done = stored_keys(config, "audit", console)
    todo = [(k, t) for k, t in keys if audit_store_key(k, t) not in done]
    runs = Counter((k.task, t.name, k.method) for k, t in keys)
    left = Counter((k.task, t.name, k.method) for k, t in todo)
    note_changed_inputs(config, bench, {k.task for k, _ in todo}, console)
    rates = run_rates(config, console) if todo else "nothing left to run"
    estimates: dict[tuple[str, str, str], tuple[float, float]] = {}
    if not isinstance(rates, str):
        shapes = {name: task_shape(config, bench, name) for name in config.tasks}
        for key, template in keys:  # the finished runs' estimates calibrate those left
            cell = (key.task, template.name, key.method)
            if cell not in estimates:
                estimates[cell] = run_seconds(config, key, template, shapes[key.task], *rates)
    table = Table(
        title=f"{len(keys)} audit runs, N_SS = {config.audit.n_references} (dry run: nothing is "
        "executed)"
    )
    for col in ("task", "template", "method", "runs", "to run", "teach s/run", "score s/run"):
        table.add_column(col)
    for cell, count in runs.items():
        teach, score = estimates.get(cell, (None, None))
        table.add_row(*cell, str(count), str(left[cell]), _seconds(teach), _seconds(score))
    console.print(table)
    console.print(f"{len(todo)} runs to run ({len(keys) - len(todo)} done); {config.run_dir}")
    if isinstance(rates, str):
        if todo:
            console.print(f"wall time: not estimated ({rates})")
        return
    print_rates(*rates, console)
    # Teaching costs what the task and method cost; scoring, what the task and template cost.
    kinds = {cell: Kinds(f"{cell[0]}/{cell[2]}", f"{cell[0]}/{cell[1]}") for cell in runs}
    calibration = calibrate(
        {
            audit_store_key(k, t): (kinds[cell], estimates[cell])
            for k, t in keys
            if audit_store_key(k, t) in done
            for cell in [(k.task, t.name, k.method)]
        },
        stored_timings(config.run_dir, "audit"),
    )
    if calibration.units:
        console.print(calibration.describe(evaluation="scoring"), highlight=False)
    per_run = [
        calibration.apply(kinds[cell], estimates[cell])
        for k, t in todo
        for cell in [(k.task, t.name, k.method)]
    ]
    print_wall_times(per_run, console, calibrated=bool(calibration.units))


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"
