"""Which data a run directory's units were computed on: bound per task, like the config.

The config fingerprint covers the settings, not the examples. A data file edited in place, or a
task whose data now come from another source (the folder named by ``--data-dir`` lacks it and
a registry package stands in, ``SOCIALLEARN_DATA_DIR`` points elsewhere), would resume under
the same fingerprint and put units of two datasets in one table. So each task's examples (the
teachers' pool and the test set, as split) are hashed; the digest is bound in the store with
the task's first stored unit and checked before any unit of that task runs again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sociallearn.errors import DataError

if TYPE_CHECKING:
    from sociallearn.experiment.store import ResultsStore
    from sociallearn.experiment.workbench import Workbench
    from sociallearn.tasks.base import TaskData

_PREFIX = "data:"


def task_digest(data: TaskData) -> str:
    """Hash of one task's examples: ids, fields, targets, in the order the split gives them."""
    digest = hashlib.sha256()
    for part in (data.pool, data.test):
        rows = [[e.uid, dict(e.fields), e.target, e.verbatim] for e in part]
        digest.update(json.dumps(rows, sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


def bind_key(task: str) -> str:
    """The store's meta key that holds ``task``'s digest."""
    return f"{_PREFIX}{task}"


def check_data(store: ResultsStore, bench: Workbench, tasks: Iterable[str]) -> dict[str, str]:
    """The digest of each of ``tasks``' data, keyed by :func:`bind_key`, for the units to bind.

    Raises :class:`DataError` when the directory holds units of a task computed on other data.
    Directories made before digests were kept have none bound: their next unit binds it. The
    digests and where the data came from are written to ``run.json`` (its ``data`` entry), so
    ``recover`` binds them again in a rebuilt store, and a carry keeps them.
    """
    bound: Mapping[str, str] = store.bound(_PREFIX)
    digests: dict[str, str] = {}
    recorded: dict[str, dict[str, str]] = {}
    for task in sorted(set(tasks)):
        data = bench.data(task)
        key, now = bind_key(task), task_digest(data)
        then = bound.get(key)
        if then is not None and then != now:
            raise DataError(
                f"{store.run_dir}: its {task} units were computed on other data (digest {then}); "
                f"{task}'s data now hash to {now} ({data.origin}): a data file was edited or "
                "the data come from another source; put back the data the run used, or use "
                "--out for a new directory"
            )
        digests[key] = now
        recorded[task] = {"digest": now, "origin": data.origin}
    if recorded:
        _record(store.run_dir / "run.json", recorded)
    return digests


def recorded_binding(
    manifest: Mapping[str, Any], unit: str, *, audit: bool = False
) -> dict[str, str]:
    """What a stored unit binds, from the data digests ``run.json`` records (none if absent).

    ``unit``: a grid unit's key, or an audit run's (one more part: its template).
    """
    task = unit.rsplit("/", 5 if audit else 4)[0]
    data = manifest.get("data")
    entry = data.get(task) if isinstance(data, dict) else None
    digest = entry.get("digest") if isinstance(entry, dict) else None
    return {bind_key(task): digest} if isinstance(digest, str) else {}


def _record(manifest_path: Path, recorded: Mapping[str, dict[str, str]]) -> None:
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # no manifest to add to (a library call that wrote none): the store binds anyway
    previous = manifest.get("data")
    manifest["data"] = {**(previous if isinstance(previous, dict) else {}), **recorded}
    manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
