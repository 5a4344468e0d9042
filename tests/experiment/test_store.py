from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sociallearn.errors import ConfigError, DataError
from sociallearn.experiment.store import ResultsStore, read_only


def test_units_saved_are_done_and_exported(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.claim("abc", "x: 1")
    store.save("u1", {"unit": "u1", "accuracy": 0.5}, [{"unit": "u1", "text": "hi"}])
    store.save("u2", {"unit": "u2", "accuracy": 0.7}, [])
    store.export()
    assert store.done() == {"u1", "u2"}
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["unit"] for r in rows] == ["u1", "u2"]
    assert (tmp_path / "transcript.jsonl").read_text().count("\n") == 1
    store.close()


def test_a_different_config_is_refused(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.claim("abc", "x: 1")
    store.save("u1", {"unit": "u1"}, [])  # the first stored unit binds the directory
    store.close()
    again = ResultsStore(tmp_path)
    again.claim("abc", "x: 1")  # same config: fine
    again.close()
    other = ResultsStore(tmp_path)
    with pytest.raises(ConfigError, match="different configuration"):
        other.claim("zzz", "x: 2")
    other.close()


def test_a_start_that_stored_nothing_does_not_bind_the_directory(tmp_path: Path) -> None:
    failed = ResultsStore(tmp_path)
    failed.claim("typo", "model: gpt5:big")  # then pre-flight failed: nothing was stored
    failed.close()
    fixed = ResultsStore(tmp_path)
    fixed.claim("good", "model: fake")
    fixed.save("u1", {"unit": "u1"}, [])
    fixed.close()
    again = ResultsStore(tmp_path)
    with pytest.raises(ConfigError, match="different configuration"):
        again.claim("typo", "model: gpt5:big")
    again.close()


def test_resaving_a_unit_replaces_its_messages(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.save("u1", {"unit": "u1"}, [{"t": 1}, {"t": 2}])
    store.save("u1", {"unit": "u1"}, [{"t": 3}])
    assert store.messages() == [{"t": 3}]
    store.close()


def _exports(run_dir: Path) -> dict[str, str]:
    names = ("results.jsonl", "transcript.jsonl", "privacy.jsonl")
    return {n: (run_dir / n).read_text() for n in names if (run_dir / n).exists()}


def test_appended_exports_equal_a_full_rewrite(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.export()
    store.save("u1", {"unit": "u1"}, [{"m": 1}, {"m": 2}])
    store.export_unit("u1")
    store.save("a1", {"unit": "a1"}, [{"m": 3}], kind="audit", extra_rows=[{"rank": 4}])
    store.export_unit("a1")
    store.save("u2", {"unit": "u2"}, [])
    store.export_unit("u2")
    appended = _exports(tmp_path)
    store.export()
    assert _exports(tmp_path) == appended
    assert appended["privacy.jsonl"] == '{"rank": 4}\n'
    with pytest.raises(KeyError):
        store.export_unit("never saved")
    store.close()


def test_a_crash_between_commit_and_append_is_repaired_by_the_next_export(
    tmp_path: Path,
) -> None:
    store = ResultsStore(tmp_path)
    store.save("u1", {"unit": "u1"}, [{"m": 1}])
    store.export_unit("u1")
    store.save("u2", {"unit": "u2"}, [{"m": 2}])  # committed, then the process died
    with (tmp_path / "results.jsonl").open("a") as fh:
        fh.write('{"unit": "u2", "acc')  # and a half-written line
    store.close()
    resumed = ResultsStore(tmp_path)
    resumed.export()  # what a resumed run does first
    rows = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["unit"] for r in rows] == ["u1", "u2"]
    assert not (tmp_path / "privacy.jsonl").exists()
    resumed.close()


def test_read_only_never_writes_and_names_what_is_wrong(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.claim("fp", "config: 1\n")
    store.save("u1", {"unit": "u1", "accuracy": 0.5}, [])
    store.close()
    # SQLite may create the empty -wal/-shm side files a WAL reader needs; the store is unchanged.
    before = (tmp_path / "results.sqlite").read_bytes()
    with read_only(tmp_path / "results.sqlite") as db:
        assert db.execute("SELECT key FROM units").fetchall() == [("u1",)]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            db.execute("DELETE FROM units")
    assert (tmp_path / "results.sqlite").read_bytes() == before

    not_a_store = tmp_path / "other.sqlite"
    not_a_store.write_bytes(b"plain text, " * 512)
    broken = r"other\.sqlite: cannot be read .*a sociallearn store$"
    with pytest.raises(DataError, match=broken), read_only(not_a_store) as db:
        db.execute("SELECT 1 FROM units").fetchall()

    # A writer holding a (rollback-journal) file past the timeout is said to be busy, not broken.
    held = tmp_path / "held.sqlite"
    writer = sqlite3.connect(held, isolation_level=None)
    writer.execute("CREATE TABLE units (key TEXT)")
    writer.execute("BEGIN EXCLUSIVE")
    try:
        busy = r"held\.sqlite: .*locked.*held it for 0\.05 s"
        with pytest.raises(DataError, match=busy), read_only(held, timeout=0.05) as db:
            db.execute("SELECT key FROM units").fetchall()
    finally:
        writer.close()
