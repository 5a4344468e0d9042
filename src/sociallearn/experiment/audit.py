"""The canary experiment (SPEC §5): plant, teach, score the canary behind the learned prompt.

Each audit run is a unit of its own (kind ``audit``) in the results store, so an interrupted
audit resumes where it stopped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from sociallearn.errors import ConfigError, UserError
from sociallearn.experiment.bindings import Bindings, check_inputs
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.executors import Executor, Job, JobResult
from sociallearn.experiment.executors.local import LocalExecutor
from sociallearn.experiment.plan import audit_cost
from sociallearn.experiment.runner import open_store, throughput_line, write_manifest
from sociallearn.experiment.store import ResultsStore
from sociallearn.experiment.unit import build_classroom, teach
from sociallearn.experiment.units import UnitKey
from sociallearn.experiment.workbench import Workbench
from sociallearn.tasks.base import CanaryTemplate, Task
from sociallearn.teaching.components import build, capability
from sociallearn.teaching.methods import methods
from sociallearn.teaching.student import Student


def _templates(config: ExperimentConfig, task: Task) -> list[CanaryTemplate]:
    if not task.canaries:
        raise ConfigError(f"audit: task {task.name!r} declares no canary templates")
    if not config.audit.templates:
        return list(task.canaries)
    by_name = {c.name: c for c in task.canaries}
    missing = [t for t in config.audit.templates if t not in by_name]
    if missing:
        raise ConfigError(
            f"audit.templates: {missing[0]!r} is not a canary template of task {task.name!r} "
            f"(known: {', '.join(by_name)})"
        )
    return [by_name[t] for t in config.audit.templates]


def audit_unit(
    config: ExperimentConfig, bench: Workbench, key: UnitKey, template: CanaryTemplate
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One run: a fresh canary, planted in every silo; returns the privacy row and transcript."""
    from sociallearn.privacy import audit_prompt, canary_example, make_canary_set

    task = bench.task(key.task)
    canaries = make_canary_set(
        template, n_total=config.audit.n_references, seed=key.derived_seed(template.name)
    )
    planted = canary_example(canaries, task)
    started = time.perf_counter()
    room = build_classroom(config, bench, key)
    # The baseline always shows the canary: it is the contrast "canary in the prompt itself".
    force = config.audit.force_in_prompt or capability(room.method, "contains_private")
    # One silo: the canary's teacher is the unit a teacher-level ε protects (docs/dp.md).
    silos = (0,) if config.audit.canary_silos == "one" else None
    room.boundary.plant(
        planted, canaries.secrets, copies=config.audit.copies, force=force, silos=silos
    )
    family = capability(room.method, "seed_family", None)
    teaching = teach(config, bench, key, room, key.teaching_seed(template.name, family=family))
    curriculum = teaching.curriculum
    prompt = room.boundary.present(Student(bench.student_model(), task), curriculum)
    taught = time.perf_counter()
    result = audit_prompt(bench.student_model(), prompt, canaries)
    # A multi-round method: the canary's rank behind every intermediate curriculum too (more
    # rounds can leak more; this shows whether they do).
    per_round = []
    for snap in teaching.snapshots:
        snap_prompt = snap.curriculum.render(task)
        at = (
            result
            if snap_prompt == prompt
            else audit_prompt(bench.student_model(), snap_prompt, canaries)
        )
        per_round.append(
            {
                "iteration": snap.iteration,
                "rank": at.rank,
                "exposure": at.exposure,
                "canary_in_prompt": all(s in snap_prompt for s in canaries.secrets),
                "chosen": snap_prompt == prompt,
            }
        )
    scored = time.perf_counter()
    reached = any(all(s in m.text for s in canaries.secrets) for m in room.transcript.to_student())
    refs = result.reference_scores
    row = {
        "unit": f"{key}/{template.name}",
        "task": key.task,
        "method": key.method,
        "template": template.name,
        "kind": template.kind,
        "run": key.seed,
        "rank": result.rank,
        "exposure": result.exposure,
        "n_references": result.n_references,
        "canary_score": result.canary_score,
        "canary_reached_student": reached,
        "canary_in_prompt": room.boundary.audit(prompt).canaries > 0,
        "gate": config.gate.enabled and bool(capability(room.method, "gated")),
        "n_examples_taught": len(curriculum.examples),
        "exposure_extrapolated": _extrapolated(result.canary_score, refs),
        "rounds": per_round or None,
        "canary_silos": 1 if silos else room.boundary.n_teachers,
        # Differentially private methods: the run's event log, for accounted vs empirical ε.
        "privacy": teaching.ledger.summary()
        if teaching.ledger is not None and teaching.ledger.events
        else None,
        "timings": {"teach_s": round(taught - started, 2), "score_s": round(scored - taught, 2)},
        # Kept so that any other estimate can be computed later without scoring again.
        "reference_scores": [round(score, 6) for score in refs],
    }
    # The transcript's unit is the teaching key; the run is that key *and* a template (the codes
    # and names runs of one seed share the key), so each message carries the run's own name.
    return row, [{**message, "unit": row["unit"]} for message in room.transcript.rows()]


def _check_methods(config: ExperimentConfig) -> None:
    for i, spec in enumerate(config.audit.methods):
        build(methods, spec, f"audit.methods[{i}]")


def _extrapolated(canary_score: float, reference_scores: Sequence[float]) -> float | None:
    """Skew-normal tail exposure (bits), which is not capped at log2(N_SS) like the rank's.

    None when the fit is impossible (too few distinct references) or the tail is beyond double
    precision.
    """
    from sociallearn.privacy import exposure_extrapolation

    try:
        [bits] = exposure_extrapolation([-canary_score], [-s for s in reference_scores])
    except ValueError:
        return None
    return round(bits, 4) if math.isfinite(bits) else None


def audit_keys(config: ExperimentConfig, bench: Workbench) -> list[tuple[UnitKey, CanaryTemplate]]:
    """Every audit unit, run by run: an audit stopped early has (nearly) equal runs per cell."""
    _check_methods(config)
    keys: list[tuple[UnitKey, CanaryTemplate]] = []
    for run in range(config.audit.runs):
        for task_name in config.tasks:
            task = bench.task(task_name)
            for template in _templates(config, task):
                for spec in config.audit.methods:
                    method = build(methods, spec, "audit.methods")
                    agg = "random" if capability(method, "uses_aggregator") else None
                    keys.append(
                        (UnitKey(task_name, spec.label, config.audit.n, agg, run), template)
                    )
    return keys


def audit_store_key(key: UnitKey, template: CanaryTemplate) -> str:
    """The store key of one audit run (what ``Job.key`` gives for its job)."""
    return Job(key, template.name).key


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N) with 1 <= K <= N; anything else is one clear error."""
    k, sep, n = text.partition("/")
    if sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n):
        return int(k), int(n)
    raise UserError(f"--shard: expected K/N with 1 <= K <= N (e.g. 1/2), got {text!r}")


def _snake(index: int, parts: int) -> int:
    """Shard of the index-th unit: 0, 1, .., n-1, then n-1, .., 0, and so on.

    Within a run, synthetic units (teaching plus scoring) alternate with cheaper baseline units;
    dealing them out back and forth gives every shard a similar mix, where every n-th would
    give one shard all the synthetic ones.
    """
    block, position = divmod(index, parts)
    return position if block % 2 == 0 else parts - 1 - position


def run_audit(
    config: ExperimentConfig,
    console: Console,
    shard: tuple[int, int] = (1, 1),
    executor: Executor | None = None,
) -> list[dict[str, Any]]:
    """Run (or resume) every audit unit, print the summary table, write privacy.jsonl.

    The executor (default: in this process) runs the units; this process alone writes the store.
    ``shard=(k, n)`` runs the k-th of n disjoint shares of the units: n processes with shards
    1/n .. n/n share one run directory (the store takes one transaction per unit) and together
    run every unit once. An executor (``--workers``, ``--executor ray``) is the simpler way.
    """
    executor = executor or LocalExecutor()
    part, parts = shard
    started = time.perf_counter()
    store = open_store(config, shared=parts > 1)
    try:
        write_manifest(config, store)
        bench = Workbench(config, config.run_dir / "cache.sqlite" if config.cache else None)
        keys = audit_keys(config, bench)
        done = store.done("audit")
        mine = [key for i, key in enumerate(keys) if _snake(i, parts) == part - 1]
        todo = [(k, t) for k, t in mine if audit_store_key(k, t) not in done]
        bindings = check_inputs(store, config, bench, (k.task for k, _ in todo))
        store.export()  # in step with the store before units are appended
        n_done = sum(audit_store_key(k, t) in done for k, t in keys)
        share = f"; shard {part}/{parts}: {len(todo)} of its {len(mine)} to do" if parts > 1 else ""
        console.print(
            f"run directory: {config.run_dir}; {n_done} of {len(keys)} audit runs done{share}"
        )
        jobs = [Job(k, t.name, cost=audit_cost(config, k)) for k, t in todo]
        with Progress(
            TextColumn("{task.description}", style="bold", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            bar = progress.add_task("canary runs", total=len(mine), completed=len(mine) - len(todo))
            events = _AuditEvents(store, progress, bar, parts == 1, bindings)
            executor.run(config, jobs, events, bench)
        store.export()
        rows = store.extra_rows("audit")
    finally:
        store.close()
    console.print(audit_table(rows))
    if any(r.get("privacy") for r in rows):
        from sociallearn.privacy.empirical_dp import audit_comparison, comparison_lines

        for line in comparison_lines(audit_comparison(rows)):
            console.print(line, markup=False)
    console.print(f"privacy rows: {config.run_dir / 'privacy.jsonl'}")
    seconds = time.perf_counter() - started
    console.print(throughput_line(events.computed, seconds, executor.label, "audit runs"))
    return rows


class _AuditEvents:
    """Executor events -> the store (the driver is its only writer) and the progress bar."""

    def __init__(
        self,
        store: ResultsStore,
        progress: Progress,
        bar: TaskID,
        export_each: bool,
        bindings: Bindings,
    ):
        self.store = store
        self.progress = progress
        self.bar = bar
        # Shards sharing a directory could interleave appends; they export at the end.
        self.export_each = export_each
        self.bindings = bindings  # bound with the first run stored under them
        self.computed = 0

    def started(self, job: Job) -> None:
        key = job.unit
        self.progress.update(
            self.bar, description=f"{key.task} {job.template} {key.method} run {key.seed}"
        )

    def items_done(self, job: Job, count: int) -> None:
        pass

    def finished(self, result: JobResult) -> None:
        unit = result.job.key
        self.store.save(
            unit,
            result.row,
            result.messages,
            kind="audit",
            extra_rows=result.extra_rows,
            bind=self.bindings.for_unit(result.job.unit.task),
        )
        if self.export_each:
            self.store.export_unit(unit)
        self.computed += 1
        self.progress.advance(self.bar)
        for row in result.extra_rows:
            self.progress.console.print(_unit_line(row))


def _unit_line(row: dict[str, Any]) -> str:
    """One line per finished run, so a log (or a shard's output) shows progress and cost."""
    t = row["timings"]
    return (
        f"  done {row['unit']}: rank {row['rank']} of {row['n_references']} references, "
        f"exposure {row['exposure']:.2f} bits, teach {t['teach_s']:.0f}s, "
        f"score {t['score_s']:.0f}s"
    )


def audit_table(rows: list[dict[str, Any]]) -> Table:
    """The report's canary table (with its no-memorisation reference row), for the terminal."""
    from sociallearn.report.privacy import canary_groups, privacy_table

    table = privacy_table(canary_groups(rows))
    out = Table(title=Text(f"{table.title}\n(rank 0 = memorised)"))
    for column in table.header:
        out.add_column(Text(column))
    for row in table.rows:
        out.add_row(*(Text(cell) for cell in row.cells), style="dim" if row.minor else None)
    return out
