"""Tasks defined by users in YAML, without Python.

Example (``examples/user_task/sentiment.yaml``)::

    name: review_sentiment
    data: reviews.jsonl            # JSONL, CSV or TSV; relative to this YAML file
    input_template: "Review: {review}\\nSentiment:"
    target_field: sentiment        # the column holding the answer
    parser: {kind: choice}
    labels: [positive, negative]

Template fields name the data file's columns. Mistakes give one line naming the file and field.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sociallearn.errors import ConfigError
from sociallearn.tasks.base import AnswerParser, CanaryTemplate, Task
from sociallearn.tasks.readers import FieldMap
from sociallearn.tasks.splits import SplitPolicy

PARSER_KINDS = ("exact", "regex", "number", "choice", "first_word")
CANARY_SLOTS = frozenset({"code", "code2", "product", "name"})


class ParserConfig(BaseModel):
    """How the answer is read from a completion (see :class:`AnswerParser`)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["exact", "regex", "number", "choice", "first_word"] = "exact"
    pattern: str | None = None
    marker: str | None = None
    case_sensitive: bool = False


class CanaryConfig(BaseModel):
    """A canary: a whole example with one of the slots {code}, {code2}, {product}, {name}."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Literal["code", "name"]
    text: str


class UserTaskConfig(BaseModel):
    """The YAML schema of a user task; every field is documented in docs/tasks.md."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    data: str = Field(min_length=1)
    input_template: str = Field(min_length=1)
    target_template: str = " {target}"
    target_field: str = "target"
    parser: ParserConfig = Field(default_factory=ParserConfig)
    labels: list[str] = Field(default_factory=list)
    label_map: dict[str, str] = Field(default_factory=dict)
    instruction: str | None = None
    canaries: list[CanaryConfig] = Field(default_factory=list)
    separator: str = "\n\n"
    multiline_fields: list[str] = Field(default_factory=list)
    test_size: int | None = Field(default=None, ge=1)
    balanced: bool = False
    answer_max_tokens: int = Field(default=32, ge=1)
    description: str = ""


@dataclass(frozen=True)
class UserTaskSpec:
    """A loaded user task: the :class:`Task`, where its data is and how the columns map."""

    task: Task
    data: Path
    fieldmap: FieldMap
    policy: SplitPolicy


def load_user_task(path: Path) -> UserTaskSpec:
    """Read and validate a user task YAML file; raises :class:`ConfigError` with one line."""
    where = path.name
    if not path.is_file():
        raise ConfigError(f"{path}: task file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{where}: not valid YAML{line}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of task fields at the top level")
    try:
        config = UserTaskConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_first_error(where, err)) from None
    return _build(config, path)


def _first_error(where: str, err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    kind = first["type"]
    if kind == "extra_forbidden":
        parent: Any = UserTaskConfig
        if len(first["loc"]) > 1 and first["loc"][0] == "parser":
            parent = ParserConfig
        elif len(first["loc"]) > 1 and first["loc"][0] == "canaries":
            parent = CanaryConfig
        known = ", ".join(parent.model_fields)
        return f"{where}: field {loc!r}: unknown field (expected one of {known})"
    if loc == "parser.kind":
        return (
            f"{where}: field 'parser.kind': unknown parser {first.get('input')!r} "
            f"(expected one of {', '.join(PARSER_KINDS)})"
        )
    if kind == "missing":
        return f"{where}: field {loc!r}: required but missing"
    return f"{where}: field {loc!r}: {first['msg']}"


def _template_fields(template: str, where: str, field: str) -> list[str]:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as err:
        raise ConfigError(
            f"{where}: field {field!r}: bad template ({err}); write {{{{ for a literal brace"
        ) from None
    names: list[str] = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or spec or conversion:
            raise ConfigError(
                f"{where}: field {field!r}: placeholder {{{name}}} must be a plain column name"
            )
        names.append(name)
    return names


def _build(config: UserTaskConfig, path: Path) -> UserTaskSpec:
    where = path.name
    fields = _template_fields(config.input_template, where, "input_template")
    if not fields:
        raise ConfigError(
            f"{where}: field 'input_template': needs at least one {{column}} placeholder"
        )
    if "target" in fields:
        raise ConfigError(f"{where}: field 'input_template': {{target}} belongs in target_template")
    if _template_fields(config.target_template, where, "target_template") != ["target"]:
        raise ConfigError(f"{where}: field 'target_template': must contain {{target}} exactly once")
    parser = config.parser
    if parser.kind == "choice" and not config.labels:
        raise ConfigError(f"{where}: field 'labels': parser 'choice' needs a list of labels")
    if parser.kind == "regex":
        if not parser.pattern:
            raise ConfigError(f"{where}: field 'parser.pattern': parser 'regex' needs a pattern")
        try:
            re.compile(parser.pattern)
        except re.error as err:
            raise ConfigError(f"{where}: field 'parser.pattern': invalid regex ({err})") from None
    if not config.separator:
        raise ConfigError(f"{where}: field 'separator': must not be empty")
    unknown = [f for f in config.multiline_fields if f not in fields and f != "target"]
    if unknown:
        raise ConfigError(
            f"{where}: field 'multiline_fields': {unknown[0]!r} is not a template field"
        )
    for i, canary in enumerate(config.canaries):
        slots = set(_template_fields(canary.text, where, f"canaries.{i}.text"))
        if not slots or not slots <= CANARY_SLOTS:
            raise ConfigError(
                f"{where}: field 'canaries.{i}.text': use one or more of the slots "
                f"{{code}}, {{code2}}, {{product}}, {{name}} (found {sorted(slots) or 'none'})"
            )
    task = Task(
        name=config.name,
        input_template=config.input_template,
        target_template=config.target_template,
        parser=AnswerParser(
            kind=parser.kind,
            pattern=parser.pattern,
            marker=parser.marker,
            case_sensitive=parser.case_sensitive,
        ),
        labels=tuple(config.labels),
        instruction=config.instruction,
        description=config.description or f"user task from {where}",
        separator=config.separator,
        canaries=tuple(
            CanaryTemplate(name=c.name, kind=c.kind, text=c.text) for c in config.canaries
        ),
        multiline_fields=frozenset(config.multiline_fields),
        source=f"file {path.parent / config.data}",
        extra_stops=() if "target" in config.multiline_fields else ("\n",),
        answer_max_tokens=config.answer_max_tokens,
    )
    fieldmap = FieldMap(
        fields={f: f for f in dict.fromkeys(fields)},
        target=config.target_field,
        label_map={k.casefold(): v for k, v in config.label_map.items()},
        labels=tuple(config.labels) if parser.kind == "choice" else (),
    )
    return UserTaskSpec(
        task=task,
        data=(path.parent / config.data).resolve(),
        fieldmap=fieldmap,
        # The YAML's test_size is a default, like the built-ins': small files still get split.
        policy=SplitPolicy(
            balanced=config.balanced,
            default_test_size=config.test_size,
            single_split_test_size=config.test_size or 1000,
        ),
    )
