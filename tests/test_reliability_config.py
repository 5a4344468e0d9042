"""Config, data and report faults: empty grids, unsafe names, paths, BOMs, HTML in report.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from sociallearn.errors import ConfigError
from sociallearn.experiment.config import ExperimentConfig, load_config
from sociallearn.report.tables import Table, TableRow, table_to_markdown
from sociallearn.tasks.readers import read_table


def _error(path: Path | None, overrides: dict[str, object] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_empty_seeds_or_tasks_are_refused(tmp_path: Path) -> None:
    assert "runs nothing" in _error(None, {"seeds": []})
    config = tmp_path / "c.yaml"
    config.write_text("tasks: []\n")
    assert "field 'tasks'" in _error(config)


def test_a_nested_typo_lists_the_sections_fields(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("synthesis:\n  tempreature: 0.5\n")
    message = _error(config)
    assert "'synthesis.tempreature'" in message
    assert "temperature" in message and "n_gen" in message
    assert "silo_split" not in message  # not the top-level fields


def test_a_flag_error_names_the_flag_not_the_file(tmp_path: Path) -> None:
    config = tmp_path / "preset.yaml"
    config.write_text("teachers: 3\n")
    message = _error(config, {"teachers": 0})
    assert message.startswith("--teachers:") and "preset.yaml" not in message
    assert _error(config, {"audit.runs": 0}).startswith("--runs:")


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", ""])
def test_name_is_a_plain_name(name: str) -> None:
    with pytest.raises(ConfigError, match="plain name"):
        load_config(None, {"name": name})


def test_heldout_must_fit_in_a_silo() -> None:
    with pytest.raises(ConfigError, match=r"heldout \(8\) must be smaller than silo_size \(6\)"):
        load_config(None, {"heldout": 8, "silo_size": 6})


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    folder = tmp_path / "configs"
    folder.mkdir()
    config = folder / "exp.yaml"
    config.write_text("out: runs/x\ndata_dir: data\ntasks: [sms_spam, tasks/mine.yaml]\n")
    loaded = load_config(config)
    assert loaded.out == folder / "runs" / "x"
    assert loaded.data_dir == folder / "data"
    assert loaded.tasks == ["sms_spam", str(folder / "tasks" / "mine.yaml")]
    # Flags stay relative to where the command runs.
    assert load_config(config, {"out": Path("elsewhere")}).out == Path("elsewhere")


def test_the_openai_base_url_is_part_of_the_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    config = ExperimentConfig.model_validate({"model": "openai:m"})
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    first = config.fingerprint()
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9000/v1")
    assert config.fingerprint() != first
    # Other models' fingerprints do not depend on it.
    fake = ExperimentConfig.model_validate({"model": "fake"})
    before = fake.fingerprint()
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1")
    assert fake.fingerprint() == before


def test_a_csv_with_a_byte_order_mark_reads_its_first_column(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_bytes("review,label\nGreat,positive\n".encode("utf-8-sig"))
    table = read_table(path)
    assert table.columns[0] == "review"


def test_report_markdown_escapes_html() -> None:
    table = Table(
        title="<script>alert(1)</script>",
        header=("task", "value"),
        rows=(TableRow(cells=("<img src=x onerror=alert(1)>", "a | b")),),
    )
    text = table_to_markdown(table)
    assert "<script>" not in text and "<img" not in text
    assert "&lt;script&gt;" in text and "a \\| b" in text
