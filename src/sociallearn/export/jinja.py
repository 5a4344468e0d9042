"""sociallearn's ``str.format`` templates as Jinja2 templates (lm-eval's template language).

Only two Jinja constructs are written: ``{{name}}`` for a field and ``{{ '...' }}`` (a Python
``ascii()`` string literal) for literal text that Jinja would otherwise read as markup or alter
(``{`` can open a tag; a carriage return is normalised to ``\\n``). Plain literal text is written
as is. :func:`render` renders exactly that subset, so an export can be checked without jinja2.
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Mapping

from sociallearn.errors import ConfigError


def literal(text: str) -> str:
    """``text`` as Jinja source that renders to ``text``."""
    if not text:
        return ""
    if "{" in text or "\r" in text:
        return "{{ " + ascii(text) + " }}"
    return text


def from_format(template: str, where: str) -> str:
    """A ``str.format`` template (plain ``{field}`` slots only) as a Jinja template."""
    out: list[str] = []
    for text, name, spec, conversion in string.Formatter().parse(template):
        out.append(literal(text))
        if name is None:
            continue
        if spec or conversion or not name.isidentifier():
            raise ConfigError(
                f"{where}: slot {{{name}}} uses a format spec or conversion, which has no "
                "Jinja equivalent; use plain {field} slots"
            )
        out.append("{{" + name + "}}")
    return "".join(out)


_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def render(template: str, doc: Mapping[str, object]) -> str:
    """Render the subset of Jinja that :func:`literal` and :func:`from_format` write."""
    out: list[str] = []
    pos = 0
    while True:
        start = template.find("{{", pos)
        if start < 0:
            out.append(template[pos:])
            return "".join(out)
        out.append(template[pos:start])
        variable = _VARIABLE.match(template, start)
        if variable:
            out.append(str(doc[variable.group(1)]))
            pos = variable.end()
            continue
        # "{{ 'literal' }}": ascii() output holds no raw newline and ends at the quote that
        # is followed by " }}".
        body_start = start + 3
        quote = template[body_start]
        end = body_start + 1
        while template[end] != quote:
            end += 2 if template[end] == "\\" else 1
        value = ast.literal_eval(template[body_start : end + 1])
        if not isinstance(value, str) or template[end + 1 : end + 4] != " }}":
            raise ValueError(f"not a template written by sociallearn: {template[start:end]!r}")
        out.append(value)
        pos = end + 4
