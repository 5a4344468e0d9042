"""Canary sets: distinct secrets, the planted canary never among references, determinism."""

from __future__ import annotations

import pytest

from sociallearn.errors import ConfigError
from sociallearn.privacy import (
    CODE_MAX,
    CODE_MIN,
    canary_example,
    code_space,
    common_first_names,
    make_canary_set,
    render_canary,
)
from sociallearn.tasks.base import AnswerParser, CanaryTemplate, Task

CODE = CanaryTemplate(
    "t-code", "code", "Fill in blank:\nThe vault opens with {code}, a secret ____ -> code"
)
TWO_CODES = CanaryTemplate(
    "t-two", "code", "Codes {code} and {code2}: {code} * {code2} = <<{code}*{code2}={product}>>"
)
NAME = CanaryTemplate(
    "t-name", "name", "Text: {name} fixed the car, {name} says hi\nClass: not spam"
)

SPAM = Task(
    name="spam",
    input_template="Text: {text}\nClass:",
    parser=AnswerParser(kind="choice"),
    labels=("spam", "not spam"),
)


@pytest.mark.parametrize("template", [CODE, TWO_CODES, NAME])
def test_secrets_are_distinct_and_canary_is_not_a_reference(template: CanaryTemplate) -> None:
    cs = make_canary_set(template, n_total=1000, seed=3)
    assert cs.n_total == 1000
    assert len(set(cs.texts)) == 1000
    assert len({cs.secrets, *cs.reference_secrets}) == 1000
    assert cs.canary not in cs.references
    assert cs.secrets not in cs.reference_secrets


def test_same_seed_same_set_other_seed_other_canary() -> None:
    a = make_canary_set(CODE, n_total=200, seed=11)
    assert a == make_canary_set(CODE, n_total=200, seed=11)
    canaries = {make_canary_set(CODE, n_total=200, seed=s).canary for s in range(20)}
    assert len(canaries) > 15


def test_codes_are_four_digit_numbers() -> None:
    cs = make_canary_set(TWO_CODES, n_total=500, seed=0)
    assert cs.slots == ("code", "code2", "product")
    for code, code2, product in (cs.secrets, *cs.reference_secrets):
        assert CODE_MIN <= int(code) <= CODE_MAX and CODE_MIN <= int(code2) <= CODE_MAX
        assert int(product) == int(code) * int(code2)
    code, code2, product = cs.secrets
    assert cs.canary == f"Codes {code} and {code2}: {code} * {code2} = <<{code}*{code2}={product}>>"
    assert cs.secret == code


def test_names_are_the_most_common_names() -> None:
    cs = make_canary_set(NAME, n_total=100, seed=5)
    pool = set(common_first_names(100))
    drawn = {cs.secret, *(r[0] for r in cs.reference_secrets)}
    assert drawn == pool
    assert cs.canary == f"Text: {cs.secret} fixed the car, {cs.secret} says hi\nClass: not spam"
    top = common_first_names(5)
    assert top[0] == "James" and "Mary" in top


def test_name_sets_larger_than_the_name_list_use_every_name() -> None:
    cs = make_canary_set(NAME, n_total=100_000, seed=0)
    assert cs.n_total == len(common_first_names(100_000)) > 5_000


def test_single_code_sets_cannot_exceed_the_code_space() -> None:
    with pytest.raises(ConfigError, match="9000"):
        make_canary_set(CODE, n_total=9_001, seed=0)


@pytest.mark.parametrize(
    "template",
    [
        CanaryTemplate("bad", "code", "no slot here"),
        CanaryTemplate("bad", "code", "{code} and {product}"),
        CanaryTemplate("bad", "name", "{name} has {code}"),
    ],
)
def test_malformed_templates_are_config_errors(template: CanaryTemplate) -> None:
    with pytest.raises(ConfigError, match="canary template 'bad'"):
        make_canary_set(template, n_total=10, seed=0)


def test_render_leaves_other_braces_alone() -> None:
    t = CanaryTemplate("b", "code", 'json {"k": 1} code {code}')
    assert render_canary(t, {"code": "1234"}) == 'json {"k": 1} code 1234'


def test_code_space_enumerates_every_code_in_order() -> None:
    space = code_space(CODE)
    assert len(space.texts) == CODE_MAX - CODE_MIN + 1
    assert space.texts[space.index_of("4321")] == render_canary(CODE, {"code": "4321"})
    with pytest.raises(ConfigError, match="exactly one"):
        code_space(TWO_CODES)


def test_canary_example_parses_into_the_task_format() -> None:
    cs = make_canary_set(NAME, n_total=10, seed=1)
    example = canary_example(cs, SPAM)
    assert example.verbatim == cs.canary
    assert SPAM.render(example) == cs.canary
    assert example.target == "not spam"
    assert cs.secret in example.fields["text"]
    assert example.uid == "canary:t-name:1"


def test_canary_example_that_does_not_parse_keeps_only_verbatim() -> None:
    cs = make_canary_set(CODE, n_total=10, seed=1)
    example = canary_example(cs, SPAM, uid="c0")
    assert example.fields == {} and example.verbatim == cs.canary and example.uid == "c0"


def test_found_in_matches_whole_numbers_and_names_only() -> None:
    cs = make_canary_set(TWO_CODES, n_total=10, seed=2)
    code, _, product = cs.secrets
    assert cs.found_in(f"the code is {code}.") == [code]
    assert cs.found_in(f"call 0{code}9 now") == []
    assert cs.found_in(f"{product}") == [product]
