"""The one JSON-lines reader and writer: run-directory exports, data files and result files.

Strict by default (a broken line is a :class:`DataError` naming the file and line); ``lenient``
skips lines that are not JSON objects, for the tail of an export cut short by a crash. The
writer replaces a file whole, so a reader never sees it half written.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sociallearn.errors import DataError, UserError

Row = dict[str, Any]


def parse_jsonl(
    text: str, where: str, *, lenient: bool = False, required: tuple[str, ...] = ()
) -> list[Row]:
    """The JSON objects of ``text``, one per line; blank lines are skipped."""
    rows: list[Row] = []
    # Split on "\n" only: str.splitlines() would also break on U+2028 and friends inside values.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            if lenient:
                continue
            raise DataError(f"{where}: line {number} is not valid JSON ({err.msg})") from None
        if not isinstance(value, dict):
            if lenient:
                continue
            raise DataError(f"{where}: line {number} is not a JSON object")
        missing = [name for name in required if value.get(name) is None]
        if missing:
            raise DataError(f"{where}: line {number} lacks field(s) {', '.join(missing)}")
        rows.append(value)
    return rows


def read_jsonl(path: Path, *, lenient: bool = False, required: tuple[str, ...] = ()) -> list[Row]:
    """The JSON objects of the file at ``path`` (see :func:`parse_jsonl`)."""
    return parse_jsonl(
        path.read_text(encoding="utf-8"), str(path), lenient=lenient, required=required
    )


def write_jsonl(
    path: Path, rows: Sequence[Row], *, doing: str = "cannot write", after: str = ""
) -> None:
    """Write ``rows`` to ``path`` through a temporary file and an atomic replace.

    An OS error is one :class:`UserError`: ``"{path}: {doing} ({reason}); {after}"``.
    """
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    write_text_atomic(path, text, doing=doing, after=after)


def write_text_atomic(
    path: Path, text: str, *, doing: str = "cannot write", after: str = "", mode: int | None = None
) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic replace, so a crash
    leaves the old file or the new one, never half of one (see :func:`write_jsonl`).

    The file is private to its owner (the temporary file's mode) unless ``mode`` says otherwise.
    """
    tail = f"; {after}" if after else ""
    # A temporary name of our own: two processes writing at once must not share one.
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UserError(f"{path}: {doing} ({exc.strerror or exc}){tail}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        if mode is not None:
            Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"{path}: {doing} ({exc.strerror or exc}){tail}") from exc


def last_per_unit(rows: Sequence[Row]) -> list[Row]:
    """One row per unit id, the last one written (an appended or re-exported file lists a unit
    again); rows without a unit id (result files from elsewhere) are all kept, after them."""
    by_unit: dict[str, Row] = {}
    anonymous: list[Row] = []
    for row in rows:
        unit = row.get("unit")
        if isinstance(unit, str):
            by_unit[unit] = row
        else:
            anonymous.append(row)
    return [*by_unit.values(), *anonymous]
