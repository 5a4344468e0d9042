"""The Random Insertion generator matches the task's definition and is seeded."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from sociallearn.tasks import generate_random_insertion, get_task
from sociallearn.tasks.random_insertion import (
    INSERTED_CHARS,
    MAX_LETTERS,
    MIN_LETTERS,
    scramble,
    unscramble,
)

pytest.importorskip("wordfreq")


def test_scramble_inserts_exactly_one_char_between_letters() -> None:
    rng = random.Random(0)
    text = scramble("garden", rng)
    assert len(text) == 2 * len("garden") - 1
    assert text[::2] == "garden"
    assert all(ch in INSERTED_CHARS for ch in text[1::2])
    assert unscramble(text) == "garden"


def test_generated_items_follow_the_definition() -> None:
    items = generate_random_insertion(500, seed=4)
    assert len(items) == 500
    assert len({e.target for e in items}) == 500
    for e in items:
        word, text = e.target, e.fields["scrambled"]
        assert word.isascii() and word.isalpha() and word.islower()
        assert MIN_LETTERS <= len(word) <= MAX_LETTERS
        assert text[::2] == word and all(ch in INSERTED_CHARS for ch in text[1::2])
        assert not text.startswith(" ") and not text.endswith(" ")
    used = {ch for e in items for ch in e.fields["scrambled"][1::2]}
    assert used == set(INSERTED_CHARS)


def test_same_seed_same_items_other_seed_other_items() -> None:
    a = generate_random_insertion(50, seed=1)
    assert a == generate_random_insertion(50, seed=1)
    assert [e.target for e in a] != [e.target for e in generate_random_insertion(50, seed=2)]


def test_generated_items_are_judged_like_real_ones() -> None:
    task = get_task("random_insertion")
    items = generate_random_insertion(20, seed=0)
    parsed = task.parse_examples(task.render_many(items))
    assert [(dict(p.fields), p.target) for p in parsed] == [
        (dict(e.fields), e.target) for e in items
    ]
    assert all(task.is_correct(" " + e.target, e) for e in items)


@pytest.mark.data
def test_real_data_has_the_same_definition(data_dir: Path) -> None:
    rows = [
        json.loads(line)
        for line in (data_dir / "random_insertion" / "test.jsonl").open(encoding="utf-8")
    ]
    for row in rows:
        text, word = row["input"], row["target"]
        assert text[::2] == word
        assert set(text[1::2]) <= set(INSERTED_CHARS)
        assert MIN_LETTERS <= len(word) <= MAX_LETTERS
