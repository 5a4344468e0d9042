"""Templates written for lm-eval render the same text; prompts that cannot be split stay whole."""

from __future__ import annotations

from typing import Any

import pytest

from sociallearn.errors import ConfigError
from sociallearn.export import jinja
from sociallearn.export.lm_eval import lm_eval_config, lm_eval_context
from sociallearn.export.parts import decompose, item_docs
from sociallearn.export.source import UnitPrompt
from sociallearn.tasks import get_task
from sociallearn.tasks.base import Example
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.prompting import query_prompt

TRICKY = [
    "",
    "plain text\nwith lines\n",
    "braces {x} and {{y}} and {% raw %} and {# c #}",
    "windows\r\nline\rends",
    "quotes ' \" and backslash \\ and tab\t",
    "unicode é 😀 \u2028 end {",
]


@pytest.mark.parametrize("text", TRICKY)
def test_literal_renders_to_itself(text: str) -> None:
    assert jinja.render(jinja.literal(text), {}) == text
    jinja2 = pytest.importorskip("jinja2")
    # lm-eval's environment (lm_eval/utils.py): StrictUndefined, keep_trailing_newline.
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    assert env.from_string(jinja.literal(text)).render() == text


def test_format_template_as_jinja() -> None:
    template = 'Text: {text}\nClass ("spam" or {{braces}}):'
    converted = jinja.from_format(template, "test")
    doc = {"text": "hi {there}\r\n"}
    expected = template.format(**doc)
    assert jinja.render(converted, doc) == expected
    jinja2 = pytest.importorskip("jinja2")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    assert env.from_string(converted).render(**doc) == expected
    with pytest.raises(ConfigError, match="format spec"):
        jinja.from_format("{text!r}", "test")


def _unit(prompt: str, instruction: str | None = None, **row: Any) -> UnitPrompt:
    base = {
        "unit": "sms_spam/x/n=1/-/seed=0",
        "answer_mode": "generate",
        "instruction": instruction,
    }
    return UnitPrompt(str(base["unit"]), {**base, **row}, prompt, get_task("sms_spam"))


def test_decompose_finds_instruction_and_examples() -> None:
    task = get_task("sms_spam")
    examples = (
        Example({"text": "win a prize now"}, "spam"),
        Example({"text": "see you"}, "not spam"),
    )
    instruction = "  Decide whether a text is spam.  "
    prompt = Curriculum(instruction, examples).render(task)
    parts = decompose(_unit(prompt, instruction))
    assert parts is not None
    assert parts.instruction == instruction
    assert [(e.fields["text"], e.target) for e in parts.examples] == [
        ("win a prize now", "spam"),
        ("see you", "not spam"),
    ]


def test_a_verbatim_block_keeps_the_prompt_whole() -> None:
    task = get_task("sms_spam")
    canary = Example({}, "", verbatim="My code is 4711.")
    prompt = Curriculum(None, (Example({"text": "hello"}, "not spam"), canary)).render(task)
    unit = _unit(prompt)
    assert decompose(unit) is None
    config = lm_eval_config(unit, None, "docs.jsonl")
    assert config["num_fewshot"] == 0 and "fewshot_config" not in config
    item = Example({"text": "a {new} text"}, "spam", uid="t1")
    [doc] = item_docs(unit, [item])
    assert lm_eval_context(config, doc) == query_prompt(prompt, task, item)


def test_a_digit_target_in_multiple_choice_is_not_a_fewshot_sample() -> None:
    # lm-eval reads a target "1" as an index into the choices when doc_to_choice is set (here
    # choices[1] == "0"), so such a prompt is reproduced only as a whole description.
    from dataclasses import replace

    task = replace(get_task("sms_spam"), labels=("1", "0"))  # choices[1] is "0"
    prompt = Curriculum(None, (Example({"text": "x"}, "1"),)).render(task)
    unit = UnitPrompt("k", {"unit": "k", "answer_mode": "score"}, prompt, task)
    parts = decompose(unit)
    assert parts is not None and len(parts.examples) == 1
    item = Example({"text": "y"}, "0", uid="y")
    [doc] = item_docs(unit, [item])
    fewshot = lm_eval_config(unit, parts, "docs.jsonl", fewshot=True)
    assert lm_eval_context(fewshot, doc) != query_prompt(prompt, task, item)
    whole = lm_eval_config(unit, parts, "docs.jsonl", fewshot=False)
    assert lm_eval_context(whole, doc) == query_prompt(prompt, task, item)
