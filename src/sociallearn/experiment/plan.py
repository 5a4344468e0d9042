"""``--dry-run``: the units of a grid and how many model calls they need, without running any."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.units import UnitKey, expand_units


def estimate_calls(config: ExperimentConfig, key: UnitKey, n_items: int, n_labels: int) -> int:
    """Upper-bound-ish count of model requests (generations + scored continuations) of a unit."""
    syn = config.synthesis
    evaluation = n_items * (n_labels if config.answer_mode == "score" and n_labels else 1)
    teaching = 0
    if key.method == "synthetic_examples":
        asked = syn.teachers_per_round or config.teachers
        teaching = key.n * asked * syn.samples
        if key.aggregator == "voting":
            teaching += key.n * config.teachers * asked * syn.top_k
    elif key.method == "synthetic_instruction":
        teaching = 1
    return evaluation + teaching


def print_plan(config: ExperimentConfig, console: Console) -> None:
    from sociallearn.tasks import get_task

    units = expand_units(config)
    table = Table(title=f"{len(units)} units (dry run: nothing is executed)")
    for col in ("unit", "test items", "model calls (est.)"):
        table.add_column(col)
    total = 0
    for key in units:
        task = get_task(key.task)
        items = config.limit or config.test_size or 500
        calls = estimate_calls(config, key, items, len(task.labels))
        total += calls
        table.add_row(str(key), str(items), str(calls))
    console.print(table)
    console.print(f"total model calls (est.): {total}; run directory: {config.run_dir}")
