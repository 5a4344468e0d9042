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
from typing import TYPE_CHECKING

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
    Directories made before digests were kept have none bound: their next unit binds it.
    """
    bound: Mapping[str, str] = store.bound(_PREFIX)
    digests: dict[str, str] = {}
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
    return digests
