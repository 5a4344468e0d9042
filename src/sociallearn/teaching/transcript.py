"""Every message between agents, in order: what the privacy audit and the report read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

MessageKind = Literal[
    "request",  # student or aggregator -> teacher: what to teach
    "lesson",  # teacher -> student or aggregator: synthetic examples or an instruction
    "candidates",  # student or aggregator -> teacher: candidates to vote on
    "vote",  # teacher -> student or aggregator: the index voted for
    "rejection",  # teacher -> itself: a candidate stopped by a privacy gate
    "prompt",  # student -> student: the final learned prompt
    "release",  # aggregator -> student: what a trusted aggregator selected
    "report",  # teacher -> aggregator/student: held-out accuracy of a public prompt
]

STUDENT = "student"
AGGREGATOR = "aggregator"


@dataclass(frozen=True)
class Message:
    unit: str
    round: int
    sender: str
    recipient: str
    kind: MessageKind
    text: str


class Transcript:
    """An append-only log of messages for one unit of work."""

    def __init__(self, unit: str = "") -> None:
        self.unit = unit
        self._messages: list[Message] = []

    def record(
        self, round: int, sender: str, recipient: str, kind: MessageKind, text: str
    ) -> Message:
        message = Message(self.unit, round, sender, recipient, kind, text)
        self._messages.append(message)
        return message

    def __iter__(self) -> Iterator[Message]:
        return iter(self._messages)

    def __len__(self) -> int:
        return len(self._messages)

    def to_student(self) -> list[Message]:
        """Messages addressed to the student: everything the student ever saw."""
        return [m for m in self._messages if m.recipient == STUDENT]

    def rows(self) -> list[dict[str, object]]:
        return [asdict(m) for m in self._messages]

    def write_jsonl(self, path: Path) -> None:
        with path.open("a", encoding="utf-8") as fh:
            for row in self.rows():
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
