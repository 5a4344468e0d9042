"""Reading tabular files (JSONL, CSV, TSV) and turning their rows into :class:`Example` values.

Every problem a user can fix (a missing file, an unknown extension, a missing column, a label
outside the task's label set) is a :class:`DataError` naming the file and what was expected.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sociallearn.errors import DataError
from sociallearn.jsonl import parse_jsonl
from sociallearn.tasks.base import Example

TABLE_SUFFIXES = (".jsonl", ".csv", ".tsv")
Row = dict[str, object]
# Rewrites a row before its columns are checked (e.g. splits a Lambada passage in two).
RowAdapter = Callable[[Row], Row]

_BLANK_LINES = re.compile(r"[ \t]*\n(?:[ \t]*\n)+")
_NEWLINE_RUN = re.compile(r"\s*\n\s*")


@dataclass(frozen=True)
class Table:
    """The rows of one file, with the column names seen and the path used in error messages."""

    rows: tuple[Row, ...]
    columns: tuple[str, ...]
    where: str


def read_table(
    path: Path,
    headerless: Sequence[str] = (),
    headerless_when: frozenset[str] = frozenset(),
    delimiter: str | None = None,
) -> Table:
    """Read a JSONL, CSV or TSV file.

    ``headerless`` names the columns of a CSV/TSV without a header row (the original UCI SMS file
    is ``label<TAB>text``); it applies only when the first cell of the first line, lower-cased, is
    in ``headerless_when`` (e.g. ``ham``/``spam``), so other header mistakes still get a clear
    error.
    ``delimiter`` overrides the one implied by the suffix (a shipped ``.csv`` may hold TABs).
    """
    where = str(path)
    if not path.is_file():
        raise DataError(f"{where}: file not found")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(
            f"{where}: unsupported file type {suffix or '(none)'!r}; expected .jsonl, .csv or .tsv"
        )
    try:
        # utf-8-sig: spreadsheet programs save CSVs with a byte-order mark, which would
        # otherwise become part of the first column's name ("\ufeffreview").
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{where}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    if suffix == ".jsonl":
        return _read_jsonl(text, where)
    if delimiter is None:
        delimiter = "\t" if suffix == ".tsv" else ","
    return _read_delimited(text, where, delimiter, headerless, headerless_when)


def _read_jsonl(text: str, where: str) -> Table:
    rows = parse_jsonl(text, where)
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return Table(rows=tuple(rows), columns=tuple(columns), where=where)


def _read_delimited(
    text: str,
    where: str,
    delimiter: str,
    headerless: Sequence[str],
    headerless_when: frozenset[str],
) -> Table:
    text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        return Table(rows=(), columns=(), where=where)
    header = next(csv.reader([lines[0]], delimiter=delimiter))
    if headerless and header and header[0].strip().casefold() in headerless_when:
        # The UCI file is TAB-separated with unquoted text, so split each line once on the first
        # delimiter instead of running csv quoting rules over message text.
        rows: list[Row] = []
        for number, line in enumerate(lines, start=1):
            parts = line.split(delimiter, len(headerless) - 1)
            if len(parts) != len(headerless):
                raise DataError(
                    f"{where}: line {number} has {len(parts)} column(s); expected "
                    f"{len(headerless)} ({', '.join(headerless)}) separated by {delimiter!r}"
                )
            rows.append(dict(zip(headerless, parts, strict=True)))
        return Table(rows=tuple(rows), columns=tuple(headerless), where=where)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    dict_rows: list[Row] = [{k: v for k, v in row.items() if k is not None} for row in reader]
    return Table(rows=tuple(dict_rows), columns=tuple(header), where=where)


@dataclass(frozen=True)
class FieldMap:
    """How a file's columns become an example: template field -> column, plus the target column.

    ``label_map`` rewrites raw target values (compared case-insensitively), e.g. ``ham`` ->
    ``not spam``; when ``labels`` is set, any other value is an error.
    """

    fields: Mapping[str, str]
    target: str
    label_map: Mapping[str, str] = field(default_factory=dict)
    labels: tuple[str, ...] = ()
    adapter: RowAdapter | None = None

    def required(self) -> tuple[str, ...]:
        return (*self.fields.values(), self.target)

    def check_columns(self, table: Table) -> None:
        present = set(table.columns)
        for column in self.required():
            if column not in present:
                found = ", ".join(table.columns) or "none"
                raise DataError(
                    f"{table.where}: missing column {column!r} (found: {found}); expected columns "
                    f"{', '.join(self.required())}"
                )

    def to_examples(
        self, table: Table, *, uid_prefix: str, multiline: frozenset[str] = frozenset()
    ) -> list[Example]:
        """Convert every row; values are cleaned so that they render and parse back unchanged."""
        rows = [self.adapter(dict(r)) for r in table.rows] if self.adapter else list(table.rows)
        if rows:
            self.check_columns(
                Table(
                    rows=(),
                    columns=tuple(dict.fromkeys(k for r in rows for k in r)),
                    where=table.where,
                )
            )
        out: list[Example] = []
        for index, row in enumerate(rows):
            values = {
                name: _value(row, column, table.where, index)
                for name, column in self.fields.items()
            }
            values = {k: clean_value(v, multiline=k in multiline) for k, v in values.items()}
            target = clean_value(
                _value(row, self.target, table.where, index), "target" in multiline
            )
            target = self._label(target, table.where, index)
            if not target or not all(values.values()):
                continue  # an empty text or target cannot be shown as an example
            out.append(Example(fields=values, target=target, uid=f"{uid_prefix}{index}"))
        return out

    def _label(self, raw: str, where: str, index: int) -> str:
        mapped = self.label_map.get(raw.casefold(), raw) if self.label_map else raw
        if self.labels and mapped not in self.labels:
            allowed = ", ".join(
                [*self.labels, *(k for k in self.label_map if k not in self.labels)]
            )
            raise DataError(
                f"{where}: row {index + 1}: {self.target} {raw!r} is not a known label "
                f"(expected one of {allowed})"
            )
        return mapped


def _value(row: Row, column: str, where: str, index: int) -> str:
    if column not in row:
        raise DataError(f"{where}: row {index + 1} lacks column {column!r}")
    value = row[column]
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def clean_value(value: str, multiline: bool = False) -> str:
    """Strip the ends; keep single newlines only in multi-line fields.

    Blank lines are collapsed because a blank line separates examples in a few-shot prompt; a
    one-line field has its line breaks folded into spaces for the same reason.
    """
    value = value.strip()
    if multiline:
        return _BLANK_LINES.sub("\n", value)
    return _NEWLINE_RUN.sub(" ", value) if "\n" in value else value


def table_files(folder: Path) -> list[Path]:
    """The readable tables directly inside ``folder``, in name order."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES)
