"""What an export reads from a run directory: each unit's result row and its final learned prompt.

The learned prompt is the transcript message of kind ``"prompt"`` that the student sent itself
after teaching: the exact text that preceded every query. It is read from ``results.sqlite`` (the
run's store) when present, else from the JSONL exports.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sociallearn.errors import ConfigError, DataError, UserError
from sociallearn.experiment.store import read_only
from sociallearn.export.carry import require_labels
from sociallearn.jsonl import last_per_unit, read_jsonl
from sociallearn.tasks.base import Task

Row = dict[str, Any]


@dataclass(frozen=True)
class UnitPrompt:
    """One finished unit: its result row, its learned prompt and its task."""

    key: str
    row: Row
    prompt: str
    task: Task

    @property
    def slug(self) -> str:
        """The unit key as a file name: ``sms_spam/original_examples/n=8/-/seed=0`` ->
        ``sms_spam__original_examples__n8__seed0``."""
        parts = [p.replace("=", "") for p in self.key.split("/") if p not in ("-", "")]
        name = "__".join(parts)
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "unit"


def _check_run_dir(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise DataError(
            f"{run_dir}: not a directory; expected a run directory from `sociallearn run`"
        )
    if not (run_dir / "results.sqlite").is_file() and not (run_dir / "results.jsonl").is_file():
        raise DataError(
            f"{run_dir}: no results.sqlite or results.jsonl here (expected a run directory)"
        )


def _sqlite_rows(path: Path) -> tuple[list[Row], dict[str, str]]:
    with read_only(path) as db:  # an export never changes the run directory's store
        units = [
            json.loads(text)["row"]
            for (text,) in db.execute("SELECT row FROM units WHERE kind='result' ORDER BY finished")
        ]
        prompts: dict[str, str] = {}
        for unit, text in db.execute("SELECT unit, row FROM messages ORDER BY unit, seq"):
            _keep_prompt(prompts, unit, json.loads(text))
    return units, prompts


def _keep_prompt(prompts: dict[str, str], unit: str, message: Row) -> None:
    if message.get("kind") == "prompt" and message.get("sender") == message.get("recipient"):
        prompts[unit] = str(message.get("text", ""))


def _jsonl_rows(run_dir: Path) -> tuple[list[Row], dict[str, str]]:
    rows = last_per_unit(read_jsonl(run_dir / "results.jsonl"))
    for row in rows:
        require_labels(row, str(run_dir / "results.jsonl"), run_dir)
    prompts: dict[str, str] = {}
    transcript = run_dir / "transcript.jsonl"
    if transcript.is_file():
        for message in read_jsonl(transcript):
            _keep_prompt(prompts, str(message.get("unit")), message)
    return rows, prompts


def read_rows(run_dir: Path) -> tuple[list[Row], dict[str, str]]:
    """Result rows (kind ``result``) in finishing order, and each unit's learned prompt."""
    _check_run_dir(run_dir)
    store = run_dir / "results.sqlite"
    return _sqlite_rows(store) if store.is_file() else _jsonl_rows(run_dir)


def select_rows(rows: list[Row], unit: str | None, run_dir: Path) -> list[Row]:
    """All rows, or the one whose key is ``unit``; an unknown key lists the closest keys."""
    if unit is None:
        if not rows:
            raise DataError(f"{run_dir}: the run has no finished units to export")
        return rows
    for row in rows:
        if row.get("unit") == unit:
            return [row]
    keys = [str(r.get("unit")) for r in rows]
    close = difflib.get_close_matches(unit, keys, n=3, cutoff=0.0)
    hint = f"; closest: {', '.join(close)}" if close else "; the run has no finished units"
    raise UserError(f"--unit: no unit {unit!r} in {run_dir}{hint}")


def unit_prompt(row: Row, prompts: dict[str, str], run_dir: Path) -> UnitPrompt:
    """A row with its learned prompt and task; a unit without a recorded prompt is an error."""
    key = str(row.get("unit"))
    if key not in prompts:
        raise DataError(
            f"{run_dir}: unit {key!r} has no recorded learned prompt (transcript message of "
            "kind 'prompt'); rerun it with this version of sociallearn"
        )
    prompt = prompts[key]
    expected = row.get("prompt_tokens_chars")
    if isinstance(expected, int) and expected != len(prompt):
        raise DataError(
            f"{run_dir}: unit {key!r}: the recorded prompt has {len(prompt)} characters but the "
            f"result row says {expected}; the run directory is inconsistent"
        )
    return UnitPrompt(key, row, prompt, _task_of(row))


def _task_of(row: Row) -> Task:
    from sociallearn.tasks import get_task

    spec = row.get("task_spec") or row.get("task")
    if not isinstance(spec, str):
        raise DataError(f"unit {row.get('unit')!r}: result row names no task")
    try:
        return get_task(spec)
    except UserError as error:
        raise ConfigError(f"unit {row.get('unit')!r}: task {spec!r}: {error}") from None


def load_units(run_dir: Path, unit: str | None = None) -> list[UnitPrompt]:
    """The units of a run directory to export (all, or the one named ``unit``)."""
    rows, prompts = read_rows(run_dir)
    return [unit_prompt(row, prompts, run_dir) for row in select_rows(rows, unit, run_dir)]
