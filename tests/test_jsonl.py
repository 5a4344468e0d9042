"""The one JSON-lines reader and writer (src/sociallearn/jsonl.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sociallearn.errors import DataError, UserError
from sociallearn.jsonl import (
    Row,
    last_per_unit,
    parse_jsonl,
    read_jsonl,
    write_jsonl,
    write_text_atomic,
)


def test_strict_reading_names_the_file_and_line() -> None:
    with pytest.raises(DataError, match=r"^f\.jsonl: line 3 is not valid JSON"):
        parse_jsonl('{"a": 1}\n\n{"a": \n', "f.jsonl")
    with pytest.raises(DataError, match=r"^f\.jsonl: line 1 is not a JSON object"):
        parse_jsonl("[1, 2]\n", "f.jsonl")
    with pytest.raises(DataError, match=r"^f\.jsonl: line 2 lacks field\(s\) task"):
        parse_jsonl('{"task": "x"}\n{"task": null}\n', "f.jsonl", required=("task",))


def test_lenient_reading_skips_a_torn_tail() -> None:
    text = '{"unit": "a"}\n[1]\n{"unit": "b", "x": "\u2028"}\n{"unit": "c", "x'
    assert parse_jsonl(text, "f", lenient=True) == [{"unit": "a"}, {"unit": "b", "x": "\u2028"}]


def test_write_then_read_round_trips_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    rows: list[Row] = [{"unit": "a", "text": "é\nnewline"}, {"unit": "b", "n": 2}]
    path = tmp_path / "rows.jsonl"
    write_jsonl(path, rows)
    write_jsonl(path, rows[:1])  # replaced whole, not appended
    assert read_jsonl(path) == rows[:1]
    assert [p.name for p in tmp_path.iterdir()] == ["rows.jsonl"]


def test_a_folder_that_cannot_take_the_file_is_one_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"rows\.jsonl: cannot write \(.+\); try again$"):
        write_jsonl(tmp_path / "gone" / "rows.jsonl", [{"a": 1}], after="try again")
    (tmp_path / "rows.jsonl").mkdir()  # the replace fails: the temporary file must not stay
    with pytest.raises(UserError, match=r"rows\.jsonl: cannot write \(.+\); try again$"):
        write_jsonl(tmp_path / "rows.jsonl", [{"a": 1}], after="try again")
    assert [p.name for p in tmp_path.iterdir()] == ["rows.jsonl"]


def test_last_row_per_unit_wins_and_rows_without_a_unit_stay() -> None:
    rows: list[Row] = [
        {"unit": "a", "v": 1},
        {"v": "loose"},
        {"unit": "b", "v": 2},
        {"unit": "a", "v": 3},
        {"unit": None, "v": "none"},
    ]
    assert last_per_unit(rows) == [
        {"unit": "a", "v": 3},
        {"unit": "b", "v": 2},
        {"v": "loose"},
        {"unit": None, "v": "none"},
    ]


def test_a_text_replaced_whole_keeps_the_old_file_when_the_write_fails(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    write_text_atomic(path, '{"fingerprint": "a"}', mode=0o644)
    assert path.read_text() == '{"fingerprint": "a"}' and path.stat().st_mode & 0o777 == 0o644
    (tmp_path / "blocked").mkdir()
    (tmp_path / "blocked" / "x").write_text("")  # a non-empty folder cannot be replaced
    with pytest.raises(UserError, match=r"blocked: cannot write \(.*\); rerun"):
        write_text_atomic(tmp_path / "blocked", "{}", after="rerun")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocked", "run.json"]
