"""One writer per prompt format; each checks its output with the format's own rule first."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sociallearn.export.inspect_task import file_constants, inspect_input, inspect_task_file
from sociallearn.export.lm_eval import lm_eval_config, lm_eval_context, lm_eval_continuations
from sociallearn.export.parts import PromptParts, decompose, evaluated_items, item_docs
from sociallearn.export.prompt_json import json_input, prompt_document
from sociallearn.export.source import UnitPrompt
from sociallearn.tasks.base import Example
from sociallearn.teaching.prompting import label_continuation, query_prompt


class ExportCheckError(Exception):
    """An export would not reproduce the student's prompt (a bug, never a user error)."""


@dataclass(frozen=True)
class Options:
    run_dir: Path
    out_dir: Path
    data_dir: Path | None


def _check(unit: UnitPrompt, what: str, items: list[Example], rendered: list[str]) -> None:
    """Each item's input by the format's rule must be the student's input for it."""
    for item, got in zip(items, rendered, strict=True):
        expected = query_prompt(unit.prompt, unit.task, item)
        if got != expected:
            raise ExportCheckError(
                f"{what} export of {unit.key} renders item {item.uid} differently from the "
                f"student: {got[-80:]!r} vs {expected[-80:]!r}"
            )


def _write_text(unit: UnitPrompt, options: Options) -> list[Path]:
    path = options.out_dir / f"{unit.slug}.txt"
    path.write_bytes(unit.prompt.encode("utf-8"))  # bytes: no newline translation
    if path.read_bytes().decode("utf-8") != unit.prompt:
        raise ExportCheckError(f"text export of {unit.key} does not read back")
    return [path]


def _write_json(unit: UnitPrompt, options: Options) -> list[Path]:
    document = prompt_document(unit, decompose(unit))
    path = options.out_dir / f"{unit.slug}.json"
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    loaded = json.loads(path.read_text(encoding="utf-8"))
    probe = Example(dict.fromkeys(unit.task.field_names, "probe"), "", uid="probe")
    _check(unit, "json", [probe], [json_input(loaded, probe.fields)])
    return [path]


def _write_docs(unit: UnitPrompt, options: Options) -> tuple[Path, list[Example]]:
    items = evaluated_items(unit, options.run_dir, options.data_dir)
    path = options.out_dir / f"{unit.slug}.docs.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for doc in item_docs(unit, items):
            handle.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return path, items


def _write_lm_eval(unit: UnitPrompt, options: Options) -> list[Path]:
    docs_path, items = _write_docs(unit, options)
    parts = decompose(unit)
    # Few-shot samples when they reproduce the prompt under lm-eval's rules, else the whole
    # prompt as the description (lm-eval reads a target like "3" or "[...]" as a literal).
    try:
        text, config = _lm_eval_yaml(unit, parts, docs_path, items, fewshot=True)
    except ExportCheckError:
        text, config = _lm_eval_yaml(unit, parts, docs_path, items, fewshot=False)
    if config["output_type"] == "multiple_choice":
        expected = [label_continuation(unit.task, label) for label in unit.task.labels]
        if lm_eval_continuations(config) != expected:
            raise ExportCheckError(f"lm-eval export of {unit.key} scores other continuations")
    path = options.out_dir / f"{unit.slug}.yaml"
    header = f"# lm-evaluation-harness task exported by sociallearn: unit {unit.key}\n"
    path.write_text(header + text, encoding="utf-8")
    return [path, docs_path]


def _lm_eval_yaml(
    unit: UnitPrompt,
    parts: PromptParts | None,
    docs_path: Path,
    items: list[Example],
    fewshot: bool,
) -> tuple[str, dict[str, Any]]:
    """The YAML text and the config it loads back as, checked on every item."""
    import yaml

    config = lm_eval_config(unit, parts, str(docs_path.resolve()), fewshot=fewshot)
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=2**31)
    loaded: dict[str, Any] = yaml.safe_load(text)
    docs = item_docs(unit, items)
    _check(unit, "lm-eval", items, [lm_eval_context(loaded, doc) for doc in docs])
    return text, loaded


def _write_inspect(unit: UnitPrompt, options: Options) -> list[Path]:
    docs_path, items = _write_docs(unit, options)
    name = "sociallearn_" + unit.slug.replace("-", "_").replace(".", "_")
    path = options.out_dir / f"{name}.py"
    source = inspect_task_file(unit, str(options.run_dir), path.name, docs_path.name)
    constants = file_constants(source)
    docs = item_docs(unit, items)
    _check(unit, "inspect", items, [inspect_input(constants, doc) for doc in docs])
    path.write_text(source, encoding="utf-8")
    return [path, docs_path]


WRITERS: dict[str, Callable[[UnitPrompt, Options], list[Path]]] = {
    "text": _write_text,
    "json": _write_json,
    "lm-eval": _write_lm_eval,
    "inspect": _write_inspect,
}
