"""``--dry-run``: the units of a grid, their model calls and an estimated wall time per executor
setting (from measured token rates), without running any."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from sociallearn.errors import SocialLearnError, UserError
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.plan_calibration import Kinds, calibrate, stored_timings
from sociallearn.experiment.units import UnitKey, expand_units, teaching_leaders
from sociallearn.experiment.workbench import Workbench
from sociallearn.models.llamacpp_rates import Rates
from sociallearn.teaching.methods.base import CallBudget, TeachingCost
from sociallearn.teaching.teacher import FALLBACK_EVIDENCE


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


CHARS_PER_TOKEN = 4.0  # a rough English average for the tokenizers of the models used here


@dataclass(frozen=True)
class TaskShape:
    example_tokens: float  # a rendered example
    query_tokens: float  # a test item up to the answer cue
    answer_tokens: float  # a target
    labels: int


def task_shape(config: ExperimentConfig, bench: Workbench, name: str) -> TaskShape:
    task = bench.task(name)
    try:
        sample = bench.data(name).pool[:200]
    except SocialLearnError:
        sample = ()
    if not sample:  # data not here: a typical short example
        return TaskShape(60.0, 40.0, 5.0, len(task.labels))

    def mean(texts: list[str]) -> float:
        return sum(len(t) for t in texts) / len(texts) / CHARS_PER_TOKEN

    return TaskShape(
        mean([task.render(e) for e in sample]),
        mean([task.render_query(e) for e in sample]),
        mean([task.render_target(e) for e in sample]) + 2,
        len(task.labels),
    )


def unit_parts(
    config: ExperimentConfig,
    key: UnitKey,
    shape: TaskShape,
    n_items: int,
    rates: Rates,
    *,
    teacher: Rates | None = None,
    reused: bool = False,
) -> tuple[float, float]:
    """Estimated (teaching, evaluation) seconds of one unit on one worker (one thread) — the two
    a finished unit's timings hold: the student's ``rates`` for the evaluation, the
    ``teacher``'s (default: the same) for teaching; ``reused`` as in ``estimate_calls``. Every
    token is costed at the context it is read behind."""
    teaching = teaching_seconds(config, key, shape, teacher or rates, reused=reused)
    evaluation = prompt_seconds(key, shape, rates) + evaluation_seconds(
        config, shape, n_items, rates, prompt_tokens(key, shape)
    )
    return teaching, evaluation


def prompt_tokens(key: UnitKey, shape: TaskShape) -> float:
    """The learned prompt: n examples (an instruction about one) and a little framing."""
    return max(key.n, 1) * shape.example_tokens + 30


def prompt_seconds(key: UnitKey, shape: TaskShape, rates: Rates) -> float:
    """The learned prompt is prefilled once; its KV cells are reused behind every item."""
    return rates.prefill.seconds(prompt_tokens(key, shape))


def evaluation_seconds(
    config: ExperimentConfig, shape: TaskShape, n_items: int, rates: Rates, prompt: float
) -> float:
    """Each item's query behind the prompt, then its labels (score mode) or its answer."""
    behind = prompt + shape.query_tokens
    queries = n_items * rates.prefill.seconds(shape.query_tokens, prompt)
    if config.answer_mode == "score" and shape.labels:
        return queries + n_items * shape.labels * rates.score.continuation(2, behind)
    return queries + n_items * rates.decode.seconds(shape.answer_tokens, behind)


def teaching_seconds(
    config: ExperimentConfig, key: UnitKey, shape: TaskShape, teacher: Rates, *, reused: bool
) -> float:
    """Teaching as the method declares it. The samples of one prompt share its prefill (prefix
    reuse), and a sample ends with the example it writes: it decodes about an example's tokens,
    its budget at most. Each scored continuation (a vote, a held-out answer) costs an example's
    tokens behind a few-shot prompt, and each poll of a teacher prefills its held-out examples.
    (Estimates against measured runs: docs/cluster.md.)"""
    syn = config.synthesis
    cost = teaching_cost(config, key)
    few_shot = syn.n_gen * shape.example_tokens
    written = min(float(syn.max_tokens), shape.example_tokens)
    generations = 0 if reused else cost.generations
    prefills = generations / max(syn.samples, 1) * teacher.prefill.seconds(few_shot)
    decodes = generations * teacher.decode.seconds(written, few_shot)
    # A vote reads a teacher's held-out examples (the first of its pool when it has none).
    heldout = (config.heldout or FALLBACK_EVIDENCE) * shape.example_tokens
    return (
        prefills
        + decodes
        + cost.polls * teacher.prefill.seconds(heldout)
        + cost.scores * teacher.score.continuation(shape.example_tokens, few_shot)
    )


def makespan(seconds: list[float], workers: int) -> float:
    """Wall time of longest-first dealing onto ``workers`` (what the parallel executors do)."""
    loads = [0.0] * max(1, workers)
    for s in sorted(seconds, reverse=True):
        loads[loads.index(min(loads))] += s
    return max(loads)


_MEASURED: dict[tuple[str, str], Rates] = {}


def measured_rates(spec: str, options: dict[str, Any], console: Console) -> Rates:
    """Token rates of a llama.cpp model on this machine at one thread (what each worker gets),
    measured once per process (about 16 s for the embedded model, 25 s for a 0.5B one here).
    A model that cannot load raises ``UserError`` as the run would."""
    from sociallearn.models.llamacpp import LlamaCppModel
    from sociallearn.models.llamacpp_rates import measure_rates
    from sociallearn.models.registry import split_spec

    key = (spec, repr(sorted(options.items())))
    if key not in _MEASURED:
        console.print(f"measuring token rates of {spec} on this machine (one thread) ...")
        model = LlamaCppModel.from_spec(split_spec(spec)[1], **{**options, "n_threads": 1})
        try:
            _MEASURED[key] = measure_rates(model)
        finally:
            model.close()
    return _MEASURED[key]


def run_rates(config: ExperimentConfig, console: Console) -> tuple[Rates, Rates] | str:
    """The student's and the teachers' measured rates, or why there are none. Rates are
    measured, not stored: they differ by model (a 0.5B GGUF decodes 3x slower than SmolLM2
    here) and by machine."""
    from sociallearn.models.registry import split_spec

    specs = (config.student_spec(), config.teacher_spec())
    if any(split_spec(spec)[0] != "llamacpp" for spec in specs):
        return "token rates are measured for llama.cpp models only"
    try:
        student = measured_rates(specs[0], config.student_options(), console)
        teacher = measured_rates(specs[1], config.teacher_options(), console)
    except UserError as exc:
        return str(exc)
    except ImportError:
        return "llama-cpp-python is not installed"
    return student, teacher


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def print_plan(config: ExperimentConfig, console: Console) -> None:
    from sociallearn.tasks import get_task

    units = expand_units(config)
    done = stored_keys(config, "result", console)
    todo = [key for key in units if str(key) not in done]
    reuses = teaching_leaders(config, units)
    items = config.limit or config.test_size or 500
    table = Table(title=f"{len(units)} units (dry run: nothing is executed)")
    for col in ("unit", "test items", "model calls (est.)"):
        table.add_column(col)
    total = 0
    for key in units:
        if str(key) in done:
            table.add_row(str(key), str(items), "done")
            continue
        task = get_task(key.task)
        calls = estimate_calls(config, key, items, len(task.labels), reused=key in reuses)
        total += calls
        table.add_row(str(key), str(items), str(calls))
    console.print(table)
    console.print(
        f"total model calls (est.): {total} for {len(todo)} units to run "
        f"({len(units) - len(todo)} done); run directory: {config.run_dir}"
    )
    if not todo:
        return
    bench = Workbench(config, None)
    note_changed_inputs(config, bench, {key.task for key in todo}, console)
    rates = run_rates(config, console)
    if isinstance(rates, str):
        console.print(
            f"wall time: not estimated ({rates}; run one seed, --seeds 1, and read its "
            "throughput line)"
        )
        return
    student, teacher = rates
    shapes = {name: task_shape(config, bench, name) for name in config.tasks}
    parts = {
        key: unit_parts(
            config, key, shapes[key.task], items, student, teacher=teacher, reused=key in reuses
        )
        for key in units
    }
    print_rates(student, teacher, console)
    # A unit's teaching costs what its task and method cost, and less where an earlier sibling
    # already wrote its candidates (then it only votes); its evaluation, what its task costs.
    kinds = {
        key: Kinds(
            f"{key.task}/{key.method}" + (" (candidates reused)" if key in reuses else ""),
            key.task,
        )
        for key in units
    }
    calibration = calibrate(
        {str(key): (kinds[key], parts[key]) for key in units if str(key) in done},
        stored_timings(config.run_dir),
    )
    if calibration.units:
        console.print(calibration.describe(), highlight=False)
    seconds = [calibration.apply(kinds[key], parts[key]) for key in todo]
    print_wall_times(seconds, console, calibrated=bool(calibration.units))


def stored_keys(config: ExperimentConfig, kind: str, console: Console) -> set[str]:
    """Units of ``kind`` already in the run directory, which a run would skip; none (with a
    note) when the directory holds another configuration's results, which it would refuse."""
    from sociallearn.experiment.config_changes import config_changes
    from sociallearn.experiment.store import stored_units

    done, fingerprint, stored_config = stored_units(config.run_dir, kind)
    if fingerprint is not None and fingerprint not in (
        config.fingerprint(),
        config.path_fingerprint(),  # a directory made before paths were left out
    ):
        changes = config_changes(stored_config, config.to_yaml()) if stored_config else []
        differs = f" (differs: {'; '.join(changes)})" if changes else ""
        console.print(
            f"note: {config.run_dir} holds results of a different configuration{differs}: a "
            "run there is refused (use --out for a new directory); all units are counted",
            markup=False,
        )
        return set()
    return done


def note_changed_inputs(
    config: ExperimentConfig, bench: Workbench, tasks: set[str], console: Console
) -> None:
    """A note per input the directory's units were not computed from (a run would refuse)."""
    from sociallearn.experiment.bindings import changed_inputs

    for line in changed_inputs(config, bench, tasks):
        console.print(f"note: {line} (a run there is refused)", markup=False, highlight=False)


def print_rates(student: Rates, teacher: Rates, console: Console) -> None:
    console.print(f"student at one thread: {student.describe()}")
    if teacher != student:
        console.print(f"teachers at one thread: {teacher.describe()}")


def print_wall_times(seconds: list[float], console: Console, *, calibrated: bool = False) -> None:
    """Estimated wall time per executor setting (one thread per worker, longest units first)."""
    from sociallearn.experiment.executors.base import usable_cores

    cores = usable_cores()
    basis = "rates measured now" + (", scaled by the finished units" if calibrated else "")
    table = Table(title=f"estimated wall time (one thread per worker, {basis})")
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
