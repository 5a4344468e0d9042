from __future__ import annotations

import pytest

from sociallearn.tasks.base import AnswerParser, Example, Task


@pytest.fixture
def spam_task() -> Task:
    return Task(
        name="mini_spam",
        input_template="Text: {text}\nClass:",
        parser=AnswerParser("choice"),
        labels=("spam", "not spam"),
        instruction="Say whether the message is spam or not spam.",
    )


@pytest.fixture
def private_examples() -> list[Example]:
    words = ["apple", "river", "candle", "mountain", "violet", "harbor", "pencil", "garden"]
    out = []
    for i in range(48):
        label = "spam" if i % 2 == 0 else "not spam"
        text = (
            f"message {i} about the {words[i % 8]} and the {words[(i * 3) % 8]} near house {i * 7}"
        )
        out.append(Example({"text": text}, label, uid=f"p{i}"))
    return out
