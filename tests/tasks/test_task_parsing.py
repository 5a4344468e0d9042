"""Answer parsing and judging for every built-in task, on hand-written tricky completions."""

from __future__ import annotations

import pytest

from sociallearn.tasks import Example, get_task


def judge(task_name: str, completion: str, target: str) -> bool:
    task = get_task(task_name)
    return task.is_correct(completion, Example(fields={}, target=target))


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        (" 72", "72"),
        ("She sold 48 + 24 = 72 clips.\n#### 72", "72"),
        (" 1,080", "1080"),
        ("#### $1,080.", "1080"),
        ("#### 1,080 cookies in total.\n\nQuestion: next", "1080"),
        ("####72", "72"),
        ("#### -5", "-5"),
        ("#### 2.50", "2.5"),
    ],
)
def test_gsm8k_number_after_marker(completion: str, expected: str) -> None:
    task = get_task("gsm8k")
    text = completion if "####" in completion else "#### " + completion.strip()
    assert task.parse_answer(text) == expected


def test_gsm8k_missing_marker_is_no_answer() -> None:
    task = get_task("gsm8k")
    assert task.parse_answer("The answer is 72.") is None
    assert not judge("gsm8k", "The answer is 72.", "He sold 72.\n#### 72")


def test_gsm8k_judges_on_the_number_only() -> None:
    gold = "Step one.\n#### 1,080"
    assert judge("gsm8k", "Some other reasoning.\n#### 1080", gold)
    assert judge("gsm8k", "#### $1,080. Done", gold)
    assert not judge("gsm8k", "#### 1,081", gold)
    assert get_task("gsm8k").gold(Example(fields={}, target=gold)) == "1080"


@pytest.mark.parametrize(
    ("completion", "target", "correct"),
    [
        (" home.", "home", True),
        (' "Home," she said', '"Home', True),
        (" “Sal”", "“Sal", True),
        (" house\nnext passage", "house", True),
        (" morning", "mornings", False),
        (" Grandmother", "grandmother", False),  # exact word match keeps case
        ("", "house", False),
    ],
)
def test_lambada_first_word_exact(completion: str, target: str, correct: bool) -> None:
    assert judge("lambada", completion, target) is correct


@pytest.mark.parametrize(
    ("completion", "gold", "correct"),
    [
        (" Yes", "yes", True),
        (" YES.", "yes", True),
        (" no, because the passage says so", "no", True),
        ("No", "yes", False),
        (" maybe", "yes", False),
    ],
)
def test_boolq_casing(completion: str, gold: str, correct: bool) -> None:
    assert judge("boolq", completion, gold) is correct


def test_boolq_unparseable_is_none() -> None:
    assert get_task("boolq").parse_answer(" perhaps") is None


@pytest.mark.parametrize("name", ["sms_spam", "sms_spam_class"])
@pytest.mark.parametrize(
    ("completion", "parsed"),
    [
        (" not spam", "not spam"),
        (" spam", "spam"),
        (" Not Spam\nText: hi", "not spam"),
        (" SPAM!", "spam"),
        (" this is not spam", "not spam"),
        (" ham", None),
    ],
)
def test_spam_not_spam_takes_precedence(name: str, completion: str, parsed: str | None) -> None:
    assert get_task(name).parse_answer(completion) == parsed


def test_spam_ham_answer_is_wrong() -> None:
    # The paper counts "ham" as wrong: the label set is spam / not spam.
    assert not judge("sms_spam", " ham", "not spam")
    assert judge("sms_spam", " not spam", "not spam")


@pytest.mark.parametrize(
    ("completion", "target", "correct"),
    [
        (" reciprocal", "reciprocal", True),
        (" reciprocal\n\nd.o m", "reciprocal", True),
        (" Reciprocal", "reciprocal", False),
        (" reciprocals", "reciprocal", False),
        (" r e!c.i p r o.c a/l", "reciprocal", False),
    ],
)
def test_random_insertion_exact(completion: str, target: str, correct: bool) -> None:
    assert judge("random_insertion", completion, target) is correct
