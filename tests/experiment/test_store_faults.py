"""Run directories under faults: second writers, emptied or corrupt stores, full or read-only
disks, folders that are not run directories, and a failed first start."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from sociallearn.errors import ConfigError, DataError, UserError
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.recover import rebuild_from_exports
from sociallearn.experiment.runner import open_store, run_experiment
from sociallearn.experiment.store import ResultsStore, adopt


def _config(out: Path, **extra: Any) -> ExperimentConfig:
    base: dict[str, Any] = {
        "tasks": ["sms_spam"],
        "methods": ["zero_shot", "original_examples"],
        "n": [2],
        "aggregators": ["random"],
        "seeds": [0, 1],
        "model": "fake",
        "teachers": 2,
        "silo_size": 8,
        "heldout": 0,
        "limit": 3,
        "out": out,
    }
    base.update(extra)
    return ExperimentConfig.model_validate(base)


def _stable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        ({k: v for k, v in r.items() if k != "timings"} for r in rows), key=lambda r: r["unit"]
    )


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


# ----------------------------------------------------------------------- item 4: first start


def test_a_failed_first_start_leaves_the_directory_free(tmp_path: Path) -> None:
    out = tmp_path / "r"
    with pytest.raises(UserError, match="unknown model provider"):
        run_experiment(_config(out, model="gpt5:big"))
    summary = run_experiment(_config(out))  # the corrected command
    assert summary.computed == 4
    with pytest.raises(ConfigError, match="different configuration"):
        run_experiment(_config(out, model="fake:other"))


# ------------------------------------------------------------------ item 5: two writers


def test_a_second_writer_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    config = _config(tmp_path / "r")
    first = open_store(config)
    try:
        with pytest.raises(UserError, match="another sociallearn process is writing"):
            run_experiment(config)
    finally:
        first.close()
    assert run_experiment(config).computed == 4  # the lock went with the first writer


def test_audit_shards_share_a_directory_but_not_with_a_plain_run(tmp_path: Path) -> None:
    config = _config(tmp_path / "r")
    one, two = open_store(config, shared=True), open_store(config, shared=True)
    try:
        with pytest.raises(UserError, match="another sociallearn process"):
            open_store(config)
    finally:
        one.close()
        two.close()


def test_concurrent_exports_use_their_own_temporary_files(tmp_path: Path) -> None:
    first = ResultsStore(tmp_path)
    first.save("u1", {"unit": "u1"}, [{"m": 1}])
    first.close()
    errors: list[BaseException] = []

    def export_many() -> None:
        store = ResultsStore(tmp_path)  # one per thread, like one per process
        try:
            for _ in range(60):
                store.export()
        except BaseException as exc:  # the old shared ".tmp" name gave FileNotFoundError
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=export_many) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [r["unit"] for r in _lines(tmp_path / "results.jsonl")] == ["u1"]
    assert not list(tmp_path.glob(".*.tmp"))


# ------------------------------------------------------------ item 6: emptied or corrupt store


def _finished_run(tmp_path: Path) -> tuple[ExperimentConfig, list[dict[str, Any]]]:
    config = _config(tmp_path / "r")
    rows = run_experiment(config).run_dir_rows
    return config, rows


def _empty_the_store(run_dir: Path) -> None:
    for name in ("results.sqlite", "results.sqlite-wal", "results.sqlite-shm"):
        (run_dir / name).unlink(missing_ok=True)
    (run_dir / "results.sqlite").write_bytes(b"")


def test_an_empty_store_never_overwrites_the_exports(tmp_path: Path) -> None:
    config, rows = _finished_run(tmp_path)
    run_dir = config.run_dir
    before = {n: (run_dir / n).read_text() for n in ("results.jsonl", "transcript.jsonl")}
    _empty_the_store(run_dir)
    with pytest.raises(DataError, match=r"lacks 4 of the 4 units .* `sociallearn recover"):
        run_experiment(config)
    assert {n: (run_dir / n).read_text() for n in before} == before
    # Recovery: rebuild the store from the exports; the rerun then computes nothing.
    count, kept = rebuild_from_exports(run_dir)
    assert count == 4 and kept is not None and kept.exists()
    with pytest.raises(UserError, match="nothing to recover"):
        rebuild_from_exports(run_dir)  # a good store is never replaced
    again = run_experiment(config)
    assert again.computed == 0
    assert _stable(again.run_dir_rows) == _stable(rows)
    assert {n: (run_dir / n).read_text() for n in before} == before


def test_a_corrupt_store_is_one_clear_error(tmp_path: Path) -> None:
    config, _ = _finished_run(tmp_path)
    store_file = config.run_dir / "results.sqlite"
    for side in ("results.sqlite-wal", "results.sqlite-shm"):
        (config.run_dir / side).unlink(missing_ok=True)
    store_file.write_bytes(b"this is not a database at all" * 200)
    before = (config.run_dir / "results.jsonl").read_text()
    with pytest.raises(DataError, match="not a readable results store") as info:
        run_experiment(config)
    assert "\n" not in str(info.value) and "recover" in str(info.value)
    assert (config.run_dir / "results.jsonl").read_text() == before


def test_an_audit_store_is_rebuilt_from_privacy_rows(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.save(
        "audit/t/m/2/r/0/code",
        {"unit": "t/m/2/r/0/code"},
        [{"unit": "t/m/2/r/0", "k": 1}],
        kind="audit",
        extra_rows=[{"unit": "t/m/2/r/0/code", "rank": 3}],
    )
    store.save(
        "audit/t/m/2/r/0/name",
        {"unit": "t/m/2/r/0/name"},
        [{"unit": "t/m/2/r/0", "k": 2}],
        kind="audit",
        extra_rows=[{"unit": "t/m/2/r/0/name", "rank": 5}],
    )
    store.export()
    store.close()
    _empty_the_store(tmp_path)
    assert rebuild_from_exports(tmp_path)[0] == 2
    rebuilt = ResultsStore(tmp_path)
    assert rebuilt.extra_rows("audit") == [
        {"unit": "t/m/2/r/0/code", "rank": 3},
        {"unit": "t/m/2/r/0/name", "rank": 5},
    ]
    assert rebuilt.messages() == [{"unit": "t/m/2/r/0", "k": 1}, {"unit": "t/m/2/r/0", "k": 2}]
    rebuilt.close()


def test_an_audit_transcript_named_per_run_is_matched_by_name_not_order(tmp_path: Path) -> None:
    # The transcript lists the names run first, the privacy rows the codes run first: only the
    # run's full name (template included) can pair them.
    (tmp_path / "privacy.jsonl").write_text(
        "".join(
            json.dumps({"unit": f"t/m/2/r/0/{template}", "rank": rank}) + "\n"
            for template, rank in (("code", 3), ("name", 5))
        )
    )
    (tmp_path / "transcript.jsonl").write_text(
        "".join(
            json.dumps({"unit": f"t/m/2/r/0/{template}", "k": k}) + "\n"
            for template, k in (("name", 2), ("name", 3), ("code", 1))
        )
    )
    assert rebuild_from_exports(tmp_path)[0] == 2
    by_unit: dict[str, list[int]] = {}
    db = sqlite3.connect(tmp_path / "results.sqlite")
    try:
        for unit, text in db.execute("SELECT unit, row FROM messages ORDER BY unit, seq"):
            by_unit.setdefault(unit, []).append(json.loads(text)["k"])
    finally:
        db.close()
    assert by_unit == {"audit/t/m/2/r/0/code": [1], "audit/t/m/2/r/0/name": [2, 3]}


def test_a_unit_listed_twice_keeps_its_last_row_and_the_messages_of_that_row(
    tmp_path: Path,
) -> None:
    # Exports concatenated by hand: unit a, then b, then a again (recomputed).
    rows = [("a", 0.1), ("b", 0.5), ("a", 0.9)]
    (tmp_path / "results.jsonl").write_text(
        "".join(json.dumps({"unit": u, "accuracy": acc}) + "\n" for u, acc in rows)
    )
    (tmp_path / "transcript.jsonl").write_text(
        "".join(json.dumps({"unit": u, "k": k}) + "\n" for k, (u, _) in enumerate(rows))
    )
    assert rebuild_from_exports(tmp_path)[0] == 2
    rebuilt = ResultsStore(tmp_path)
    try:
        assert {r["unit"]: r["accuracy"] for r in rebuilt.rows()} == {"a": 0.9, "b": 0.5}
        assert sorted(m["k"] for m in rebuilt.messages()) == [1, 2]
    finally:
        rebuilt.close()


# ------------------------------------------------------- item 7: OS and SQLite write failures


def test_out_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "results.txt"
    target.write_text("mine")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        run_experiment(_config(target))
    with pytest.raises(UserError, match="cannot create the folder"):
        run_experiment(_config(target / "sub"))
    assert target.read_text() == "mine"


def test_a_read_only_store_midway_is_one_error_and_keeps_the_units(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.save("u1", {"unit": "u1"}, [{"m": 1}])
    # The file becomes read-only under the process (a remount, a full quota on some systems).
    store._db.close()
    store._db = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
    with pytest.raises(UserError, match=r"results.sqlite: cannot store a finished unit") as info:
        store.save("u2", {"unit": "u2"}, [{"m": 2}])
    assert "readonly" in str(info.value) and "\n" not in str(info.value)
    store.close()
    reopened = ResultsStore(tmp_path)
    assert reopened.done() == {"u1"} and reopened.messages() == [{"m": 1}]
    reopened.close()


def test_a_full_disk_is_one_error_and_keeps_the_store_consistent(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.save("u1", {"unit": "u1"}, [{"m": 1}])
    # SQLite's own "database or disk is full", by capping the file at its current size.
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count={pages}")
    with pytest.raises(UserError, match="disk is full") as info:
        store.save("u2", {"unit": "u2"}, [{"m": "x" * 200_000}])
    assert str(info.value).startswith(str(store.path))
    store.close()
    reopened = ResultsStore(tmp_path)
    assert reopened.done() == {"u1"}
    reopened.close()


def test_a_full_disk_while_exporting_keeps_the_old_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ResultsStore(tmp_path)
    store.save("u1", {"unit": "u1"}, [])
    store.export()
    before = (tmp_path / "results.jsonl").read_text()
    store.save("u2", {"unit": "u2"}, [])

    def full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)  # the store writes through os.replace
    with pytest.raises(UserError, match=r"results.jsonl: cannot write the export .No space left"):
        store.export()
    assert (tmp_path / "results.jsonl").read_text() == before
    assert not list(tmp_path.glob(".*.tmp"))
    store.close()


# ------------------------------------------------------------------- item 8: clobbering


def test_a_folder_that_is_not_a_run_directory_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "config.yaml").write_text("my own config")
    (folder / "report.md").write_text("my notes")
    with pytest.raises(ConfigError, match=r"not a sociallearn run directory .* --force"):
        run_experiment(_config(folder))
    assert (folder / "config.yaml").read_text() == "my own config"
    assert not (folder / "results.sqlite").exists()
    adopt(folder)  # --force
    assert run_experiment(_config(folder)).computed == 4


def test_an_empty_folder_and_a_run_directory_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert run_experiment(_config(tmp_path / "empty")).computed == 4
    assert run_experiment(_config(tmp_path / "empty")).computed == 0
