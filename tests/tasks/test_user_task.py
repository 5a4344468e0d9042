"""User tasks in YAML: validation errors name the file and field; the example runs end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from sociallearn.errors import ConfigError, DataError
from sociallearn.models.base import GenerationParams
from sociallearn.models.fake import FakeModel
from sociallearn.tasks import get_task, load_task_data, task_grammar

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "user_task" / "sentiment.yaml"

BASE = """\
name: capitals
data: caps.tsv
input_template: "Country: {country}\\nCapital:"
target_field: capital
"""


def write_task(tmp_path: Path, extra: str = "", base: str = BASE) -> Path:
    (tmp_path / "caps.tsv").write_text(
        "country\tcapital\nFrance\tParis\nItaly\tRome\nSpain\tMadrid\nPeru\tLima\nChile\tSantiago\n",
        encoding="utf-8",
    )
    path = tmp_path / "task.yaml"
    path.write_text(base + extra, encoding="utf-8")
    return path


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as err:
        get_task(str(path))
    message = str(err.value)
    assert "\n" not in message
    return message


def test_minimal_task_loads_with_defaults(tmp_path: Path) -> None:
    task = get_task(str(write_task(tmp_path)))
    assert task.name == "capitals"
    assert task.parser.kind == "exact" and task.target_template == " {target}"
    data = load_task_data(task, test_size=2)
    assert (len(data.pool), len(data.test)) == (3, 2)
    paris = next(e for e in data.pool + data.test if e.fields["country"] == "France")
    assert task.render(paris) == "Country: France\nCapital: Paris"
    assert task.is_correct(" Paris\n", paris)


def test_unknown_parser_names_file_and_field(tmp_path: Path) -> None:
    message = config_error(write_task(tmp_path, "parser:\n  kind: fuzzy\n"))
    assert message == (
        "task.yaml: field 'parser.kind': unknown parser 'fuzzy' "
        "(expected one of exact, regex, number, choice, first_word)"
    )


def test_misspelt_field_is_rejected(tmp_path: Path) -> None:
    message = config_error(write_task(tmp_path, "lables: [a, b]\n"))
    assert message.startswith(
        "task.yaml: field 'lables': unknown field (expected one of name, data,"
    )
    message = config_error(write_task(tmp_path, "parser:\n  kind: regex\n  patern: x\n"))
    assert message.startswith(
        "task.yaml: field 'parser.patern': unknown field (expected one of kind,"
    )


def test_missing_required_field(tmp_path: Path) -> None:
    base = BASE.replace("data: caps.tsv\n", "")
    assert (
        config_error(write_task(tmp_path, base=base))
        == "task.yaml: field 'data': required but missing"
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("parser:\n  kind: choice\n", "field 'labels': parser 'choice' needs a list of labels"),
        ("parser:\n  kind: regex\n", "field 'parser.pattern': parser 'regex' needs a pattern"),
        ("parser:\n  kind: regex\n  pattern: '(['\n", "field 'parser.pattern': invalid regex"),
        ("target_template: ' answer'\n", "field 'target_template': must contain {target}"),
        ("test_size: 0\n", "field 'test_size'"),
        (
            "canaries:\n  - {name: c, kind: code, text: 'Country: {secret}'}\n",
            "field 'canaries.0.text'",
        ),
        ("canaries:\n  - {name: c, kind: phone, text: 'x {code}'}\n", "field 'canaries.0.kind'"),
        ("multiline_fields: [city]\n", "field 'multiline_fields': 'city' is not a template field"),
    ],
)
def test_invalid_values_name_the_field(tmp_path: Path, extra: str, expected: str) -> None:
    assert expected in config_error(write_task(tmp_path, extra))


def test_bad_template_and_bad_yaml(tmp_path: Path) -> None:
    base = BASE.replace("{country}", "{country")
    assert "field 'input_template': bad template" in config_error(write_task(tmp_path, base=base))
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n", encoding="utf-8")
    assert config_error(broken).startswith("broken.yaml: not valid YAML (line")
    assert "task file not found" in config_error(tmp_path / "absent.yaml")


def test_template_column_missing_from_data_is_a_data_error(tmp_path: Path) -> None:
    base = BASE.replace("{country}", "{nation}")
    task = get_task(str(write_task(tmp_path, base=base)))
    with pytest.raises(DataError) as err:
        load_task_data(task)
    assert str(err.value) == (
        f"{tmp_path / 'caps.tsv'}: missing column 'nation' (found: country, capital); "
        "expected columns nation, capital"
    )


def test_example_task_end_to_end_on_the_fake_model() -> None:
    task = get_task(str(EXAMPLE))
    assert task.name == "review_sentiment" and task.labels == ("positive", "negative")
    data = load_task_data(str(EXAMPLE))
    assert (len(data.pool), len(data.test)) == (40, 20)
    assert not {task.render_query(e) for e in data.pool} & {task.render_query(e) for e in data.test}
    prompt = (task.instruction or "") + "\n\n" + task.render_many(data.pool[:8])
    queries = [prompt + task.render_query(e) for e in data.test]
    params = GenerationParams(max_tokens=task.answer_max_tokens, stop=task.stop_sequences())

    # A model that always answers with the gold label (and rambles on) scores 100%.
    gold = {prompt + task.render_query(e): e.target for e in data.test}
    oracle = FakeModel(replies=lambda p, _params, _i: f" {gold[p].upper()}\nReview: more")
    answers = oracle.generate(queries, params)
    assert all(task.is_correct(a.text, e) for a, e in zip(answers, data.test, strict=True))

    # A model that always says "positive" gets exactly the positive half right (balanced test).
    constant = FakeModel(replies=[" positive"])
    answers = constant.generate(queries, params)
    correct = sum(task.is_correct(a.text, e) for a, e in zip(answers, data.test, strict=True))
    assert correct == 10

    # Synthetic examples from the default fake parse back into the task's format.
    generated = FakeModel().generate([task.render_many(data.pool[:4])], GenerationParams(seed=3))
    assert len(task.parse_examples(generated[0].text)) == 1
    assert task_grammar(task) is not None
    assert {c.kind for c in task.canaries} == {"code", "name"}
