"""A GBNF grammar (llama.cpp syntax) for one example in a task's format.

Constraining generation to the format makes a tiny model's synthetic examples parse (DESIGN §8).
The grammar is derived from the templates: literal text is matched exactly, a one-line field is
any non-empty line, a multi-line field is one or more non-empty lines (never a blank line, which
would end the example), and the target follows the answer parser. The example ends with one
newline; nothing may follow it, so a constrained model stops right there (without the newline a
tiny model keeps extending the last line until it runs out of tokens).
"""

from __future__ import annotations

import re

from sociallearn.tasks.base import Task
from sociallearn.tasks.builtin import (
    BOOLQ,
    GSM8K,
    LAMBADA,
    RANDOM_INSERTION,
    SMS_SPAM,
    SMS_SPAM_CLASS,
)

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

_COMMON_RULES = {
    "line": "[^\\n]+",
    "lines": 'line ("\\n" line)*',
    "number": '"-"? [0-9] [0-9,]* ("." [0-9]+)?',
    # A reasoning line may not start with "#", so the final "#### <number>" line is unambiguous.
    "reason-line": "[^\\n#] [^\\n]*",
    "word": "[^ \\t\\n]{1,40}",
}


# Tighter rules for built-in tasks whose data has a known shape. Measured on SmolLM2-135M at
# temperature 0.8: with a bare [^\n]+ an SMS text or a scrambled word often runs on until the token
# budget ends (no example); bounded like this, every sample ended with a parseable example.
_TASK_RULES: dict[tuple[str, str], dict[str, str]] = {
    (t.name, t.input_template): rules
    for t, rules in (
        (SMS_SPAM, {"f-text": "[^\\n]{1,200}"}),
        (SMS_SPAM_CLASS, {"f-text": "[^\\n]{1,200}"}),
        (BOOLQ, {"f-passage": "[^\\n]{20,600}", "f-question": "[^\\n]{1,150}"}),
        # A free multi-line context never reached the " ____ -> " marker (every sample ran out of
        # tokens); one bounded line makes the model close the example.
        (LAMBADA, {"f-context": "[^\\n]{40,400}"}),
        (
            GSM8K,
            {
                "f-question": "[^\\n]{10,250}",
                "target": '([^\\n#] [^\\n]{0,120} "\\n"){1,4} "#### " number',
            },
        ),
        (
            RANDOM_INSERTION,
            {"f-scrambled": "[a-z] ([ ./!] [a-z]){5,14}", "target": "[a-z]{6,15}"},
        ),
    )
}


def gbnf_literal(text: str) -> str:
    """``text`` as a GBNF string literal."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def _rule_name(field: str) -> str:
    # GBNF rule names allow letters, digits and dashes only.
    return "f-" + re.sub(r"[^A-Za-z0-9]", "-", field).lower()


def _target_rule(task: Task) -> str:
    parser = task.parser
    multiline = "target" in task.multiline_fields
    if parser.kind == "choice" and task.labels:
        return " | ".join(gbnf_literal(label) for label in task.labels)
    if parser.kind == "number":
        if parser.marker:
            marker = gbnf_literal(parser.marker + " ")
            lead = '(reason-line "\\n")*' if multiline else "[^\\n#]*"
            return f"{lead} {marker} number"
        return "number"
    if parser.kind == "first_word":
        return "word"
    return "lines" if multiline else "line"


def task_grammar(task: Task) -> str | None:
    """The grammar for one example of ``task``, or None when the template has no placeholder."""
    full = task.input_template + task.target_template
    if not _FIELD.search(full):
        return None
    parts: list[str] = []
    fields: dict[str, str] = {}
    pos = 0
    for m in _FIELD.finditer(full):
        if m.start() > pos:
            parts.append(gbnf_literal(full[pos : m.start()]))
        name = m.group(1)
        if name == "target":
            parts.append("target")
        else:
            rule = _rule_name(name)
            fields[rule] = "lines" if name in task.multiline_fields else "line"
            parts.append(rule)
        pos = m.end()
    if pos < len(full):
        parts.append(gbnf_literal(full[pos:]))
    fields["target"] = _target_rule(task)
    fields.update(_TASK_RULES.get((task.name, task.input_template), {}))
    rules = [f'root ::= {" ".join(parts)} "\\n"']
    rules += [f"{rule} ::= {body}" for rule, body in fields.items()]
    # Only the shared rules that are used, found by closure (llama.cpp accepts unused ones, but
    # they are noise); a shared rule may use another ("lines" uses "line").
    added: set[str] = set()
    while True:
        bodies = " ".join(r.split("::=", 1)[1] for r in rules)
        used = [n for n in _COMMON_RULES if n not in added and _mentions(bodies, n)]
        if not used:
            break
        for name in used:
            added.add(name)
            rules.append(f"{name} ::= {_COMMON_RULES[name]}")
    return "\n".join(rules) + "\n"


def _mentions(bodies: str, rule: str) -> bool:
    # Strip string literals first so that a label such as "line" is not taken for a rule.
    code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', bodies)
    return re.search(rf"(?<![\w-]){re.escape(rule)}(?![\w-])", code) is not None
