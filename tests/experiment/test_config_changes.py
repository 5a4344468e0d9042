"""The settings a refused configuration changed, named from the two configs' YAML."""

from __future__ import annotations

from pathlib import Path

from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.config_changes import config_changes


def _yaml(**fields: object) -> str:
    return ExperimentConfig.model_validate({"model": "fake", **fields}).to_yaml()


def test_the_changed_result_settings_are_named_with_both_values() -> None:
    stored = _yaml(data_dir="../shared/datasets", limit=200)
    current = _yaml(data_dir=str(Path("/data/datasets")), limit=200)
    assert config_changes(stored, current) == [
        'data_dir: "../shared/datasets" there, "/data/datasets" here'
    ]
    nested = config_changes(_yaml(synthesis={"temperature": 0.5}), _yaml())
    assert nested == ["synthesis.temperature: 0.5 there, 0.8 here"]


def test_grid_axes_and_speed_options_are_not_changes() -> None:
    # More seeds or n values extend a grid, threads change only speed: none is a difference.
    stored = _yaml(seeds=[0], n=[4], model_options={"n_threads": 1})
    current = _yaml(seeds=[0, 1, 2], n=[4, 16], model_options={"n_threads": 2})
    assert config_changes(stored, current) == []


def test_many_changes_are_cut_and_unreadable_text_gives_none() -> None:
    stored = _yaml(limit=1, test_size=10, teachers=2, silo_size=20, data_seed=1)
    current = _yaml(limit=2, test_size=20, teachers=3, silo_size=21, data_seed=2)
    changes = config_changes(stored, current)
    assert len(changes) == 4 and changes[-1] == "and 2 more"
    assert config_changes("model: [unclosed", current) == []
    assert config_changes("no_such_field: 1\n", current) == []
