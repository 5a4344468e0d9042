"""A run directory's results as pandas DataFrames, for analysis outside sociallearn.

``load_results`` gives one row per finished unit (nested fields flattened to dotted columns,
e.g. ``leakage.copy_rate``, plus the unit's learned ``prompt``); ``load_predictions`` gives the
long table beside it, one row per (unit, test item), joined to the first on ``unit``.
pandas is an optional extra: ``pip install 'sociallearn[parquet]'``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sociallearn.errors import CapabilityError
from sociallearn.export.source import Row, read_rows

if TYPE_CHECKING:
    import pandas as pd

EXTRA = "parquet"
_KEY_COLUMNS = ("unit", "task", "method", "n", "aggregator", "seed")


def require(module: str, what: str) -> Any:
    """Import ``module`` or raise one line naming the extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise CapabilityError(
            f"{what} needs {module}, which is not installed: pip install 'sociallearn[{EXTRA}]'"
        ) from None


def _flat(row: Row, prefix: str = "") -> Row:
    out: Row = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flat(value, name + "."))
        else:
            out[name] = value
    return out


def load_results(run_dir: str | Path) -> pd.DataFrame:
    """One row per finished unit of ``run_dir``: its result row (without the predictions,
    see :func:`load_predictions`), nested fields as dotted columns, and its learned prompt."""
    pd = require("pandas", "load_results")
    rows, prompts = read_rows(Path(run_dir))
    records = []
    for row in rows:
        record = _flat({k: v for k, v in row.items() if k != "predictions"})
        record["prompt"] = prompts.get(str(row.get("unit")))
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    # A field that is a mapping in some rows and None in others (``leakage``) lives in its
    # dotted columns alone; its own column would only hold the Nones.
    parents = [
        column
        for column in frame.columns
        if frame[column].isna().all()
        and any(str(other).startswith(f"{column}.") for other in frame.columns)
    ]
    return frame.drop(columns=parents)


def load_predictions(run_dir: str | Path) -> pd.DataFrame:
    """One row per (unit, evaluated item): the unit's key columns, the item's position
    (``item``) and what the student answered (``uid``, ``answer``, ``gold``, ``correct``,
    ``completion``)."""
    pd = require("pandas", "load_predictions")
    rows, _ = read_rows(Path(run_dir))
    records = []
    for row in rows:
        key = {name: row.get(name) for name in _KEY_COLUMNS}
        for index, prediction in enumerate(row.get("predictions") or []):
            records.append({**key, "item": index, **prediction})
    columns = [*_KEY_COLUMNS, "item", "uid", "answer", "gold", "correct", "completion"]
    frame = pd.DataFrame.from_records(records)
    return frame if records else pd.DataFrame(columns=columns)


def parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns Parquet cannot type (dicts, or values of mixed kinds) as JSON text."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype != object:
            continue
        values = [v for v in out[column] if v is not None and v == v]  # drop None and NaN
        kinds = {type(v) for v in values}
        if dict in kinds or (len(kinds) > 1 and not kinds <= {int, float}):
            out[column] = [
                json.dumps(v, ensure_ascii=False) if v is not None and v == v else None
                for v in out[column]
            ]
    return out


def write_parquet(run_dir: Path, out_dir: Path) -> list[Path]:
    """``results.parquet`` (one row per unit) and ``predictions.parquet`` (long) in ``out_dir``."""
    require("pandas", "--format parquet")
    require("pyarrow", "--format parquet")
    units = load_results(run_dir)
    predictions = load_predictions(run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "results.parquet", out_dir / "predictions.parquet"]
    parquet_safe(units).to_parquet(paths[0], index=False)
    parquet_safe(predictions).to_parquet(paths[1], index=False)
    return paths
