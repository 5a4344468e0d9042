"""An inspect_ai task file that sends each test item with the student's learned prompt.

inspect_ai sends a sample's ``input`` string as one user message. The file sets each input to
``PROMPT + INPUT_TEMPLATE.format(**fields)``: the learned prompt followed by the query, the text
sociallearn's student completed. Generation is greedy with the task's stop sequences and token
budget; the answer is read with a regex (:mod:`sociallearn.export.answers`) and compared with the
gold answer. With a chat model, the provider wraps the message in its chat template, which
sociallearn's student (a plain completion) did not.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from sociallearn.export.answers import answer_regex
from sociallearn.export.source import UnitPrompt

_TEMPLATE = '''"""inspect_ai task exported by sociallearn.

Unit: {unit}
Run:  {run_dir}
The student's learned prompt, exactly as evaluated, precedes each query. sociallearn measured
accuracy {accuracy} ({answer_mode} mode{calibrated}); this file always answers by generation.

    inspect eval {file_name} --model <provider>/<model>

Each sample's input is PROMPT + INPUT_TEMPLATE.format(**fields), sent as one user message;
answers are read with ANSWER_PATTERN and compared with the gold answer.
"""

import json
from pathlib import Path

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import GenerateConfig
from inspect_ai.scorer import pattern
from inspect_ai.solver import generate

PROMPT = {prompt}
INPUT_TEMPLATE = {input_template}
FIELDS = {fields}
STOP = {stop}
MAX_TOKENS = {max_tokens}
ANSWER_PATTERN = {answer_pattern}
DOCS = Path(__file__).with_name({docs_name})


def render(fields: dict[str, str]) -> str:
    """The text sociallearn's student completed for an item with these fields."""
    return PROMPT + INPUT_TEMPLATE.format(**fields)


def samples() -> list[Sample]:
    out = []
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            doc = json.loads(line)
            fields = {{name: doc[name] for name in FIELDS}}
            out.append(Sample(id=doc["uid"], input=render(fields), target=str(doc["target"])))
    return out


@task
def {task_name}() -> Task:
    return Task(
        dataset=MemoryDataset(samples(), name={task_name!r}),
        solver=generate(),
        scorer=pattern(ANSWER_PATTERN, ignore_case={ignore_case}),
        config=GenerateConfig(temperature=0.0, max_tokens=MAX_TOKENS, stop_seqs=STOP),
    )
'''


def inspect_task_file(unit: UnitPrompt, run_dir: str, file_name: str, docs_name: str) -> str:
    """The Python source of the task file (constants written with ``repr``, so they are exact)."""
    task = unit.task
    regex = answer_regex(task)
    answer = regex.pattern
    if regex.last:
        # inspect's pattern() takes the first match; a lookahead makes it the last number.
        answer = f"{answer}(?![\\s\\S]*{answer})"
    accuracy = unit.row.get("accuracy")
    return _TEMPLATE.format(
        unit=unit.key,
        run_dir=run_dir,
        accuracy=f"{accuracy:.3f}" if isinstance(accuracy, float) else accuracy,
        answer_mode=unit.row.get("answer_mode", "generate"),
        calibrated=", calibrated" if unit.row.get("calibrated") else "",
        file_name=file_name,
        prompt=repr(unit.prompt),
        input_template=repr(task.input_template),
        fields=repr(list(task.field_names)),
        stop=repr(list(task.stop_sequences())),
        max_tokens=task.answer_max_tokens,
        answer_pattern=repr(answer),
        docs_name=repr(docs_name),
        task_name="sociallearn_" + unit.slug.replace("-", "_").replace(".", "_"),
        ignore_case=not task.parser.case_sensitive,
    )


def file_constants(source: str) -> dict[str, Any]:
    """The module-level constants of a task file, read with ``ast`` (no inspect_ai needed)."""
    constants: dict[str, Any] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id.isupper():
                try:
                    constants[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    continue  # DOCS is a call, not a literal
    return constants


def inspect_input(constants: Mapping[str, Any], doc: Mapping[str, Any]) -> str:
    """A sample's input by the file's rule: ``PROMPT + INPUT_TEMPLATE.format(**fields)``."""
    fields = {name: doc[name] for name in constants["FIELDS"]}
    return str(constants["PROMPT"]) + str(constants["INPUT_TEMPLATE"]).format(**fields)
