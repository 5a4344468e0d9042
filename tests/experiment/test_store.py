from __future__ import annotations

import json
from pathlib import Path

import pytest

from sociallearn.errors import ConfigError
from sociallearn.experiment.store import ResultsStore


def test_units_saved_are_done_and_exported(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.claim("abc", "x: 1")
    store.save("u1", {"unit": "u1", "accuracy": 0.5}, [{"unit": "u1", "text": "hi"}])
    store.save("u2", {"unit": "u2", "accuracy": 0.7}, [])
    store.export()
    assert store.done() == {"u1", "u2"}
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["unit"] for r in rows] == ["u1", "u2"]
    assert (tmp_path / "transcript.jsonl").read_text().count("\n") == 1
    store.close()


def test_a_different_config_is_refused(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.claim("abc", "x: 1")
    store.close()
    again = ResultsStore(tmp_path)
    again.claim("abc", "x: 1")  # same config: fine
    with pytest.raises(ConfigError, match="different configuration"):
        again.claim("zzz", "x: 2")
    again.close()


def test_resaving_a_unit_replaces_its_messages(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.save("u1", {"unit": "u1"}, [{"t": 1}, {"t": 2}])
    store.save("u1", {"unit": "u1"}, [{"t": 3}])
    assert store.messages() == [{"t": 3}]
    store.close()
