"""A learned prompt taken apart into instruction and examples, and the items it was evaluated on.

Harness formats (lm-eval) describe a prompt as a description plus few-shot samples. A learned
prompt is split back into those only when rendering the parts with sociallearn's own
:class:`~sociallearn.teaching.curriculum.Curriculum` gives the recorded text character for
character; otherwise the exporters carry the prompt whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sociallearn.errors import ConfigError, DataError
from sociallearn.export.source import UnitPrompt
from sociallearn.tasks.base import Example
from sociallearn.teaching.curriculum import Curriculum

if TYPE_CHECKING:
    from sociallearn.experiment.workbench import Workbench


@dataclass(frozen=True)
class PromptParts:
    """``Curriculum(instruction, examples).render(task)`` equals the learned prompt exactly."""

    instruction: str | None
    examples: tuple[Example, ...]


def decompose(unit: UnitPrompt) -> PromptParts | None:
    """Instruction and examples whose rendering is the learned prompt, or None when none found."""
    task, prompt = unit.task, unit.prompt
    instruction = unit.row.get("instruction")
    instruction = instruction if isinstance(instruction, str) and instruction.strip() else None
    rest = prompt
    if instruction is not None:
        head = instruction.strip() + task.separator
        if not prompt.startswith(head):
            return None
        rest = prompt[len(head) :]
    examples = tuple(task.parse_examples(rest)) if rest else ()
    parts = PromptParts(instruction, examples)
    if Curriculum(instruction, examples).render(task) != prompt:
        return None
    return parts


def instruction_head(parts: PromptParts, unit: UnitPrompt) -> str:
    """The rendered instruction block that precedes the examples (empty without instruction)."""
    if parts.instruction is None:
        return ""
    return parts.instruction.strip() + unit.task.separator


def evaluated_items(unit: UnitPrompt, run_dir: Path, data_dir: Path | None = None) -> list[Example]:
    """The test items the unit was evaluated on, in order, loaded as the run loaded them.

    The items' ids are checked against the unit's predictions, so data that changed since the
    run is refused rather than exported under the run's name.
    """
    return items_of_row(unit.row, run_workbench(run_dir, data_dir), run_dir)


def run_workbench(run_dir: Path, data_dir: Path | None = None) -> Workbench:
    """A workbench that loads task data as the run in ``run_dir`` did (its ``config.yaml``)."""
    from sociallearn.experiment.config import load_config
    from sociallearn.experiment.workbench import Workbench

    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise DataError(f"{config_path}: not found; the test items cannot be loaded without it")
    overrides = {"data_dir": data_dir} if data_dir is not None else {}
    config = load_config(config_path, overrides)
    if data_dir is None and config.data_dir is not None and not config.data_dir.is_dir():
        # The run wrote the path as it was given, relative to where it ran; read back, it is
        # relative to the config's folder, which is seldom the same place.
        raise ConfigError(
            f"{config_path}: data_dir {config.data_dir}: folder not found from here; point "
            "--data-dir at the run's data"
        )
    return Workbench(config)


def items_of_row(row: dict[str, Any], bench: Workbench, run_dir: Path) -> list[Example]:
    """The test items a result row was evaluated on, checked against its predictions' ids."""
    spec = row.get("task_spec") or row.get("task")
    config = bench.config
    data = bench.data(str(spec))
    items = list(data.test[: config.limit] if config.limit else data.test)
    predictions = row.get("predictions") or []
    expected = [p.get("uid") for p in predictions if isinstance(p, dict)]
    got = [e.uid for e in items]
    if expected and expected != got[: len(expected)]:
        raise ConfigError(
            f"{run_dir}: unit {row.get('unit')!r}: the test items loaded now (first {got[:2]}) "
            f"are not the ones evaluated (first {expected[:2]}); point --data-dir at the run's "
            "data"
        )
    return items[: len(expected)] if expected else items


RESERVED_KEYS = ("target", "uid", "label_index")


def item_docs(unit: UnitPrompt, items: list[Example]) -> list[dict[str, object]]:
    """Evaluated items as flat documents: the task's fields, ``target`` (the gold answer),
    ``uid`` and, for a task with labels, ``label_index`` (its index in the labels)."""
    task = unit.task
    clash = [name for name in task.field_names if name in RESERVED_KEYS]
    if clash:
        raise ConfigError(
            f"task {task.name!r}: field {clash[0]!r} clashes with a column the export adds "
            f"({', '.join(RESERVED_KEYS)}); rename the field in the task"
        )
    docs: list[dict[str, object]] = []
    for item in items:
        gold = task.gold(item)
        doc: dict[str, object] = {
            **item.fields,
            "target": gold if gold is not None else item.target,
        }
        doc["uid"] = item.uid
        if task.labels:
            # An unparseable gold gets an index past the labels: never correct, as in sociallearn.
            doc["label_index"] = (
                task.labels.index(gold) if gold in task.labels else len(task.labels)
            )
        docs.append(doc)
    return docs
