"""An lm-evaluation-harness task YAML that reproduces the student's prompt.

lm-eval (0.4.x, plain text, no chat template) builds a context as::

    description + Σ(doc_to_text(shot) + target_delimiter + doc_to_target(shot) + fewshot_delimiter)
                + doc_to_text(doc)

The learned examples become ``fewshot_config.samples`` (sampler ``first_n``, so their order is
kept), the instruction becomes the ``description`` and the task's templates become
``doc_to_text``/``doc_to_target``. When the prompt cannot be split into examples that re-render
exactly (e.g. a canary written verbatim), the whole prompt is the description and
``num_fewshot`` is 0. :func:`lm_eval_requests` applies lm-eval's rules; every export is checked
with it against the student's rendering of each evaluated item before it is written.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any

from sociallearn.errors import CapabilityError
from sociallearn.export import jinja
from sociallearn.export.answers import answer_regex
from sociallearn.export.parts import PromptParts, instruction_head
from sociallearn.export.source import UnitPrompt

Doc = dict[str, Any]


def target_split(template: str) -> tuple[str, str] | None:
    """``target_template`` as (text before ``{target}``, text after), if it has one slot."""
    if template.count("{target}") != 1 or template.replace("{target}", "").count("{") > 0:
        return None
    before, _, after = template.partition("{target}")
    return before, after


def lm_eval_config(
    unit: UnitPrompt, parts: PromptParts | None, docs_file: str, fewshot: bool = True
) -> dict[str, Any]:
    """The task config (a YAML mapping); ``fewshot=False`` puts the whole prompt in the
    description."""
    task = unit.task
    split = target_split(task.target_template)
    if split is None:
        raise CapabilityError(
            f"task {task.name!r}: target_template {task.target_template!r} needs exactly one "
            "{target} slot to be written as lm-eval's target_delimiter"
        )
    delimiter, suffix = split
    score = unit.row.get("answer_mode") == "score" and bool(task.labels)
    use_shots = fewshot and parts is not None and bool(parts.examples)
    description = instruction_head(parts, unit) if use_shots and parts else unit.prompt
    config: dict[str, Any] = {
        "task": "sociallearn_" + unit.slug,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": docs_file}},
        "test_split": "test",
        "output_type": "multiple_choice" if score else "generate_until",
        "description": jinja.literal(description),
        "doc_to_text": jinja.from_format(task.input_template, f"task {task.name!r} input_template"),
        "doc_to_target": "{{label_index}}" if score else "{{target}}",
        "target_delimiter": delimiter,
        "fewshot_delimiter": task.separator,
        "num_fewshot": len(parts.examples) if use_shots and parts else 0,
    }
    if score:
        if suffix:
            raise CapabilityError(
                f"task {task.name!r}: target_template {task.target_template!r} has text after "
                "{target}, which lm-eval's multiple_choice does not score; export a run made "
                "with answer_mode: generate"
            )
        config["doc_to_choice"] = list(task.labels)
        config["metric_list"] = [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}]
    else:
        regex = answer_regex(task)
        config["generation_kwargs"] = {
            "until": list(task.stop_sequences()),
            "max_gen_toks": task.answer_max_tokens,
            "do_sample": False,
            "temperature": 0.0,
        }
        config["filter_list"] = [
            {
                "name": "answer",
                "filter": [
                    {
                        "function": "regex",
                        "regex_pattern": regex.pattern,
                        "group_select": -1 if regex.last else 0,
                    },
                    {"function": "take_first"},
                ],
            }
        ]
        metric: dict[str, Any] = {
            "metric": "exact_match",
            "aggregation": "mean",
            "higher_is_better": True,
            "ignore_case": not task.parser.case_sensitive,
        }
        if task.parser.kind == "number":
            metric["regexes_to_ignore"] = [",", "\\$", "\\.$"]
        config["metric_list"] = [metric]
    if use_shots and parts:
        config["fewshot_config"] = {
            "sampler": "first_n",
            "samples": [{**e.fields, "target": e.target + suffix} for e in parts.examples],
            "doc_to_target": "{{target}}",
        }
    config["metadata"] = {
        "version": 1.0,
        "sociallearn_unit": unit.key,
        "sociallearn_accuracy": unit.row.get("accuracy"),
        "sociallearn_calibrated": bool(unit.row.get("calibrated")),
        "student_model": unit.row.get("student_model"),
    }
    return config


# -- lm-eval's prompt rules (0.4.x, lm_eval/api/task.py), for plain-text contexts ----------------


def _resolve(doc: Mapping[str, Any], field: str) -> Any:
    # ``Task.resolve_field``: a field that names a column is that column, else a template.
    return doc[field] if field in doc else jinja.render(field, doc)


def _doc_to_text(config: Mapping[str, Any], doc: Mapping[str, Any]) -> Any:
    template = config["doc_to_text"]
    if template in doc:
        return doc[template]
    text = jinja.render(template, doc)
    if text.isdigit() and config.get("doc_to_choice") is not None:
        return ast.literal_eval(text)
    return text


def _doc_to_target(config: Mapping[str, Any], doc: Mapping[str, Any], template: str) -> Any:
    if template in doc:
        return doc[template]
    text = jinja.render(template, doc)
    if text.isdigit() and config.get("doc_to_choice") is not None:
        return ast.literal_eval(text)
    if len(text) >= 2 and text[0] == "[" and text[-1] == "]":
        try:
            return ast.literal_eval(text)
        except (SyntaxError, ValueError):
            return text
    return text


def lm_eval_context(config: Mapping[str, Any], doc: Mapping[str, Any]) -> str:
    """The context lm-eval builds for ``doc`` (``Task.fewshot_context``, no chat template)."""
    parts: list[str] = [_resolve(doc, config.get("description") or "") or ""]
    shots = config.get("fewshot_config", {}) or {}
    k = int(config.get("num_fewshot") or 0)
    samples: Sequence[Doc] = shots.get("samples", [])[:k] if k else []
    if len(samples) < k:
        raise ValueError(f"num_fewshot {k} exceeds the {len(samples)} samples")
    choices = config.get("doc_to_choice")
    for shot in samples:
        question = _doc_to_text(config, shot)
        answer = _doc_to_target(config, shot, shots.get("doc_to_target", config["doc_to_target"]))
        if answer is None or answer == "":
            parts.append(str(question))
            continue
        if choices and isinstance(answer, int):
            answer = choices[answer]
        elif isinstance(answer, list):
            answer = answer[0]
        parts.append(f"{question}{config['target_delimiter']}{answer}{config['fewshot_delimiter']}")
    parts.append(str(_doc_to_text(config, doc)))
    return "".join(parts)


def lm_eval_continuations(config: Mapping[str, Any]) -> list[str]:
    """The continuations a ``multiple_choice`` task scores (``target_delimiter + choice``)."""
    return [f"{config['target_delimiter']}{c}" for c in config.get("doc_to_choice") or []]
