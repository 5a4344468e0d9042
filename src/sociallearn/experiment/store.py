"""The results store: SQLite in the run directory, one transaction per finished unit.

A unit's result row and its transcript are written together, so a crash at any moment leaves
either the whole unit or none of it; a rerun skips finished units. ``results.jsonl``,
``transcript.jsonl`` and ``privacy.jsonl`` are exports of the store: each finished unit is
appended to them, and they are rewritten whole when a run starts and ends, which also repairs
them after a crash between a unit's commit and its append.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sociallearn.errors import ConfigError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, row TEXT NOT NULL, finished REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    unit TEXT NOT NULL, seq INTEGER NOT NULL, row TEXT NOT NULL, PRIMARY KEY (unit, seq)
);
"""


class ResultsStore:
    """Finished units of one run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / "results.sqlite"
        self._db = sqlite3.connect(self.path, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db:
            yield self._db

    def claim(self, fingerprint: str, config_yaml: str) -> None:
        """Bind the directory to one config; a different config is refused, not mixed in."""
        with self._transaction() as db:
            # OR IGNORE: workers sharing a directory may claim it at the same moment.
            db.execute("INSERT OR IGNORE INTO meta VALUES ('fingerprint', ?)", (fingerprint,))
            db.execute("INSERT OR IGNORE INTO meta VALUES ('config', ?)", (config_yaml,))
        row = self._db.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
        if row[0] != fingerprint:
            raise ConfigError(
                f"{self.run_dir}: this run directory holds results of a different configuration "
                f"(fingerprint {row[0]}, yours {fingerprint}); use --out for a new directory "
                "or delete it"
            )

    def done(self, kind: str = "result") -> set[str]:
        rows = self._db.execute("SELECT key FROM units WHERE kind=?", (kind,)).fetchall()
        return {r[0] for r in rows}

    def save(
        self,
        key: str,
        row: dict[str, Any],
        messages: Sequence[dict[str, Any]],
        kind: str = "result",
        extra_rows: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Write a unit's row(s) and transcript in one transaction."""
        import time

        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO units VALUES (?, ?, ?, ?)",
                (key, kind, json.dumps({"row": row, "extra": list(extra_rows)}), time.time()),
            )
            db.execute("DELETE FROM messages WHERE unit=?", (key,))
            db.executemany(
                "INSERT INTO messages VALUES (?, ?, ?)",
                [(key, i, json.dumps(m, ensure_ascii=False)) for i, m in enumerate(messages)],
            )

    def rows(self, kind: str = "result") -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        query = "SELECT row FROM units WHERE kind=? ORDER BY finished"
        for (text,) in self._db.execute(query, (kind,)):
            payload = json.loads(text)
            out.append(payload["row"])
        return out

    def extra_rows(self, kind: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        query = "SELECT row FROM units WHERE kind=? ORDER BY finished"
        for (text,) in self._db.execute(query, (kind,)):
            out.extend(json.loads(text)["extra"])
        return out

    def messages(self) -> list[dict[str, Any]]:
        query = (
            "SELECT m.row FROM messages m JOIN units u ON u.key = m.unit ORDER BY u.finished, m.seq"
        )
        return [json.loads(text) for (text,) in self._db.execute(query)]

    def export(self) -> None:
        """Rewrite the JSONL exports from the store (atomic replace)."""
        _write_jsonl(self.run_dir / "results.jsonl", self.rows("result"))
        _write_jsonl(self.run_dir / "transcript.jsonl", self.messages())
        privacy = self.extra_rows("audit")
        if privacy:
            _write_jsonl(self.run_dir / "privacy.jsonl", privacy)
        else:
            (self.run_dir / "privacy.jsonl").unlink(missing_ok=True)

    def export_unit(self, key: str) -> None:
        """Append one saved unit to the JSONL exports: constant cost per unit, unlike ``export``."""
        found = self._db.execute("SELECT kind, row FROM units WHERE key=?", (key,)).fetchone()
        if found is None:
            raise KeyError(key)
        kind, payload = found[0], json.loads(found[1])
        if kind == "result":
            _append_jsonl(self.run_dir / "results.jsonl", [payload["row"]])
        query = "SELECT row FROM messages WHERE unit=? ORDER BY seq"
        messages = [json.loads(text) for (text,) in self._db.execute(query, (key,))]
        _append_jsonl(self.run_dir / "transcript.jsonl", messages)
        if kind == "audit":
            _append_jsonl(self.run_dir / "privacy.jsonl", payload["extra"])


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def _append_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
