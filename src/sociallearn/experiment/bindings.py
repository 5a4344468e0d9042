"""What a run directory's units were computed from, bound like the config: each task's data and
each local model file.

The config fingerprint covers the settings, not the inputs they name. A data file edited in
place, a task whose data now come from another source (the folder named by ``--data-dir`` lacks
it and a registry package stands in, ``SOCIALLEARN_DATA_DIR`` points elsewhere), or a GGUF
replaced at the same path (another quantisation, an updated embedded-model package) would
resume under the same fingerprint and put units of two datasets or two models in one table.
So each task's examples (the teachers' pool and the test set, as split) and each local model
(a GGUF file, a transformers directory) are hashed, as is what an OpenAI-compatible server lists
as its model; the digests are bound in the store with the first unit stored under them and
checked before any unit runs again. ``run.json`` records them,
so ``recover`` binds a rebuilt store again and a carry keeps them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sociallearn.errors import DataError
from sociallearn.jsonl import write_text_atomic

if TYPE_CHECKING:
    from sociallearn.experiment.config import ExperimentConfig
    from sociallearn.experiment.store import ResultsStore
    from sociallearn.experiment.workbench import Workbench
    from sociallearn.tasks.base import TaskData

_DATA = "data:"
_MODEL = "model:"
_AGAIN = "put back the {what} the run used, or use --out for a new directory"


def task_digest(data: TaskData) -> str:
    """Hash of one task's examples: ids, fields, targets, in the order the split gives them."""
    digest = hashlib.sha256()
    for part in (data.pool, data.test):
        rows = [[e.uid, dict(e.fields), e.target, e.verbatim] for e in part]
        digest.update(json.dumps(rows, sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class ModelWeights:
    """What a role's model was computed with, where it can be seen."""

    key: str  # what the store binds it under: the spec without its folder, a server's model id
    spec: str  # as written (older versions bound a local model under it)
    where: str  # the file, directory or server URL(s), named in refusals and in run.json
    digest: str
    served: bool  # a server's list entry (its weights are not seen), not the bytes themselves


def model_weights(config: ExperimentConfig) -> list[ModelWeights]:
    """The weights of each role's model, where they can be seen: a GGUF run by llama.cpp or
    read by transformers, a transformers directory or a hub id's snapshot in the local hub cache
    (their bytes), or what an OpenAI-compatible server lists as its model (a hub id not cached,
    and a server without a model list, are not seen)."""
    from sociallearn.experiment.config import portable_spec
    from sociallearn.models.embedded import resolve_model_path
    from sociallearn.models.file_digest import model_digest
    from sociallearn.models.hf import resolve_local_model
    from sociallearn.models.registry import create_model, split_spec

    seen: dict[str, ModelWeights] = {}
    roles = [("teacher", config.teacher_spec(), config.teacher_options())]
    roles.append(("student", config.student_spec(), config.student_options()))
    for role, spec, options in roles:
        provider, name = split_spec(spec)
        path: Path | None = None
        if provider == "llamacpp":
            path = resolve_model_path(name)[0]
        elif provider == "hf":
            path = resolve_local_model(name)
        elif provider == "openai":
            model = create_model(spec, **options)  # no request yet: the list is asked below
            digest = getattr(model, "content_digest", None)
            if digest is not None:
                where = str(getattr(model, "base_url", name))
                key = model.model_id
                seen[key] = ModelWeights(key, spec, where, digest, served=True)
        if path is not None:
            # Keyed without the folder, as the fingerprint names it: the same file elsewhere
            # resumes (checked by its digest here).
            key = portable_spec(spec)
            if key in seen and seen[key].where != str(path):
                key += f" ({role})"  # two files of one name: each role's is bound
            seen[key] = ModelWeights(key, spec, str(path), model_digest(path), served=False)
    return list(seen.values())


@dataclass(frozen=True)
class Bindings:
    """The digests this start computes under: each task's data and each local model file."""

    data: Mapping[str, str]  # task -> digest
    models: Mapping[str, str]  # ModelWeights.key -> digest

    def for_unit(self, task: str) -> dict[str, str]:
        """The store meta values a unit of ``task`` binds (see ``ResultsStore.save``)."""
        return {
            _DATA + task: self.data[task],
            **{_MODEL + spec: digest for spec, digest in self.models.items()},
        }


def check_inputs(
    store: ResultsStore, config: ExperimentConfig, bench: Workbench, tasks: Iterable[str]
) -> Bindings:
    """The digests the units of ``tasks`` will bind; refuses inputs the directory's units were
    not computed from.

    Raises :class:`DataError` when the directory holds units of a task computed on other data,
    or units computed with other weights at a model's path. Directories made before digests were
    kept have none bound: their next unit binds them. The digests go to ``run.json``.
    """
    names = sorted(set(tasks))
    if not names:
        return Bindings({}, {})  # nothing will be computed
    inputs = _inputs(store.run_dir, store.bound(""), config, bench, names)
    if inputs.changes:
        raise DataError(inputs.changes[0])
    _record(store.run_dir / "run.json", {"data": inputs.data, "models": inputs.models})
    return inputs.bindings


def changed_inputs(config: ExperimentConfig, bench: Workbench, tasks: Iterable[str]) -> list[str]:
    """What :func:`check_inputs` would refuse in ``config.run_dir`` for ``tasks``, one line per
    changed input, read without writing (for ``--dry-run``)."""
    from sociallearn.experiment.store import stored_meta

    names = sorted(set(tasks))
    if not names:
        return []
    bound = {k: v for k, v in stored_meta(config.run_dir).items() if k.startswith((_DATA, _MODEL))}
    return list(_inputs(config.run_dir, bound, config, bench, names).changes)


@dataclass(frozen=True)
class _Inputs:
    bindings: Bindings
    data: dict[str, dict[str, str]]  # task -> digest and origin, for run.json
    models: dict[str, dict[str, str]]  # key -> digest and path (or server), for run.json
    changes: tuple[str, ...]  # one line per input that differs from what ``bound`` holds


def _inputs(
    run_dir: Path,
    bound: Mapping[str, str],
    config: ExperimentConfig,
    bench: Workbench,
    names: list[str],
) -> _Inputs:
    changes: list[str] = []
    data: dict[str, str] = {}
    recorded: dict[str, dict[str, str]] = {}
    for task in names:
        task_data = bench.data(task)
        now, then = task_digest(task_data), bound.get(_DATA + task)
        if then is not None and then != now:
            changes.append(
                f"{run_dir}: its {task} units were computed on other data (digest {then}); "
                f"{task}'s data now hash to {now} ({task_data.origin}): a data file was edited "
                "or the data come from another source; " + _AGAIN.format(what="data")
            )
        data[task] = now
        recorded[task] = {"digest": now, "origin": task_data.origin}
    models: dict[str, str] = {}
    files: dict[str, dict[str, str]] = {}
    for weights in model_weights(config):
        now = weights.digest
        then = bound.get(_MODEL + weights.key, bound.get(_MODEL + weights.spec))
        if then is not None and then != now and weights.served:
            changes.append(
                f"{run_dir}: its units were computed with another model at {weights.where} "
                f"(its model list's digest {then}; now {now}): the server serves another "
                "model; " + _AGAIN.format(what="model")
            )
        elif then is not None and then != now:
            changes.append(
                f"{run_dir}: its units were computed with other weights at {weights.where} "
                f"(digest {then}; they now hash to {now}): the model was replaced; "
                + _AGAIN.format(what="model file")
            )
        models[weights.key] = now
        place = "server" if weights.served else "path"
        files[weights.key] = {"digest": now, place: weights.where}
    return _Inputs(Bindings(data, models), recorded, files, tuple(changes))


def recorded_binding(
    manifest: Mapping[str, Any], unit: str, *, audit: bool = False
) -> dict[str, str]:
    """What a stored unit binds, from the digests ``run.json`` records (none where absent).

    ``unit``: a grid unit's key, or an audit run's (one more part: its template).
    """
    task = unit.rsplit("/", 5 if audit else 4)[0]
    out: dict[str, str] = {}
    for entry, prefix, names in (("data", _DATA, [task]), ("models", _MODEL, None)):
        table = manifest.get(entry)
        if not isinstance(table, dict):
            continue
        for name in names if names is not None else list(table):
            item = table.get(name)
            if isinstance(item, dict) and isinstance(item.get("digest"), str):
                out[prefix + name] = item["digest"]
    return out


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """``run_dir``'s ``run.json``; empty where it is missing or not a JSON object."""
    try:
        manifest = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _record(manifest_path: Path, entries: Mapping[str, Mapping[str, dict[str, str]]]) -> None:
    manifest = read_manifest(manifest_path.parent)
    if not manifest:
        return  # no manifest to add to (a library call that wrote none): the store binds anyway
    for name, recorded in entries.items():
        previous = manifest.get(name)
        manifest[name] = {**(previous if isinstance(previous, dict) else {}), **recorded}
    write_text_atomic(manifest_path, json.dumps(manifest, indent=2), mode=0o644)
