"""Schedules units, stores what they return, and resumes where a previous run stopped."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sociallearn.errors import ConfigError
from sociallearn.experiment.bindings import Bindings, check_inputs, read_manifest
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.executors import Executor, Job, JobResult
from sociallearn.experiment.executors.base import Warn, warn_on_stderr
from sociallearn.experiment.executors.local import LocalExecutor
from sociallearn.experiment.plan import unit_cost
from sociallearn.experiment.store import ResultsStore
from sociallearn.experiment.units import UnitKey, expand_units, teaching_leaders
from sociallearn.experiment.workbench import Workbench
from sociallearn.jsonl import write_text_atomic
from sociallearn.tasks.base import Example, Task


class RunReporter(Protocol):
    """Progress callbacks (the CLI draws progress bars with them)."""

    def start(self, total_units: int, already_done: int) -> None: ...

    def unit_started(self, key: UnitKey, n_items: int) -> None: ...

    def items_done(self, key: UnitKey, count: int) -> None: ...

    def unit_finished(self, key: UnitKey, row: dict[str, Any]) -> None: ...


class SilentReporter:
    def start(self, total_units: int, already_done: int) -> None:
        pass

    def unit_started(self, key: UnitKey, n_items: int) -> None:
        pass

    def items_done(self, key: UnitKey, count: int) -> None:
        pass

    def unit_finished(self, key: UnitKey, row: dict[str, Any]) -> None:
        pass


@dataclass(frozen=True)
class RunSummary:
    run_dir_rows: list[dict[str, Any]]
    computed: int
    skipped: int
    seconds: float
    executor: str = "local"

    def throughput(self) -> str:
        """One line for the end of a run: units computed per hour by this executor."""
        return throughput_line(self.computed, self.seconds, self.executor, "units")


def throughput_line(computed: int, seconds: float, executor: str, what: str) -> str:
    if not computed or seconds <= 0:
        return f"throughput: no {what} computed ({executor})"
    per_hour = computed * 3600 / seconds
    return (
        f"throughput: {computed} {what} in {seconds:.0f}s = {per_hour:.1f} {what}/hour, "
        f"{seconds / computed:.1f}s each ({executor})"
    )


class _RunEvents:
    """Executor events -> the store (the driver is its only writer) and the reporter."""

    def __init__(
        self,
        store: ResultsStore,
        reporter: RunReporter,
        n_items: dict[str, int],
        bindings: Bindings,
    ) -> None:
        self.store = store
        self.reporter = reporter
        self.n_items = n_items
        self.bindings = bindings  # bound with the first unit stored under them
        self.computed = 0

    def started(self, job: Job) -> None:
        self.reporter.unit_started(job.unit, self.n_items[job.unit.task])

    def items_done(self, job: Job, count: int) -> None:
        self.reporter.items_done(job.unit, count)

    def finished(self, result: JobResult) -> None:
        key = result.job.key
        bind = self.bindings.for_unit(result.job.unit.task)
        self.store.save(key, result.row, result.messages, bind=bind)
        self.store.export_unit(key)
        self.computed += 1
        self.reporter.unit_finished(result.job.unit, result.row)


def write_manifest(config: ExperimentConfig, store: ResultsStore) -> None:
    """The resolved config and what produced it, so the run can be repeated."""
    from sociallearn import __version__
    from sociallearn.models.platform_info import platform_info

    run_dir = config.run_dir
    # Replaced whole (a crash never leaves half a manifest: recover reads its bindings), and
    # readable by others like any file the user writes.
    write_text_atomic(run_dir / "config.yaml", config.to_yaml(), mode=0o644)
    manifest = {
        "sociallearn_version": __version__,
        "python": platform.python_version(),
        "fingerprint": store.fingerprint or config.fingerprint(),  # as the directory holds it
        "teacher_model": config.teacher_spec(),
        "student_model": config.student_spec(),
        "seeds": config.seeds,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        # CPU instruction sets and llama.cpp build: results move across them (docs/backends.md).
        "platform": platform_info(),
    }
    previous = read_manifest(run_dir)
    for inputs in ("data", "models"):
        # Digests of each task's data and model file, from the starts that computed units
        # (experiment/bindings.py).
        if isinstance(previous.get(inputs), dict):
            manifest[inputs] = previous[inputs]
    write_text_atomic(run_dir / "run.json", json.dumps(manifest, indent=2), mode=0o644)


def open_store(config: ExperimentConfig, *, shared: bool = False) -> ResultsStore:
    """The run directory's store, locked for this writer (``shared``: audit shards)."""
    store = ResultsStore(config.run_dir)
    try:
        also = (config.path_fingerprint(),)  # directories made before paths were left out
        store.claim(config.fingerprint(), config.to_yaml(), shared=shared, also=also)
    except Exception:
        store.close()
        raise
    return store


def preflight(
    config: ExperimentConfig,
    bench: Workbench,
    units: Sequence[UnitKey],
    warn: Warn = warn_on_stderr,
) -> None:
    """Fail on bad input (unknown task, missing data, n larger than a silo) before any unit runs.

    Seating a classroom splits the data and builds the teachers, without a single model call.
    """
    from sociallearn.experiment.unit import build_classroom

    for key in units:
        build_classroom(config, bench, key)
    check_silos_and_context(config, bench, units)
    check_synthesis_budget(config, bench, units, warn)


def check_synthesis_budget(
    config: ExperimentConfig, bench: Workbench, units: Sequence[UnitKey], warn: Warn
) -> None:
    """Warn when most of a task's own examples are longer than ``synthesis.max_tokens``.

    A continuation that reaches the budget before its example ends is dropped: teaching then
    spends most of its calls on nothing (Lambada at 80 tokens ran 25 minutes for no example),
    and what it does teach is biased towards short examples (BoolQ at 80: 38-44% dropped).
    Generated examples run shorter than real ones, so this warns, it does not refuse.
    """
    generating = sorted({k.task for k in units if k.aggregator is not None and k.n > 0})
    if not generating:
        return  # nothing to generate: the teacher model need not even load here
    count = getattr(_backend(bench.teacher_model()), "count_tokens", None)
    if count is None:
        return  # a server's tokenizer is not known here
    budget = config.synthesis.max_tokens
    for name in generating:
        task, pool = bench.task(name), bench.data(name).pool[:200]
        lengths = sorted(count(task.render(e)) for e in pool)
        if not lengths:
            continue
        median, p90 = lengths[len(lengths) // 2], lengths[int(0.9 * (len(lengths) - 1))]
        if median > budget:
            warn(
                f"synthesis.max_tokens is {budget}, but most of {name}'s examples are longer "
                f"(median {median} tokens, 90th percentile {p90}): teacher continuations that "
                "reach the budget are dropped, which slows teaching and teaches shorter examples "
                "than the task's; raise synthesis.max_tokens in the config"
            )


def _backend(model: object) -> object:
    """The model behind a ``CachedModel`` (whose tokenizer and context the checks read)."""
    return getattr(model, "model", model)


def _gold_label(task: Task) -> Callable[[Example], str]:
    return lambda example: task.gold(example) or ""


def check_silos_and_context(
    config: ExperimentConfig, bench: Workbench, units: Sequence[UnitKey]
) -> None:
    """Refuse what would otherwise be changed silently or fail midway.

    A teacher whose silo is not larger than ``heldout`` would hold out fewer examples than the
    config records; ``n`` examples that do not fit the student's context would fail after hours.
    """
    from sociallearn.teaching.silos import split_silos

    seen: set[tuple[str, int]] = set()
    for key in units:
        if config.heldout and (key.task, key.seed) not in seen:
            seen.add((key.task, key.seed))
            task = bench.task(key.task)
            # The unit's own split (as build_classroom deals it), seen from outside the boundary.
            silos = split_silos(
                bench.data(key.task).pool,
                config.teachers,
                UnitKey(key.task, "silos", 0, None, key.seed).derived_seed(),
                strategy=config.silo_split,
                alpha=config.dirichlet_alpha,
                silo_size=config.silo_size,
                label_of=_gold_label(task) if task.labels else None,
            )
            smallest = min(len(s) for s in silos)
            if smallest <= config.heldout:
                raise ConfigError(
                    f"heldout: {config.heldout} examples per teacher, but the smallest silo of "
                    f"{key.task} has {smallest} ({config.teachers} teachers); lower heldout or "
                    "teachers (a smaller held-out part would be used than recorded)"
                )
    inner = _backend(bench.student_model())
    n_ctx, count = getattr(inner, "n_ctx", None), getattr(inner, "count_tokens", None)
    if not isinstance(n_ctx, int) or count is None:
        return  # a server's context is not known here; it refuses long prompts itself
    for task_name, n in sorted({(k.task, k.n) for k in units if k.n > 0}):
        task, data = bench.task(task_name), bench.data(task_name)
        shots = [task.render(e) for e in data.pool[:n]]
        if not shots:
            continue
        # The student's prompt holds n examples like these: its size from the pool's own.
        tokens = int(count(task.separator.join(shots)) * n / len(shots))
        if tokens > n_ctx:
            raise ConfigError(
                f"n: {n} examples of {task_name} make a prompt of about {tokens} tokens, more "
                f"than the student model's context of {n_ctx} (model option n_ctx); lower n or "
                "raise n_ctx"
            )


def unit_jobs(
    config: ExperimentConfig, bench: Workbench, todo: Sequence[UnitKey], grid: Sequence[UnitKey]
) -> list[Job]:
    """The jobs of the units left to run (``todo``, of ``grid``). A unit whose teaching an
    earlier unit of the grid repeats (``teaching_leaders``) costs only its evaluation and votes:
    with the response cache its candidates are free — once that sibling has taught, so while
    the sibling is still to run, the unit comes ``after`` it."""
    leaders = teaching_leaders(config, grid)
    left = set(todo)
    jobs = []
    for key in todo:
        leader = leaders.get(key)
        cost = unit_cost(config, bench, key, reused=leader is not None)
        after = str(leader) if leader in left else None
        jobs.append(Job(key, cost=cost, after=after))
    return jobs


def run_experiment(
    config: ExperimentConfig,
    reporter: RunReporter | None = None,
    units: Sequence[UnitKey] | None = None,
    executor: Executor | None = None,
    warn: Warn = warn_on_stderr,
) -> RunSummary:
    """Run every unfinished unit of the grid; finished ones (from a previous run) are skipped.

    The executor (default: in this process) runs the units; this process alone writes the store.
    """
    reporter = reporter or SilentReporter()
    executor = executor or LocalExecutor()
    started = time.perf_counter()
    all_units = list(units) if units is not None else expand_units(config)
    store = open_store(config)
    try:
        write_manifest(config, store)
        done = store.done()
        todo = [u for u in all_units if str(u) not in done]
        store.export()  # in step with the store before units are appended
        bench = Workbench(config, config.run_dir / "cache.sqlite" if config.cache else None)
        preflight(config, bench, todo, warn)  # before the progress display: errors read plainly
        bindings = check_inputs(store, config, bench, (key.task for key in todo))
        reporter.start(len(all_units), len(all_units) - len(todo))
        n_items: dict[str, int] = {}
        for key in todo:
            n = len(bench.data(key.task).test)
            n_items[key.task] = min(n, config.limit) if config.limit else n
        jobs = unit_jobs(config, bench, todo, all_units)
        events = _RunEvents(store, reporter, n_items, bindings)
        executor.run(config, jobs, events, bench)
        store.export()
        rows = store.rows()
    finally:
        store.close()
    seconds = time.perf_counter() - started
    return RunSummary(rows, events.computed, len(all_units) - len(todo), seconds, executor.label)
