"""Task names -> tasks, and a task -> its data, split into a teacher pool and a test set.

Data is looked for in this order, and the first place that has it wins:
1. an explicit ``data_file`` (a JSONL/CSV/TSV file or a folder of them);
2. ``data_dir`` or the ``SOCIALLEARN_DATA_DIR`` variable, in the shared-datasets layout;
3. a registry package that ships it (SMS spam) or the seeded generator (Random Insertion);
4. the Hugging Face hub, only when ``datasets`` is installed and the hub is not switched off.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from sociallearn.errors import DataError, UserError
from sociallearn.registry import Registry
from sociallearn.tasks.base import DataSource, Task, TaskData
from sociallearn.tasks.builtin import BUILTIN_TASKS
from sociallearn.tasks.datasets import BUILTIN_DATA, DatasetSpec
from sociallearn.tasks.readers import FieldMap
from sociallearn.tasks.sources import HubSource, LocalFileSource
from sociallearn.tasks.splits import SplitPolicy, split_examples, to_task_data
from sociallearn.tasks.user_task import UserTaskSpec, load_user_task

DATA_DIR_ENV = "SOCIALLEARN_DATA_DIR"
YAML_SUFFIXES = (".yaml", ".yml")

tasks: Registry[Task] = Registry("task")
for _task in BUILTIN_TASKS:
    tasks.register(_task.name, lambda t=_task: t)

# User tasks loaded from YAML, so that load_task_data(task) finds their data file again.
_user_specs: dict[Task, UserTaskSpec] = {}


def task_names() -> list[str]:
    """Names accepted by :func:`get_task` (besides paths to YAML files)."""
    return tasks.names()


def get_task(name: str) -> Task:
    """A built-in task by name, or a user task from a ``.yaml``/``.yml`` file."""
    if name.lower().endswith(YAML_SUFFIXES):
        spec = load_user_task(Path(name))
        _user_specs[spec.task] = spec
        return spec.task
    if name not in tasks:
        raise UserError(tasks.unknown_message(name) + ", or a path to a task .yaml file")
    return tasks.create(name)


def load_task_data(
    task: Task | str,
    *,
    data_dir: Path | None = None,
    data_file: Path | None = None,
    test_size: int | None = None,
    seed: int = 0,
) -> TaskData:
    """The teacher pool (train split only) and a disjoint test set ordered by ``seed``.

    ``test_size`` None means the task's default: 500 balanced items for SMS spam, the whole test
    split where the source has one, 1,000 items cut from a single-split source. Callers apply a
    ``--limit`` by taking the first items of ``test``.
    """
    if isinstance(task, str):
        task = get_task(task)
    user = _user_specs.get(task)
    if user is not None:
        source: DataSource = LocalFileSource(
            data_file or user.data,
            user.fieldmap,
            dataset=task.name,
            multiline=task.multiline_fields,
        )
        return _split(task, source, user.policy, test_size, seed)
    spec = BUILTIN_DATA.get(task.name)
    if spec is None:
        return _load_custom(task, data_file, test_size, seed)
    source = resolve_source(task, spec, data_dir=data_dir, data_file=data_file)
    return _split(task, source, spec.policy, test_size, seed)


def _split(
    task: Task, source: DataSource, policy: SplitPolicy, test_size: int | None, seed: int
) -> TaskData:
    result = split_examples(task, source.load(), policy, test_size=test_size, seed=seed)
    return to_task_data(result, source.describe(), seed)


def _load_custom(task: Task, data_file: Path | None, test_size: int | None, seed: int) -> TaskData:
    # A Task built in Python: columns named like its template fields, plus "target".
    if data_file is None:
        raise DataError(
            f"{task.name}: no data for this task; give a data file (--data-file) whose columns are "
            f"{', '.join((*task.field_names, 'target'))}"
        )
    fieldmap = FieldMap(
        fields={f: f for f in task.field_names},
        target="target",
        labels=task.labels if task.parser.kind == "choice" else (),
    )
    source = LocalFileSource(
        data_file, fieldmap, dataset=task.name, multiline=task.multiline_fields
    )
    return _split(task, source, SplitPolicy(), test_size, seed)


def data_dir_from_env() -> Path | None:
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(value).expanduser() if value else None


def resolve_source(
    task: Task,
    spec: DatasetSpec,
    *,
    data_dir: Path | None = None,
    data_file: Path | None = None,
) -> DataSource:
    """The first place that has the task's data, in the module docstring's order."""
    multiline = task.multiline_fields
    if data_file is not None:
        return LocalFileSource(
            data_file,
            spec.fieldmap,
            dataset=spec.key,
            multiline=multiline,
            headerless=spec.headerless,
            headerless_when=spec.headerless_when,
        )
    folder, option = (
        (data_dir, "--data-dir") if data_dir is not None else (data_dir_from_env(), DATA_DIR_ENV)
    )
    looked: list[str] = []
    if folder is not None:
        if not folder.is_dir():
            raise DataError(f"{option} {folder}: folder not found")
        candidate = folder / spec.key
        if any((candidate / f).is_file() for f in spec.files):
            return LocalFileSource(
                candidate, spec.fieldmap, dataset=spec.key, names=spec.files, multiline=multiline
            )
        looked.append(f"{folder}/{spec.local_paths()}")
    if spec.package is not None:
        if spec.package.available():
            return dataclasses.replace(spec.package, multiline=multiline)
        looked.append(f"package {spec.package.distribution}")
    if spec.generated is not None:
        return spec.generated
    if spec.hub is not None and HubSource.usable():
        return dataclasses.replace(spec.hub, multiline=multiline)
    where = f" (looked in: {'; '.join(looked)})" if looked else ""
    hint = spec.install_hint()
    raise DataError(
        f"{task.name}: dataset {spec.key!r} not found{where}; pass --data-dir DIR holding "
        f"{spec.local_paths()}, or set {DATA_DIR_ENV}" + (f", or {hint}" if hint else "")
    )


@dataclass(frozen=True)
class TaskInfo:
    """One row of ``sociallearn tasks``."""

    name: str
    format: str  # one example with <placeholders>
    labels: tuple[str, ...]
    source: str  # where the data comes from, in resolution order
    parser: str
    description: str


def _data_description(spec: DatasetSpec) -> str:
    parts = [f"--data-dir/{DATA_DIR_ENV}: {spec.local_paths()}"]
    if spec.package is not None:
        parts.append(spec.package.describe())
    if spec.generated is not None:
        parts.append(spec.generated.describe())
    if spec.hub is not None:
        parts.append(spec.hub.describe() + " (optional, online)")
    return "; else ".join(parts)


def format_example(task: Task) -> str:
    """The task's format with ``<field>`` placeholders, e.g. ``Text: <text>\\nClass: <target>``."""
    fields = {name: f"<{name}>" for name in task.field_names}
    return task.input_template.format(**fields) + task.target_template.format(target="<target>")


def describe_tasks() -> list[TaskInfo]:
    """The built-in tasks, for the ``sociallearn tasks`` command."""
    out: list[TaskInfo] = []
    for name in task_names():
        task = get_task(name)
        spec = BUILTIN_DATA.get(name)
        parser = task.parser.kind + (
            f" (marker {task.parser.marker!r})" if task.parser.marker else ""
        )
        out.append(
            TaskInfo(
                name=name,
                format=format_example(task),
                labels=task.labels,
                source=_data_description(spec) if spec else task.source or "user data file",
                parser=parser,
                description=task.description,
            )
        )
    return out
