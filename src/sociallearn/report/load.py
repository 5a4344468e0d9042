"""Reading a run directory: results.jsonl, privacy.jsonl and config.yaml, as plain dicts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sociallearn.errors import DataError
from sociallearn.export.carry import require_labels
from sociallearn.jsonl import last_per_unit, read_jsonl

Row = dict[str, Any]

RESULTS_FILE = "results.jsonl"
PRIVACY_FILE = "privacy.jsonl"
CONFIG_FILE = "config.yaml"


@dataclass(frozen=True)
class RunData:
    """Everything the report reads from a run directory."""

    run_dir: Path
    results: list[Row]
    privacy: list[Row]
    config_text: str | None


def _check_result_row(path: Path, index: int, row: Row) -> None:
    has_accuracy = isinstance(row.get("accuracy"), int | float)
    has_counts = row.get("n_items") is not None and row.get("n_correct") is not None
    if not (has_accuracy or has_counts):
        raise DataError(f"{path}: row {index}: needs 'accuracy' or 'n_correct' and 'n_items'")


def load_run(run_dir: Path) -> RunData:
    """Load a run directory: results.jsonl or privacy.jsonl must exist, the rest is optional."""
    if not run_dir.is_dir():
        raise DataError(
            f"{run_dir}: not a directory; expected a run directory from `sociallearn run`"
        )
    results_path = run_dir / RESULTS_FILE
    privacy_path = run_dir / PRIVACY_FILE
    results: list[Row] = []
    if results_path.is_file():
        results = read_jsonl(results_path, required=("task", "method"))
    elif not privacy_path.is_file():
        # An audit-only directory (privacy.jsonl alone) still makes a report.
        raise DataError(f"{results_path}: not found; run `sociallearn run` to produce it")
    for index, row in enumerate(results, start=1):
        _check_result_row(results_path, index, row)
        require_labels(row, f"{results_path}: row {index}", run_dir)
    privacy = read_jsonl(privacy_path, required=("rank",)) if privacy_path.is_file() else []
    config_path = run_dir / CONFIG_FILE
    config_text = config_path.read_text(encoding="utf-8") if config_path.is_file() else None
    return RunData(
        run_dir=run_dir,
        results=last_per_unit(results),
        privacy=privacy,
        config_text=config_text,
    )
