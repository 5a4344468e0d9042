"""A regex that reads the answer out of a generated completion, for harnesses that score by regex.

sociallearn scores with :class:`~sociallearn.tasks.base.AnswerParser`; lm-eval and inspect_ai
extract the answer with a regular expression and compare it with the gold answer. This is the
closest regex per parser kind (the prompt is exported exactly; answer extraction can differ from
sociallearn's parser on unusual completions, e.g. numbers written ``1,000``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sociallearn.tasks.base import Task

_PUNCT = "\"'“”‘’«».,;:!?()\\[\\]{}"
_NUMBER = r"(-?\$?\d[\d,]*(?:\.\d+)?)"


@dataclass(frozen=True)
class AnswerRegex:
    """``pattern`` has one group: the answer. ``last`` takes the last match instead of the first."""

    pattern: str
    last: bool = False


def answer_regex(task: Task) -> AnswerRegex:
    parser = task.parser
    if parser.kind == "choice" and task.labels:
        # Longest label first (so "not spam" is not read as "spam"), on the first non-empty line.
        labels = "|".join(re.escape(label) for label in sorted(task.labels, key=len, reverse=True))
        return AnswerRegex(rf"^\s*[^\n]*?(?<![A-Za-z])({labels})(?![A-Za-z])")
    if parser.kind == "number":
        if parser.marker is not None:
            return AnswerRegex(re.escape(parser.marker) + r"[^\d-]*?" + _NUMBER)
        return AnswerRegex(_NUMBER, last=True)
    if parser.kind == "first_word":
        return AnswerRegex(rf"^\s*[{_PUNCT}]*([^\s{_PUNCT}][^\s]*?)[{_PUNCT}]*(?:\s|$)")
    if parser.kind == "regex" and parser.pattern:
        compiled = re.compile(parser.pattern)
        return AnswerRegex(parser.pattern if compiled.groups else f"({parser.pattern})")
    return AnswerRegex(r"^\s*([^\n]*?)\s*(?:\n|$)")
