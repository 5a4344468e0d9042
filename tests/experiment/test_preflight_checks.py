"""Pre-flight refusals of what would otherwise be changed silently or fail midway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sociallearn.errors import ConfigError
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.runner import run_experiment

FIXTURES = Path(__file__).parents[1] / "fixtures" / "tasks"


def _config(out: Path, **extra: Any) -> ExperimentConfig:
    base: dict[str, Any] = {
        "tasks": ["sms_spam"],
        "methods": ["zero_shot"],
        "n": [2],
        "aggregators": ["random"],
        "model": "fake",
        "teachers": 4,
        "silo_size": 8,
        "heldout": 0,
        "limit": 2,
        "out": out,
    }
    base.update(extra)
    return ExperimentConfig.model_validate(base)


def test_heldout_larger_than_a_silo_is_refused_not_clipped(tmp_path: Path) -> None:
    # 4 teachers share a small pool: each silo is smaller than the 8 held-out examples the
    # config records (the teacher used to hold out a quarter of its silo instead, silently).
    config = _config(tmp_path / "r", data_file=FIXTURES / "spam.csv", silo_size=None, heldout=8)
    with pytest.raises(ConfigError, match=r"heldout: 8 examples per teacher, but the smallest"):
        run_experiment(config)
    assert not (tmp_path / "r" / "results.jsonl").read_text()


@pytest.mark.embedded
def test_n_beyond_the_students_context_is_refused_before_any_unit(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    config = _config(
        tmp_path / "r",
        model="llamacpp:smollm2",
        model_options={"n_ctx": 256, "n_threads": 1},
        methods=["original_examples"],
        n=[40],
        teachers=2,
        silo_size=48,
    )
    with pytest.raises(ConfigError, match=r"n: 40 examples of sms_spam make a prompt of about"):
        run_experiment(config)
    assert not (tmp_path / "r" / "results.jsonl").read_text()


@pytest.mark.embedded
def test_a_synthesis_budget_shorter_than_most_examples_is_warned_before_teaching(
    tmp_path: Path,
) -> None:
    pytest.importorskip("llama_cpp")
    from sociallearn.experiment.runner import preflight
    from sociallearn.experiment.units import expand_units
    from sociallearn.experiment.workbench import Workbench

    def warnings_of(max_tokens: int, methods: list[str]) -> list[str]:
        config = _config(
            tmp_path / "r",
            data_file=FIXTURES / "spam.csv",
            silo_size=None,
            model="llamacpp:smollm2",
            model_options={"n_threads": 1},
            methods=methods,
            teachers=2,
            n=[1],
            synthesis={"max_tokens": max_tokens},
        )
        seen: list[str] = []
        preflight(config, Workbench(config), expand_units(config), seen.append)
        return seen

    (short,) = warnings_of(8, ["synthetic_examples"])
    assert short.startswith(
        "synthesis.max_tokens is 8, but most of sms_spam's examples are longer (median"
    )
    assert "raise synthesis.max_tokens" in short
    # A budget that holds the examples, or a grid that generates none, says nothing.
    assert warnings_of(96, ["synthetic_examples"]) == []
    assert warnings_of(8, ["original_examples", "zero_shot"]) == []
