"""Schedules units, stores what they return, and resumes where a previous run stopped."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.store import ResultsStore
from sociallearn.experiment.unit import run_unit
from sociallearn.experiment.units import UnitKey, expand_units
from sociallearn.experiment.workbench import Workbench


class RunReporter(Protocol):
    """Progress callbacks (the CLI draws progress bars with them)."""

    def start(self, total_units: int, already_done: int) -> None: ...

    def unit_started(self, key: UnitKey, n_items: int) -> None: ...

    def items_done(self, count: int) -> None: ...

    def unit_finished(self, key: UnitKey, row: dict[str, Any]) -> None: ...


class SilentReporter:
    def start(self, total_units: int, already_done: int) -> None:
        pass

    def unit_started(self, key: UnitKey, n_items: int) -> None:
        pass

    def items_done(self, count: int) -> None:
        pass

    def unit_finished(self, key: UnitKey, row: dict[str, Any]) -> None:
        pass


@dataclass(frozen=True)
class RunSummary:
    run_dir_rows: list[dict[str, Any]]
    computed: int
    skipped: int
    seconds: float


def write_manifest(config: ExperimentConfig, store: ResultsStore) -> None:
    """The resolved config and what produced it, so the run can be repeated."""
    from sociallearn import __version__

    run_dir = config.run_dir
    (run_dir / "config.yaml").write_text(config.to_yaml(), encoding="utf-8")
    manifest = {
        "sociallearn_version": __version__,
        "python": platform.python_version(),
        "fingerprint": config.fingerprint(),
        "teacher_model": config.teacher_spec(),
        "student_model": config.student_spec(),
        "seeds": config.seeds,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (run_dir / "run.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def open_store(config: ExperimentConfig) -> ResultsStore:
    store = ResultsStore(config.run_dir)
    try:
        store.claim(config.fingerprint(), config.to_yaml())
    except Exception:
        store.close()
        raise
    return store


def preflight(config: ExperimentConfig, bench: Workbench, units: Sequence[UnitKey]) -> None:
    """Fail on bad input (unknown task, missing data, n larger than a silo) before any unit runs.

    Seating a classroom splits the data and builds the teachers, without a single model call.
    """
    from sociallearn.experiment.unit import build_classroom

    for key in units:
        build_classroom(config, bench, key)


def run_experiment(
    config: ExperimentConfig,
    reporter: RunReporter | None = None,
    units: Sequence[UnitKey] | None = None,
) -> RunSummary:
    """Run every unfinished unit of the grid; finished ones (from a previous run) are skipped."""
    reporter = reporter or SilentReporter()
    started = time.perf_counter()
    all_units = list(units) if units is not None else expand_units(config)
    store = open_store(config)
    try:
        write_manifest(config, store)
        done = store.done()
        todo = [u for u in all_units if str(u) not in done]
        store.export()  # in step with the store before units are appended
        reporter.start(len(all_units), len(all_units) - len(todo))
        bench = Workbench(config, config.run_dir / "cache.sqlite" if config.cache else None)
        preflight(config, bench, todo)
        for key in todo:
            n_items = len(bench.data(key.task).test)
            if config.limit:
                n_items = min(n_items, config.limit)
            reporter.unit_started(key, n_items)
            outcome = run_unit(config, bench, key, progress=reporter.items_done)
            store.save(str(key), outcome.row, outcome.messages)
            store.export_unit(str(key))
            reporter.unit_finished(key, outcome.row)
        store.export()
        rows = store.rows()
    finally:
        store.close()
    return RunSummary(rows, len(todo), len(all_units) - len(todo), time.perf_counter() - started)
