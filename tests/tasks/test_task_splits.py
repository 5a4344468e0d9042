"""Splits: dedup before splitting, class balance, disjoint pool/test, determinism by seed."""

from __future__ import annotations

from collections import Counter

import pytest

from sociallearn.errors import DataError
from sociallearn.tasks import Example, get_task
from sociallearn.tasks.splits import SplitPolicy, dedupe, split_examples

SPAM = get_task("sms_spam")
LAMBADA = get_task("lambada")
BALANCED = SplitPolicy(balanced=True, default_test_size=500)


def spam_examples(n_spam: int, n_ham: int, dup_every: int = 0) -> list[Example]:
    out = [
        Example(fields={"text": f"win prize {i}"}, target="spam", uid=f"s{i}")
        for i in range(n_spam)
    ]
    out += [
        Example(fields={"text": f"hello friend {i}"}, target="not spam", uid=f"h{i}")
        for i in range(n_ham)
    ]
    if dup_every:
        out += [
            Example(fields={"text": f"hello friend {i}"}, target="not spam", uid=f"d{i}")
            for i in range(0, n_ham, dup_every)
        ]
    return out


def assert_disjoint(pool: tuple[Example, ...], test: tuple[Example, ...]) -> None:
    assert not {e.uid for e in pool} & {e.uid for e in test}
    assert not {SPAM.render_query(e) for e in pool} & {SPAM.render_query(e) for e in test}


def test_dedupe_keeps_first_occurrence_by_rendered_input() -> None:
    again = Example(fields={"text": "win prize 0"}, target="spam", uid="again")
    examples = [*spam_examples(2, 3), again]
    kept = dedupe(SPAM, examples)
    assert len(kept) == 5
    assert [e.uid for e in kept if e.fields["text"] == "win prize 0"] == ["s0"]


def test_balanced_split_undersamples_and_balances_the_test() -> None:
    data = {"all": spam_examples(200, 2000, dup_every=7)}
    result = split_examples(SPAM, data, BALANCED, test_size=None, seed=0)
    assert result.rows == 200 + 2000 + len(range(0, 2000, 7))
    assert result.unique == 2200
    # 250 per class would leave too little of the 200 spam: half of the smallest class is used.
    assert Counter(e.target for e in result.test) == {"spam": 100, "not spam": 100}
    assert Counter(e.target for e in result.pool) == {"spam": 100, "not spam": 100}
    assert_disjoint(result.pool, result.test)


def test_balanced_test_is_500_when_data_allows_and_every_prefix_is_balanced() -> None:
    result = split_examples(
        SPAM, {"all": spam_examples(700, 3000)}, BALANCED, test_size=None, seed=3
    )
    assert len(result.test) == 500
    for n in (2, 10, 100, 500):
        counts = Counter(e.target for e in result.test[:n])
        assert counts["spam"] == counts["not spam"] == n // 2
    assert len(result.pool) == 2 * 700 - 500


def test_balanced_explicit_test_size_too_large_is_a_data_error() -> None:
    with pytest.raises(DataError, match="balanced test set of 300"):
        split_examples(SPAM, {"all": spam_examples(100, 500)}, BALANCED, test_size=300, seed=0)


def test_same_seed_same_split_other_seed_other_split() -> None:
    data = {"all": spam_examples(300, 900)}
    a = split_examples(SPAM, data, BALANCED, test_size=100, seed=1)
    b = split_examples(SPAM, data, BALANCED, test_size=100, seed=1)
    c = split_examples(SPAM, data, BALANCED, test_size=100, seed=2)
    assert [e.uid for e in a.test] == [e.uid for e in b.test]
    assert [e.uid for e in a.pool] == [e.uid for e in b.pool]
    assert [e.uid for e in a.test] != [e.uid for e in c.test]


def test_single_split_is_cut_into_disjoint_pool_and_test() -> None:
    examples = [
        Example(fields={"context": f"story {i} ends at the"}, target="end", uid=f"l{i}")
        for i in range(50)
    ]
    examples.append(Example(fields={"context": "story 3 ends at the"}, target="end", uid="dup"))
    result = split_examples(LAMBADA, {"test": examples}, SplitPolicy(), test_size=10, seed=0)
    assert (len(result.pool), len(result.test), result.unique) == (40, 10, 50)
    assert not {e.uid for e in result.pool} & {e.uid for e in result.test}
    assert "dup" not in {e.uid for e in result.pool + result.test}


def test_single_split_default_falls_back_to_half_on_small_data() -> None:
    examples = [Example(fields={"context": f"c{i}"}, target="w", uid=f"u{i}") for i in range(30)]
    result = split_examples(LAMBADA, {"all": examples}, SplitPolicy(), test_size=None, seed=0)
    assert (len(result.pool), len(result.test)) == (15, 15)
    with pytest.raises(DataError, match="leaves no teacher pool"):
        split_examples(LAMBADA, {"all": examples}, SplitPolicy(), test_size=30, seed=0)


def test_standard_split_drops_pool_items_that_are_in_test() -> None:
    gsm = get_task("gsm8k")
    train = [
        Example(fields={"question": f"q{i}"}, target=f"#### {i}", uid=f"tr{i}") for i in range(20)
    ]
    test = [
        Example(fields={"question": f"q{i}"}, target=f"#### {i}", uid=f"te{i}") for i in (3, 30, 31)
    ]
    result = split_examples(
        gsm, {"train": train, "test": test}, SplitPolicy(), test_size=None, seed=0
    )
    assert len(result.test) == 3
    assert len(result.pool) == 19
    assert "q3" not in {e.fields["question"] for e in result.pool}
    limited = split_examples(
        gsm, {"train": train, "test": test}, SplitPolicy(), test_size=2, seed=0
    )
    assert len(limited.test) == 2
    # Items outside the limited test set still never go to the pool.
    assert len(limited.pool) == 19


def test_zero_test_size_is_rejected() -> None:
    with pytest.raises(DataError, match="at least 1"):
        split_examples(SPAM, {"all": spam_examples(10, 10)}, BALANCED, test_size=0, seed=0)
