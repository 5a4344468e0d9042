"""Rebuilding a run directory's store from its exports or a carry (``sociallearn recover``).

The store is the authoritative copy; its exports hold every stored unit too (rows, transcripts,
audit rows), and ``run.json`` the fingerprint and the digests of each task's data and each
model file (:mod:`.bindings`), so a store that is lost, emptied or corrupt can be rebuilt from
them with the same bindings.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sociallearn.errors import DataError, UserError
from sociallearn.experiment.bindings import read_manifest, recorded_binding
from sociallearn.experiment.store import (
    STORE_FILE,
    ResultsStore,
    lock_run_dir,
    read_export,
    write_export,
)


def _healthy(run_dir: Path) -> bool:
    try:
        store = ResultsStore(run_dir, check=False)
    except UserError:
        return False
    try:
        store.check_exports()
    except UserError:
        return False
    finally:
        store.close()
    return True


def rebuild_from_exports(run_dir: Path, data_dir: Path | None = None) -> tuple[int, Path | None]:
    """Rebuild ``results.sqlite`` from the exports; returns (units stored, old store kept as).

    Results come from ``results.jsonl`` and audit runs from ``privacy.jsonl``; each unit's
    messages are the transcript block that carries its name (blocks are in the order units
    finished, like the rows; a unit listed twice keeps its last row and its last block). The
    old store, if any, is moved aside, never deleted. Rows of a carry (``--format carry``) get
    their labels back from the run's data (``data_dir``), and ``results.jsonl`` is rewritten
    with them.
    """
    from sociallearn.export.carry import is_carried, restore_labels

    results = {r["unit"]: r for r in read_export(run_dir / "results.jsonl") if "unit" in r}
    relabel = any(is_carried(row) for row in results.values())
    if relabel:
        # Before anything is moved: a carry that does not match the data changes nothing.
        results = restore_labels(results, run_dir, data_dir)
    privacy = {r["unit"]: r for r in read_export(run_dir / "privacy.jsonl") if "unit" in r}
    if not results and not privacy:
        raise DataError(
            f"{run_dir}: no results.jsonl or privacy.jsonl rows to rebuild the store from"
        )
    blocks: dict[str, list[list[dict[str, Any]]]] = {}
    previous: str | None = None
    for message in read_export(run_dir / "transcript.jsonl"):
        unit = str(message.get("unit", ""))
        if unit != previous:
            blocks.setdefault(unit, []).append([])
            previous = unit
        blocks[unit][-1].append(message)

    def take(unit: str, *, last: bool = True) -> list[dict[str, Any]]:
        # A unit listed twice (exports concatenated by hand) keeps its last row, as ``results``
        # does, so it keeps its last block too: the messages of the row it keeps.
        queue = blocks.get(unit)
        return queue.pop(-1 if last else 0) if queue else []

    lock = lock_run_dir(run_dir)  # no writer may use the store while it is replaced
    try:
        kept: Path | None = None
        old = run_dir / STORE_FILE
        if old.exists() and _healthy(run_dir):
            # Replacing a good store would lose units committed but not yet exported.
            raise UserError(
                f"{old}: readable and holds every unit the exports list; nothing to recover"
            )
        if old.exists():
            kept = run_dir / f"{STORE_FILE}.broken-{time.strftime('%Y%m%d-%H%M%S')}"
            old.replace(kept)
            for suffix in ("-wal", "-shm"):  # they belong to the old file: keep them with it
                if Path(f"{old}{suffix}").exists():
                    Path(f"{old}{suffix}").replace(f"{kept}{suffix}")
        store = ResultsStore(run_dir, check=False)
        manifest = read_manifest(run_dir)
        try:
            config = (run_dir / "config.yaml").read_text(encoding="utf-8")
            if manifest:
                store._fingerprint, store._config = manifest.get("fingerprint"), config
        except OSError:
            pass  # the first run to resume binds them
        try:
            for unit, row in results.items():
                # Each unit binds its task's data and the model files again, as when computed.
                store.save(unit, row, take(unit), bind=recorded_binding(manifest, unit))
            for unit, row in privacy.items():
                # Transcripts name an audit run in full; older ones named it by its teaching key
                # alone, which the run's templates share, so their blocks are taken in order.
                messages = take(unit) or take(unit.rsplit("/", 1)[0], last=False)
                bind = recorded_binding(manifest, unit, audit=True)
                store.save(f"audit/{unit}", {"unit": unit}, messages, "audit", [row], bind)
        finally:
            store.close()
        if relabel:
            write_export(run_dir / "results.jsonl", list(results.values()))
    finally:
        if lock is not None:
            lock.close()
    return len(results) + len(privacy), kept
