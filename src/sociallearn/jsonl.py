"""The one JSON-lines reader: run-directory exports, data files and result files.

Strict by default (a broken line is a :class:`DataError` naming the file and line); ``lenient``
skips lines that are not JSON objects, for the tail of an export cut short by a crash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sociallearn.errors import DataError

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
