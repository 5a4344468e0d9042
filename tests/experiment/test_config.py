from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sociallearn.errors import ConfigError
from sociallearn.experiment.config import ExperimentConfig, load_config, portable_spec
from sociallearn.experiment.units import expand_units

PRESETS = Path(__file__).parents[2] / "src" / "sociallearn" / "presets"
EXAMPLES = Path(__file__).parents[2] / "examples"


def test_presets_load_and_examples_match() -> None:
    for preset in PRESETS.glob("*.yaml"):
        load_config(preset)
        assert (EXAMPLES / preset.name).read_text() == preset.read_text(), preset.name


def test_unknown_field_names_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("tasks: [sms_spam]\nteacher: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown field 'teacher'"):
        load_config(path)


def test_wrong_type_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("synthesis:\n  temperature: hot\n")
    with pytest.raises(ConfigError, match=r"field 'synthesis.temperature'"):
        load_config(path)


def test_missing_file_is_one_line() -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Path("/nonexistent/x.yaml"))


def test_overrides_win_and_none_is_ignored() -> None:
    cfg = load_config(PRESETS / "sms_spam.yaml", {"teachers": 3, "limit": None, "n": [2]})
    assert cfg.teachers == 3 and cfg.n == [2] and cfg.limit == 100


def test_fingerprint_ignores_output_location_and_grid_axes() -> None:
    a = ExperimentConfig(out=Path("a"))
    assert a.fingerprint() == ExperimentConfig(out=Path("b")).fingerprint()
    # Growing the grid keeps the directory usable ...
    assert a.fingerprint() == ExperimentConfig(seeds=[0, 1, 2], n=[1, 8]).fingerprint()
    assert a.fingerprint() == ExperimentConfig.model_validate({"audit": {"runs": 50}}).fingerprint()
    # ... a setting that changes results does not.
    assert a.fingerprint() != ExperimentConfig(limit=5).fingerprint()
    assert a.fingerprint() != ExperimentConfig(model="fake").fingerprint()
    # Speed-only model options may change between a run and its resumption.
    threads = ExperimentConfig(model_options={"n_threads": 2, "verbose": True})
    assert a.fingerprint() == threads.fingerprint()
    assert a.fingerprint() != ExperimentConfig(model_options={"weights": "f32"}).fingerprint()
    # The same holds for one role's options.
    role_threads = ExperimentConfig(teacher_model_options={"n_threads": 1})
    assert a.fingerprint() == role_threads.fingerprint()
    # Requests in flight to a server, and the order of one model's endpoints, change no result.
    busy = ExperimentConfig(model_options={"max_connections": 8, "concurrency": 8})
    assert a.fingerprint() == busy.fingerprint()
    ab = ExperimentConfig(model_options={"base_url": "http://a:1/v1,http://b:2/v1"})
    ba = ExperimentConfig(model_options={"base_url": ["http://b:2/v1", "http://a:1/v1"]})
    assert ab.fingerprint() == ba.fingerprint() != a.fingerprint()
    student_f32 = ExperimentConfig(student_model_options={"weights": "f32"})
    assert a.fingerprint() != student_f32.fingerprint()


def test_role_options_merge_over_the_shared_ones() -> None:
    cfg = ExperimentConfig(
        model_options={"n_ctx": 4096, "weights": "q8_0"},
        student_model_options={"weights": "f32"},
    )
    assert cfg.teacher_options() == {"n_ctx": 4096, "weights": "q8_0"}
    assert cfg.student_options() == {"n_ctx": 4096, "weights": "f32"}


def test_roles_share_a_model_only_when_spec_and_options_agree() -> None:
    from sociallearn.experiment.workbench import Workbench

    same = Workbench(ExperimentConfig(model="fake"))
    assert same.teacher_model() is same.student_model()
    split = Workbench(ExperimentConfig(model="fake", student_model_options={"latency": 0.001}))
    assert split.teacher_model() is not split.student_model()
    assert split.student_model() is split.student_model()


def test_units_expand_the_grid() -> None:
    cfg = ExperimentConfig(
        tasks=["sms_spam"],
        methods=["zero_shot", "original_examples", "synthetic_examples", "synthetic_instruction"],
        n=[0, 2, 4],
        aggregators=["random", "voting"],
        seeds=[0, 1],
    )
    keys = [str(k) for k in expand_units(cfg)]
    assert len(keys) == len(set(keys))
    # zero-shot and instruction once per seed; originals per n>0; synthetic per n>0 × aggregator
    assert len(keys) == 2 + 2 + 2 * 2 + 2 * 2 * 2
    assert "sms_spam/synthetic_examples/n=4/voting/seed=1" in keys


def test_unknown_method_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown method 'synthetic_exmples'.*Did you mean"):
        expand_units(ExperimentConfig(methods=["synthetic_exmples"]))


def test_unit_seeds_depend_on_the_key_only() -> None:
    keys = expand_units(ExperimentConfig(seeds=[0, 1]))
    seeds = {str(k): k.derived_seed("teach") for k in keys}
    again = {str(k): k.derived_seed("teach") for k in reversed(keys)}
    assert seeds == again and len(set(seeds.values())) == len(seeds)


@pytest.mark.parametrize(
    ("spec", "portable"),
    [
        ("llamacpp:/home/a/models/qwen.gguf", "llamacpp:qwen.gguf"),
        ("llamacpp:~/qwen.gguf", "llamacpp:qwen.gguf"),
        ("llamacpp:smollm2", "llamacpp:smollm2"),
        ("llamacpp", "llamacpp"),
        ("hf:/data/models/qwen-0.5b", "hf:qwen-0.5b"),
        ("hf:./qwen-0.5b", "hf:qwen-0.5b"),
        ("hf:/data/m.gguf", "hf:m.gguf"),
        ("hf:Qwen/Qwen2.5-0.5B", "hf:Qwen/Qwen2.5-0.5B"),  # a hub id: no folder to leave out
        ("openai:qwen", "openai:qwen"),
        ("fake", "fake"),
    ],
)
def test_a_portable_spec_leaves_out_a_local_models_folder(spec: str, portable: str) -> None:
    assert portable_spec(spec) == portable


def test_where_the_inputs_lie_is_not_fingerprinted_but_the_model_files_name_is() -> None:
    def config(**fields: Any) -> ExperimentConfig:
        return ExperimentConfig.model_validate(fields)

    base = config(model="llamacpp:/a/qwen.gguf", data_dir="/a/datasets")
    moved = config(model="llamacpp:/b/qwen.gguf", data_dir="../datasets")
    assert (
        base.fingerprint()
        == moved.fingerprint()
        == config(model="llamacpp:qwen.gguf").fingerprint()
    )
    assert base.path_fingerprint() != moved.path_fingerprint()
    assert base.fingerprint() != config(model="llamacpp:/a/qwen-q8.gguf").fingerprint()
    assert config(data_file="/a/spam.csv").fingerprint() == ExperimentConfig().fingerprint()
    # Nothing path-like set: the two agree (directories of older versions keep resuming).
    assert ExperimentConfig().path_fingerprint() == ExperimentConfig().fingerprint()


def test_fingerprints_of_existing_run_directories_do_not_change() -> None:
    # Pinned values: a new config field must not change them while it keeps its default,
    # or every run directory made before it would be refused.
    assert ExperimentConfig().fingerprint() == "eb0ffc408cb2570c"
    audit_like = ExperimentConfig.model_validate(
        {"model": "fake", "model_options": {"weights": "f32", "n_threads": 1}, "audit": {"runs": 3}}
    )
    assert audit_like.fingerprint() == "664d59492275dd2c"


@pytest.mark.parametrize(
    "path", sorted((Path(__file__).parents[2] / "examples").glob("*.yaml")), ids=lambda p: p.name
)
def test_every_example_config_loads_and_its_components_build(path: Path) -> None:
    """The configs the docs tell users to run are valid (methods, aggregators, their arguments,
    the audit's methods): a typo there would only show after the install."""
    pytest.importorskip("dp_accounting", reason="DP examples need the dp extra")
    from sociallearn.experiment.units import check_components

    config = load_config(path)
    check_components(config)
    assert expand_units(config)
