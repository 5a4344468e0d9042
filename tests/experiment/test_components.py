"""Components with arguments in a config: validated, shown in the unit key, never mixed up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sociallearn.errors import ConfigError
from sociallearn.experiment.config import ExperimentConfig, load_config
from sociallearn.experiment.runner import run_experiment
from sociallearn.experiment.units import expand_units


def _write(tmp_path: Path, **fields: Any) -> Path:
    path = tmp_path / "grid.yaml"
    base: dict[str, Any] = {"model": "fake", "teachers": 3, "silo_size": 20, "heldout": 2}
    path.write_text(yaml.safe_dump({**base, **fields}), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("methods", "message"),
    [
        ([{"name": "feedback", "rounds": 0}], "methods[0].rounds: Input should be greater than"),
        ([{"name": "feedback", "roundz": 3}], "methods[0].roundz: unknown argument of 'feedback'"),
        (["zero_shot", {"name": "feedback", "rounds": "many"}], "methods[1].rounds: Input should"),
        (
            [{"name": "synthetic_instruction", "merge": "nonsense"}],
            "methods[0].merge: Input should be 'concat', 'summarize' or 'vote'",
        ),
        ([{"name": "zero_shot", "rounds": 2}], "methods[0].rounds: unknown argument"),
        (["feedbak"], "unknown method 'feedbak'. Did you mean 'feedback'?"),
        ([{"rounds": 2}], "expected a name or a mapping with 'name:'"),
    ],
)
def test_bad_component_arguments_are_one_line_naming_file_and_field(
    tmp_path: Path, methods: list[Any], message: str
) -> None:
    path = _write(tmp_path, methods=methods)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert str(path) in text and message in text and "\n" not in text


def test_arguments_are_in_the_unit_key_and_the_yaml_round_trips(tmp_path: Path) -> None:
    cfg = load_config(
        _write(
            tmp_path,
            methods=["feedback", {"name": "feedback", "rounds": 2}],
            aggregators=["random"],
            n=[2],
        )
    )
    keys = [str(k) for k in expand_units(cfg)]
    assert keys == [
        "sms_spam/feedback/n=2/random/seed=0",
        "sms_spam/feedback(rounds=2)/n=2/random/seed=0",
    ]
    again = ExperimentConfig.model_validate(yaml.safe_load(cfg.to_yaml()))
    assert again == cfg
    assert again.fingerprint() == cfg.fingerprint()


def test_two_settings_of_a_method_are_two_rows(tmp_path: Path) -> None:
    cfg = load_config(
        _write(
            tmp_path,
            methods=[
                "synthetic_instruction",
                {"name": "synthetic_instruction", "teachers": 2, "merge": "vote"},
            ],
            limit=3,
            out=str(tmp_path / "run"),
            synthesis={"constrained": False},
        )
    )
    rows = run_experiment(cfg).run_dir_rows
    assert sorted(r["method"] for r in rows) == [
        "synthetic_instruction",
        "synthetic_instruction(merge=vote,teachers=2)",
    ]
    varied = next(r for r in rows if r["method_args"])
    assert varied["method_args"] == {"teachers": 2, "merge": "vote"}
    assert varied["method_name"] == "synthetic_instruction"


def test_more_instruction_writers_than_teachers_fails_before_any_unit(tmp_path: Path) -> None:
    cfg = load_config(
        _write(
            tmp_path,
            methods=["zero_shot", {"name": "synthetic_instruction", "teachers": 9}],
            out=str(tmp_path / "run"),
        )
    )
    with pytest.raises(ConfigError, match=r"teachers=9 but the classroom has 3 teachers"):
        run_experiment(cfg)
    assert (
        not (tmp_path / "run" / "results.jsonl").exists()
        or not (tmp_path / "run" / "results.jsonl").read_text()
    )


def test_a_trusted_only_aggregator_needs_trusted_aggregation(tmp_path: Path) -> None:
    from typing import ClassVar

    from sociallearn.teaching.aggregators import RandomAggregator, aggregators

    class NeedsTrust(RandomAggregator):
        name: ClassVar[str] = "needs_trust_test"
        requires_trusted: ClassVar[bool] = True

    aggregators.register("needs_trust_test", NeedsTrust)
    try:
        with pytest.raises(ConfigError, match="needs a trusted aggregator"):
            load_config(_write(tmp_path, aggregators=["needs_trust_test"]))
        load_config(_write(tmp_path, aggregators=["needs_trust_test"], aggregation="trusted"))
    finally:
        aggregators._factories.pop("needs_trust_test")
