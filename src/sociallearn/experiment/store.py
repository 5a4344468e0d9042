"""The results store: SQLite in the run directory, one transaction per finished unit.

A unit's result row and its transcript are written together, so a crash at any moment leaves
either the whole unit or none of it; a rerun skips finished units. ``results.jsonl``,
``transcript.jsonl`` and ``privacy.jsonl`` are exports of the store: each finished unit is
appended to them, and they are rewritten whole when a run starts and ends, which also repairs
them after a crash between a unit's commit and its append.

Faults (see ``docs/failure-modes.md``):

* The directory is bound to a configuration (its fingerprint) with the first stored unit, so a
  start that fails before storing anything (a typo in ``--model``) does not lock it.
* A folder that is not empty and has no ``results.sqlite`` is not a run directory and is refused,
  so ``--out`` cannot overwrite someone's files (:func:`adopt` makes one on purpose).
* One writer at a time: :meth:`ResultsStore.claim` takes an exclusive lock on ``results.lock``
  (audit shards take a shared one: they are designed to share a directory).
* An export is never rewritten from a store that lacks units the export lists (an emptied,
  replaced or corrupt store); ``sociallearn recover`` rebuilds the store from them
  (:mod:`sociallearn.experiment.recover`).
* SQLite and OS errors become one :class:`UserError` naming the path; a failed write rolls back.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import IO, Any

from sociallearn.errors import ConfigError, DataError, UserError
from sociallearn.jsonl import read_jsonl, write_jsonl

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, row TEXT NOT NULL, finished REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    unit TEXT NOT NULL, seq INTEGER NOT NULL, row TEXT NOT NULL, PRIMARY KEY (unit, seq)
);
"""
STORE_FILE = "results.sqlite"
LOCK_FILE = "results.lock"
EXPORTS = {"result": "results.jsonl", "audit": "privacy.jsonl"}


def _recover_hint(run_dir: Path) -> str:
    return (
        f"rebuild it from the exports with `sociallearn recover {run_dir}` (the old file is kept "
        f"beside it), or use --out for a new directory"
    )


def is_run_dir(path: Path) -> bool:
    return (path / STORE_FILE).is_file()


def check_run_dir(run_dir: Path) -> None:
    """Refuse a path that is a file, or a non-empty folder that is not a run directory."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(
            f"run directory (--out) {run_dir}: is a file, not a folder (expected a run directory)"
        )
    if run_dir.is_dir() and not is_run_dir(run_dir):
        try:
            foreign = sorted(p.name for p in run_dir.iterdir() if not p.name.startswith("."))
        except OSError as exc:
            raise UserError(
                f"run directory (--out) {run_dir}: cannot list the folder ({exc.strerror})"
            ) from exc
        if foreign:
            shown = ", ".join(foreign[:4]) + (", ..." if len(foreign) > 4 else "")
            raise ConfigError(
                f"run directory (--out) {run_dir}: this folder holds other files ({shown}) and "
                f"is not a sociallearn run directory (no {STORE_FILE}); choose a new or empty "
                "folder, or pass --force to use it anyway (files sociallearn writes are "
                "overwritten)"
            )


def stored_units(run_dir: Path, kind: str = "result") -> tuple[set[str], str | None, str]:
    """The keys of ``kind`` units stored in ``run_dir``, and the fingerprint and YAML of the
    configuration that stored them (nothing, ``None`` and ``""`` without a store), read without
    writing: a dry run must neither create nor claim the directory."""
    path = run_dir / STORE_FILE
    if not path.is_file():
        return set(), None, ""
    with read_only(path) as db:
        keys = {k for (k,) in db.execute("SELECT key FROM units WHERE kind=?", (kind,))}
    meta = stored_meta(run_dir)
    return keys, meta.get("fingerprint"), meta.get("config", "")


def stored_meta(run_dir: Path) -> dict[str, str]:
    """``run_dir``'s store meta (fingerprint, config, bound digests), read without writing;
    empty without a store."""
    path = run_dir / STORE_FILE
    if not path.is_file():
        return {}
    with read_only(path) as db:
        return {str(k): str(v) for k, v in db.execute("SELECT key, value FROM meta")}


def _error_code(exc: sqlite3.Error) -> int | None:
    """SQLite's primary result code for ``exc`` (the low byte of the extended code), if any.

    Errors are told apart by code, not by their words: the message text is SQLite's and can change.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def _is_busy(exc: sqlite3.Error) -> bool:
    """Whether SQLite failed because another connection held the file (SQLITE_BUSY/LOCKED)."""
    return _error_code(exc) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


@contextmanager
def read_only(path: Path, timeout: float = 30.0) -> Iterator[sqlite3.Connection]:
    """The store at ``path`` opened for reading only; a file that is not one is a DataError.

    Dry runs, exports and carries read through this: they never create, claim or change a store
    (SQLite may add the empty ``-wal``/``-shm`` files a reader of a WAL file needs), and they work
    while a run goes on writing it (the WAL gives them a consistent view).
    """
    try:
        uri = f"file:{path.resolve()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=timeout)) as db:
            yield db
    except sqlite3.DatabaseError as exc:
        # A writer holding the file past the timeout is not a broken store: say which it is.
        hint = "expected a sociallearn store"
        if _is_busy(exc):
            hint = f"a writer held it for {timeout:g} s; try again"
        raise DataError(f"{path}: cannot be read ({exc}); {hint}") from None


def adopt(run_dir: Path) -> None:
    """Make ``run_dir`` a run directory even if it holds other files (``--force``)."""
    if not is_run_dir(run_dir):
        ResultsStore(run_dir, check=False).close()


class ResultsStore:
    """Finished units of one run directory."""

    def __init__(self, run_dir: Path, *, check: bool = True) -> None:
        self.run_dir = run_dir
        if check:
            check_run_dir(run_dir)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(
                f"run directory (--out) {run_dir}: cannot create the folder ({_why(exc)})"
            ) from exc
        self.path = run_dir / STORE_FILE
        self._lock: IO[bytes] | None = None
        self._fingerprint: str | None = None
        self._also: tuple[str, ...] = ()  # fingerprints of this config older versions bound
        self._config = ""
        try:
            self._db = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as exc:
            raise UserError(f"{self.path}: cannot open ({exc})") from exc
        # Switching to WAL takes a lock for which SQLite does not wait (the busy timeout does
        # not apply): two processes opening a new store together (audit shards started at once)
        # saw "database is locked" here. So the switch is retried, for a bounded time.
        deadline = time.monotonic() + 30
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.executescript(_SCHEMA)
                break
            except sqlite3.OperationalError as exc:
                if _is_busy(exc) and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                self._db.close()
                raise self._error("cannot open", exc) from exc
            except sqlite3.DatabaseError as exc:
                self._db.close()
                raise self._error("cannot open", exc) from exc

    def _error(self, doing: str, exc: sqlite3.Error) -> UserError:
        text = str(exc)
        if _error_code(exc) in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
            return DataError(
                f"{self.path}: not a readable results store ({text}); nothing was overwritten; "
                + _recover_hint(self.run_dir)
            )
        return UserError(
            f"{self.path}: {doing} ({text}); units finished before this one are kept, fix the "
            "cause (disk space, permissions) and rerun the same command to resume"
        )

    def close(self) -> None:
        self._db.close()
        if self._lock is not None:
            self._lock.close()  # releases the lock
            self._lock = None

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        try:
            with self._db:
                yield self._db
        except sqlite3.Error as exc:
            raise self._error(doing, exc) from exc

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise self._error("cannot read", exc) from exc

    def lock(self, shared: bool = False) -> None:
        """Take the directory's writer lock: exclusive, or shared between audit shards."""
        self._lock = lock_run_dir(self.run_dir, shared=shared)

    def claim(
        self,
        fingerprint: str,
        config_yaml: str,
        *,
        shared: bool = False,
        also: Sequence[str] = (),
    ) -> None:
        """Check the directory holds results of this config (or none); lock it for writing.

        The fingerprint is bound with the first stored unit (:meth:`save`), so a start that
        fails before storing anything leaves the directory free for the corrected command.
        ``also``: the same config's fingerprint as older versions computed it, which the
        directories they made hold (and keep).
        """
        self.lock(shared=shared)
        self._fingerprint, self._config = fingerprint, config_yaml
        self._also = tuple(also)
        with self._transaction("cannot write") as db:
            if not db.execute("SELECT 1 FROM units LIMIT 1").fetchone():
                # Nothing stored: an earlier start bound it (older versions did) in vain.
                db.execute("DELETE FROM meta WHERE key IN ('fingerprint', 'config')")
        self._check_fingerprint()

    @property
    def fingerprint(self) -> str | None:
        """The fingerprint the directory holds, else the one its first unit will bind."""
        row = self._query("SELECT value FROM meta WHERE key='fingerprint'")
        return str(row[0][0]) if row else self._fingerprint

    def _check_fingerprint(self) -> None:
        row = self._query("SELECT value FROM meta WHERE key='fingerprint'")
        accepted = (self._fingerprint, *self._also)
        if row and self._fingerprint is not None and row[0][0] not in accepted:
            raise ConfigError(
                f"{self.run_dir}: this run directory holds results of a different configuration "
                f"(fingerprint {row[0][0]}, yours {self._fingerprint}{self._changes()}); use "
                "--out for a new directory or delete it"
            )

    def _changes(self) -> str:
        """``"; differs: ..."`` naming the settings that differ from the stored config."""
        from sociallearn.experiment.config_changes import config_changes

        stored = self._query("SELECT value FROM meta WHERE key='config'")
        changes = config_changes(stored[0][0], self._config) if stored and self._config else []
        return f"; differs: {'; '.join(changes)}" if changes else ""

    def bound(self, prefix: str) -> dict[str, str]:
        """The meta values bound by :meth:`save` whose keys start with ``prefix``."""
        rows = self._query(
            "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
        )
        return {str(k): str(v) for k, v in rows}

    def done(self, kind: str = "result") -> set[str]:
        rows = self._query("SELECT key FROM units WHERE kind=?", (kind,))
        return {r[0] for r in rows}

    def save(
        self,
        key: str,
        row: dict[str, Any],
        messages: Sequence[dict[str, Any]],
        kind: str = "result",
        extra_rows: Sequence[dict[str, Any]] = (),
        bind: Mapping[str, str] | None = None,
    ) -> None:
        """Write a unit's row(s) and transcript in one transaction (binding the directory).

        ``bind``: meta values the unit was computed under (its task's data digest); the first
        unit binds them, and a unit whose value differs from the bound one is not stored.
        """
        with self._transaction("cannot store a finished unit") as db:
            if self._fingerprint is not None:
                # OR IGNORE: shards sharing a directory may store their first units together.
                db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('fingerprint', ?)", (self._fingerprint,)
                )
                db.execute("INSERT OR IGNORE INTO meta VALUES ('config', ?)", (self._config,))
                self._check_fingerprint()  # inside the transaction: a mismatch stores nothing
            for name, value in (bind or {}).items():
                db.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (name, value))
                (held,) = db.execute("SELECT value FROM meta WHERE key=?", (name,)).fetchone()
                if held != value:
                    raise DataError(
                        f"{self.run_dir}: {key} was computed under {name} {value}, but the "
                        f"directory's units were computed under {held}; the unit is not stored"
                    )
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
        query = "SELECT row FROM units WHERE kind=? ORDER BY finished"
        return [json.loads(text)["row"] for (text,) in self._query(query, (kind,))]

    def extra_rows(self, kind: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        query = "SELECT row FROM units WHERE kind=? ORDER BY finished"
        for (text,) in self._query(query, (kind,)):
            out.extend(json.loads(text)["extra"])
        return out

    def messages(self) -> list[dict[str, Any]]:
        query = (
            "SELECT m.row FROM messages m JOIN units u ON u.key = m.unit ORDER BY u.finished, m.seq"
        )
        return [json.loads(text) for (text,) in self._query(query)]

    def check_exports(self) -> None:
        """Refuse to go on when an export lists units the store lacks (emptied or replaced).

        The exports are read first and the store second: the store only grows, so a unit an
        export got from it (even from another shard, a moment ago) is found.
        """
        for kind, name in EXPORTS.items():
            listed = _export_keys(self.run_dir / name, kind)
            missing = listed - self.done(kind)
            if missing:
                raise DataError(
                    f"{self.path}: lacks {len(missing)} of the {len(listed)} units that {name} "
                    f"lists (the store was emptied or replaced); nothing was overwritten; "
                    + _recover_hint(self.run_dir)
                )

    def export(self) -> None:
        """Rewrite the JSONL exports from the store (atomic replace, never from a lesser store)."""
        self.check_exports()
        write_export(self.run_dir / "results.jsonl", self.rows("result"))
        write_export(self.run_dir / "transcript.jsonl", self.messages())
        privacy = self.extra_rows("audit")
        if privacy:
            write_export(self.run_dir / "privacy.jsonl", privacy)
        else:
            (self.run_dir / "privacy.jsonl").unlink(missing_ok=True)

    def export_unit(self, key: str) -> None:
        """Append one saved unit to the JSONL exports: constant cost per unit, unlike ``export``."""
        found = self._query("SELECT kind, row FROM units WHERE key=?", (key,))
        if not found:
            raise KeyError(key)
        kind, payload = found[0][0], json.loads(found[0][1])
        if kind == "result":
            _append_jsonl(self.run_dir / "results.jsonl", [payload["row"]])
        query = "SELECT row FROM messages WHERE unit=? ORDER BY seq"
        messages = [json.loads(text) for (text,) in self._query(query, (key,))]
        _append_jsonl(self.run_dir / "transcript.jsonl", messages)
        if kind == "audit":
            _append_jsonl(self.run_dir / "privacy.jsonl", payload["extra"])


def lock_run_dir(run_dir: Path, *, shared: bool = False) -> IO[bytes] | None:
    """An open, locked ``results.lock``; closing it (or the process ending) releases the lock."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one writer is the user's business
        return None
    path = run_dir / LOCK_FILE
    try:
        handle = path.open("ab")
    except OSError as exc:
        raise UserError(f"{path}: cannot create the lock file ({_why(exc)})") from exc
    try:
        fcntl.flock(handle, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise UserError(
            f"{run_dir}: another sociallearn process is writing this run directory; wait for "
            "it to finish or use --out for a new directory (audit shards --shard K/N may "
            "share one)"
        ) from None
    return handle


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _export_keys(path: Path, kind: str) -> set[str]:
    """Store keys of the units an export lists (a line that does not parse is skipped)."""
    keys: set[str] = set()
    try:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    unit = json.loads(line).get("unit")
                except (ValueError, AttributeError):
                    continue  # a torn last line after a crash: the rewrite repairs it
                if isinstance(unit, str):
                    keys.add(f"audit/{unit}" if kind == "audit" else unit)
    except FileNotFoundError:
        return set()
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({_why(exc)})") from exc
    return keys


def write_export(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    after = "the store is unchanged, rerun to write it again"
    write_jsonl(path, rows, doing="cannot write the export", after=after)


def _append_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    try:
        with path.open("a", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise UserError(
            f"{path}: cannot append to the export ({_why(exc)}); the unit is stored, rerun "
            "to resume (the export is rewritten then)"
        ) from exc


def read_export(path: Path) -> list[dict[str, Any]]:
    """An export's rows; a line cut short by a crash is skipped."""
    return read_jsonl(path, lenient=True) if path.exists() else []
