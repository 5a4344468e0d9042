"""``--dry-run``: the units of a grid, their model calls and an estimated wall time per executor
setting (from measured token rates), without running any."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from sociallearn.errors import SocialLearnError
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.units import UnitKey, expand_units, teaching_leaders
from sociallearn.experiment.workbench import Workbench
from sociallearn.teaching.methods.base import CallBudget, TeachingCost


def teaching_cost(config: ExperimentConfig, key: UnitKey) -> TeachingCost:
    """What the unit's method declares it asks of the models while teaching."""
    from sociallearn.experiment.units import build_aggregator, build_method
    from sociallearn.teaching.components import capability

    syn = config.synthesis
    method = build_method(config, key.method)
    declared = getattr(method, "teaching_cost", None)
    if declared is None:
        return TeachingCost()
    votes = key.aggregator is not None and bool(
        capability(build_aggregator(config, key.aggregator), "asks_votes")
    )
    budget = CallBudget(
        n=key.n,
        teachers=config.teachers,
        asked_per_round=syn.teachers_per_round or config.teachers,
        samples=syn.samples,
        top_k=syn.top_k,
        heldout=config.heldout,
        votes=votes,
    )
    cost: TeachingCost = declared(budget)
    return cost


def estimate_calls(
    config: ExperimentConfig, key: UnitKey, n_items: int, n_labels: int, *, reused: bool = False
) -> int:
    """Upper-bound-ish count of model requests (generations + scored continuations) of a unit:
    evaluation, plus what the unit's method declares for teaching. ``reused``: an earlier sibling
    taught with the same requests (``teaching_leaders``), so its generations are cache hits."""
    evaluation = n_items * (n_labels if config.answer_mode == "score" and n_labels else 1)
    cost = teaching_cost(config, key)
    return evaluation + (cost.scores if reused else cost.calls)


def unit_cost(
    config: ExperimentConfig, bench: Workbench, key: UnitKey, *, reused: bool = False
) -> float:
    """Relative cost of a grid unit (its estimated model calls), to deal the longest first."""
    task = bench.task(key.task)
    n_items = len(bench.data(key.task).test)
    n_items = min(n_items, config.limit) if config.limit else n_items
    return float(estimate_calls(config, key, n_items, len(task.labels), reused=reused))


def audit_cost(config: ExperimentConfig, key: UnitKey) -> float:
    """Relative cost of an audit run: scoring N_SS texts, plus teaching (a generation costs about
    as many decoded tokens as its budget, a scored canary about a dozen)."""
    teaching = estimate_calls(config, key, 0, 0)
    return config.audit.n_references + teaching * config.synthesis.max_tokens / 12


@dataclass(frozen=True)
class Rates:
    """llama.cpp tokens per second of one worker at one thread (prefill, decode, scoring)."""

    prefill: float
    decode: float
    score: float


# Measured on this machine kind (2 cores, Dec 2026; llama-cpp-python, 1 thread, median tokens/s;
# /work/shared/notes/scale-out.md): SmolLM2-135M as shipped (Q4_1) and re-encoded to f32.
MEASURED_RATES: dict[str, Rates] = {
    "q4_1": Rates(prefill=167.0, decode=72.0, score=150.0),
    "f32": Rates(prefill=404.0, decode=39.0, score=158.0),
}
_CHARS_PER_TOKEN = 4.0


@dataclass(frozen=True)
class _TaskShape:
    example_tokens: float  # a rendered example
    query_tokens: float  # a test item up to the answer cue
    answer_tokens: float  # a target
    labels: int


def _shape(config: ExperimentConfig, bench: Workbench, name: str) -> _TaskShape:
    task = bench.task(name)
    try:
        sample = bench.data(name).pool[:200]
    except SocialLearnError:
        sample = ()
    if not sample:  # data not here: a typical short example
        return _TaskShape(60.0, 40.0, 5.0, len(task.labels))

    def mean(texts: list[str]) -> float:
        return sum(len(t) for t in texts) / len(texts) / _CHARS_PER_TOKEN

    return _TaskShape(
        mean([task.render(e) for e in sample]),
        mean([task.render_query(e) for e in sample]),
        mean([task.render_target(e) for e in sample]) + 2,
        len(task.labels),
    )


def unit_seconds(
    config: ExperimentConfig,
    key: UnitKey,
    shape: _TaskShape,
    n_items: int,
    rates: Rates,
    *,
    reused: bool = False,
) -> float:
    """Estimated seconds of one unit on one worker (one thread) from measured token rates;
    ``reused`` as in ``estimate_calls``."""
    syn = config.synthesis
    prompt = max(key.n, 1) * shape.example_tokens + 30
    # The learned prompt is prefilled once (its KV cells are reused), then each item's query.
    evaluation = prompt / rates.prefill + n_items * shape.query_tokens / rates.prefill
    if config.answer_mode == "score" and shape.labels:
        evaluation += n_items * shape.labels * 2 / rates.score
    else:
        evaluation += n_items * shape.answer_tokens / rates.decode
    # Teaching as the method declares it: each sample prefills its few-shot prompt and decodes
    # its budget; each scored continuation (a vote, a held-out answer) costs an example's tokens.
    cost = teaching_cost(config, key)
    generation = syn.n_gen * shape.example_tokens / rates.prefill + syn.max_tokens / rates.decode
    generations = 0 if reused else cost.generations
    teaching = generations * generation + cost.scores * shape.example_tokens / rates.score
    return evaluation + teaching


def makespan(seconds: list[float], workers: int) -> float:
    """Wall time of longest-first dealing onto ``workers`` (what the parallel executors do)."""
    loads = [0.0] * max(1, workers)
    for s in sorted(seconds, reverse=True):
        loads[loads.index(min(loads))] += s
    return max(loads)


def _rates(config: ExperimentConfig) -> Rates | None:
    """The measured rates, when teacher and student are both the embedded model; else ``None``.

    Only the embedded model was measured: another GGUF (a 0.5B model runs 4-5x slower here)
    would get an estimate that is silently wrong, so it gets none."""
    from sociallearn.models.embedded import EMBEDDED_ALIASES
    from sociallearn.models.registry import split_spec

    specs = {split_spec(config.teacher_spec()), split_spec(config.student_spec())}
    if any(
        provider != "llamacpp" or name.lower() not in EMBEDDED_ALIASES for provider, name in specs
    ):
        return None
    weights = str(config.student_options().get("weights") or "q4_1").lower()
    return MEASURED_RATES.get(weights, MEASURED_RATES["q4_1"])


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def print_plan(config: ExperimentConfig, console: Console) -> None:
    from sociallearn.tasks import get_task

    units = expand_units(config)
    reuses = teaching_leaders(config, units)
    items = config.limit or config.test_size or 500
    table = Table(title=f"{len(units)} units (dry run: nothing is executed)")
    for col in ("unit", "test items", "model calls (est.)"):
        table.add_column(col)
    total = 0
    for key in units:
        task = get_task(key.task)
        calls = estimate_calls(config, key, items, len(task.labels), reused=key in reuses)
        total += calls
        table.add_row(str(key), str(items), str(calls))
    console.print(table)
    console.print(f"total model calls (est.): {total}; run directory: {config.run_dir}")
    rates = _rates(config)
    if rates is None:
        console.print(
            "wall time: not estimated (token rates are measured for the embedded llama.cpp "
            "model only; run one seed, --seeds 1, and read its throughput line)"
        )
        return
    bench = Workbench(config, None)
    shapes = {name: _shape(config, bench, name) for name in config.tasks}
    seconds = [
        unit_seconds(config, key, shapes[key.task], items, rates, reused=key in reuses)
        for key in units
    ]
    print_wall_times(seconds, rates, console)


def print_wall_times(seconds: list[float], rates: Rates, console: Console) -> None:
    """Estimated wall time per executor setting (one thread per worker, longest units first)."""
    from sociallearn.experiment.executors.base import usable_cores

    cores = usable_cores()
    table = Table(
        title=(
            f"estimated wall time (measured 1-thread rates: prefill {rates.prefill:g}, "
            f"decode {rates.decode:g}, scoring {rates.score:g} tokens/s)"
        )
    )
    for col in ("executor", "workers", "wall time (est.)", "units/hour"):
        table.add_column(col)
    settings = [("local", 1)]
    settings += [("processes", k) for k in range(2, cores + 1)]
    settings += [("ray (1 CPU per actor)", k) for k in (8, 32, 128) if k > cores]
    for name, workers in settings:
        wall = makespan(seconds, workers)
        table.add_row(name, str(workers), _duration(wall), f"{len(seconds) * 3600 / wall:.1f}")
    console.print(table)
    console.print(
        f"longest unit: {_duration(max(seconds))} (no number of workers beats it); "
        f"{cores} cores here"
    )
