"""The learned prompt as JSON: the text, its parts and the rule that renders a query with it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sociallearn.export.parts import PromptParts
from sociallearn.export.source import UnitPrompt
from sociallearn.teaching.prompting import content_free_example, label_continuation

FORMAT = "sociallearn-prompt/1"
_ROW_FIELDS = (
    "task",
    "task_spec",
    "method",
    "n",
    "aggregator",
    "seed",
    "student_model",
    "teacher_model",
    "answer_mode",
    "calibrated",
    "accuracy",
    "n_items",
    "contains_private",
)


def prompt_document(unit: UnitPrompt, parts: PromptParts | None) -> dict[str, Any]:
    """Everything needed to rebuild the student's input for any item, without sociallearn."""
    task = unit.task
    score = unit.row.get("answer_mode") == "score" and bool(task.labels)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "unit": unit.key,
        **{name: unit.row.get(name) for name in _ROW_FIELDS},
        "prompt": unit.prompt,
        "instruction": parts.instruction if parts else None,
        "examples": (
            [{"fields": dict(e.fields), "target": e.target} for e in parts.examples]
            if parts
            else None
        ),
        "query": {
            "input_template": task.input_template,
            "fields": list(task.field_names),
            "target_template": task.target_template,
            "separator": task.separator,
            "labels": list(task.labels),
            "stop": list(task.stop_sequences()),
            "max_tokens": task.answer_max_tokens,
        },
        "rendering": "prompt + query.input_template.format(**fields)",
    }
    if score:
        doc["scoring"] = {
            "rule": "argmax over labels of log P(continuation | prompt + query)",
            "continuations": {label: label_continuation(task, label) for label in task.labels},
        }
        if unit.row.get("calibrated"):
            doc["scoring"]["calibration"] = {
                "rule": "subtract each label's log-prob after the content-free query",
                "content_free_fields": dict(content_free_example(task).fields),
            }
    return doc


def json_input(document: Mapping[str, Any], fields: Mapping[str, str]) -> str:
    """A query's input by the document's rule (``rendering``)."""
    return str(document["prompt"]) + str(document["query"]["input_template"]).format(**fields)
