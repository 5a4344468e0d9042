"""What the student ends up with after teaching: the learned prompt material."""

from __future__ import annotations

from dataclasses import dataclass

from sociallearn.tasks.base import Example, Task


@dataclass(frozen=True)
class Curriculum:
    """An optional instruction plus examples; rendered once as the student's shared prompt prefix.

    ``contains_private`` is true only when private examples were put in on purpose (the
    original-examples baseline).
    """

    instruction: str | None = None
    examples: tuple[Example, ...] = ()
    contains_private: bool = False
    shortfall: int = 0  # examples asked for but not obtained (e.g. nothing parseable was generated)

    def render(self, task: Task) -> str:
        parts: list[str] = []
        if self.instruction:
            parts.append(self.instruction.strip() + task.separator)
        parts.append(task.render_many(self.examples))
        return "".join(parts)
