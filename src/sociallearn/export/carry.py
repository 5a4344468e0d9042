"""``--format carry``: a run's finished units without dataset text or labels, to go on elsewhere.

A long run outlives a machine; what its finished units are fits in a few small files, which can
be kept (even committed) and carried to another one. A result row's predictions hold each test
item's gold label, and an answer with its ``correct`` flag gives the label away too, so the carry
keeps only what the student answered (``uid``, ``answer``): committing a carry commits no part of
the dataset. ``sociallearn recover`` on a folder holding a carry puts the labels back from the
run's data (:func:`restore_labels`) and checks them against each row's stored ``n_correct``.
Audit rows (``privacy.jsonl``: ranks, exposures, scores) hold no dataset text and go as they are.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sociallearn.errors import DataError, UserError
from sociallearn.jsonl import last_per_unit, read_jsonl, write_jsonl

Row = dict[str, Any]

CARRIED_KEYS = ("uid", "answer")
"""What a carried prediction keeps: which item, and what the student answered."""

SIDE_FILES = ("run.json", "config.yaml")
"""Copied as they are: the run's manifest (fingerprint, machine) and its configuration."""


def is_carried(row: Mapping[str, Any]) -> bool:
    """True for a result row whose predictions lack their labels (a carry not yet recovered)."""
    predictions = row.get("predictions")
    return isinstance(predictions, list) and any(
        isinstance(p, dict) and "correct" not in p for p in predictions
    )


def require_labels(row: Mapping[str, Any], where: str, run_dir: Path) -> None:
    """Refuse a carried row where per-item correctness is read: it would count as all wrong."""
    if is_carried(row):
        raise DataError(
            f"{where}: unit {row.get('unit')!r}: its predictions carry no labels (a "
            f"`--format carry` export); restore them with `sociallearn recover {run_dir} "
            "--data-dir DIR` first"
        )


def carried_row(row: Mapping[str, Any]) -> Row:
    """The row with each prediction reduced to :data:`CARRIED_KEYS`."""
    predictions = row.get("predictions")
    if not isinstance(predictions, list):
        return dict(row)
    kept = [{k: p.get(k) for k in CARRIED_KEYS} for p in predictions if isinstance(p, dict)]
    return {**row, "predictions": kept}


def _stored_rows(store: Path) -> tuple[list[Row], list[Row]]:
    from sociallearn.experiment.store import read_only

    # Read-only: a carry can be taken while the run goes on, and never changes its store.
    with read_only(store) as db:
        units = db.execute("SELECT kind, row FROM units ORDER BY finished").fetchall()
    results = [json.loads(text)["row"] for kind, text in units if kind == "result"]
    privacy = [r for kind, text in units if kind == "audit" for r in json.loads(text)["extra"]]
    return results, privacy


def _exported_rows(run_dir: Path) -> tuple[list[Row], list[Row]]:
    def rows(name: str) -> list[Row]:
        path = run_dir / name
        return last_per_unit(read_jsonl(path, lenient=True)) if path.is_file() else []

    return rows("results.jsonl"), rows("privacy.jsonl")


def write_carry(run_dir: Path, out: Path) -> list[Path]:
    """Write the carry of ``run_dir`` into ``out``; returns the files written.

    Rows come from the store when there is one (the exports may lag it after a crash), else from
    the exports (a carry carried on). ``out`` must not be a run directory: its exports would be
    replaced by rows without labels.
    """
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: not a directory; expected a run directory")
    if (out / "results.sqlite").exists() or out.resolve() == run_dir.resolve():
        raise UserError(
            f"--out {out}: is a run directory; write the carry into a folder of its own"
        )
    store = run_dir / "results.sqlite"
    results, privacy = _stored_rows(store) if store.is_file() else _exported_rows(run_dir)
    if not results and not privacy:
        raise DataError(f"{run_dir}: the run has no finished units to carry")
    written: list[Path] = []
    carried = {"results.jsonl": [carried_row(r) for r in results], "privacy.jsonl": privacy}
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, rows in carried.items():
            if rows:
                write_jsonl(out / name, rows, doing="cannot write the carry")
                written.append(out / name)
            else:
                (out / name).unlink(missing_ok=True)  # a stale file from an earlier carry
        for name in SIDE_FILES:
            if (run_dir / name).is_file():
                shutil.copyfile(run_dir / name, out / name)
                written.append(out / name)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot write the carry ({exc.strerror or exc})") from exc
    return written


def restore_labels(rows: dict[str, Row], run_dir: Path, data_dir: Path | None) -> dict[str, Row]:
    """Carried rows with each prediction's ``gold`` and ``correct`` put back from the run's data.

    The items are loaded as the run loaded them (its ``config.yaml``; ``data_dir`` overrides
    where the data lies) and must be the ones evaluated, in order; the restored correct answers
    must add up to the row's stored ``n_correct``, or nothing is restored.
    """
    if not any(is_carried(row) for row in rows.values()):
        return rows
    from sociallearn.export.parts import items_of_row, run_workbench

    bench = run_workbench(run_dir, data_dir)
    restored: dict[str, Row] = {}
    for key, row in rows.items():
        if not is_carried(row):
            restored[key] = row
            continue
        task = bench.task(str(row.get("task_spec") or row.get("task")))
        items = items_of_row(row, bench, run_dir)
        predictions = []
        for prediction, item in zip(row["predictions"], items, strict=True):
            gold = task.gold(item)
            correct = task.parser.same(prediction.get("answer"), gold)
            predictions.append({**prediction, "gold": gold, "correct": correct})
        n_correct = sum(p["correct"] for p in predictions)
        if n_correct != row.get("n_correct"):
            raise DataError(
                f"{run_dir}: unit {key!r}: the carried answers score {n_correct} correct "
                f"against the data loaded now, the run stored {row.get('n_correct')}; point "
                "--data-dir at the run's data (nothing was changed)"
            )
        restored[key] = {**row, "predictions": predictions}
    return restored
