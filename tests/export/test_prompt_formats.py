"""Each prompt export, read back by its format's own rule, gives the text the student was given.

"The student was given" is what the fake student model actually received during the run
(recorded in conftest), not sociallearn's rendering recomputed here.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from export_fixtures import RecordedRun, docs_of
from sociallearn.export import export_run
from sociallearn.export.lm_eval import lm_eval_context, lm_eval_continuations
from sociallearn.export.source import load_units


def _by_suffix(paths: list[Path], suffix: str) -> list[Path]:
    return sorted(p for p in paths if p.name.endswith(suffix))


def _units(run: RecordedRun) -> int:
    return len(load_units(run.run_dir))


def test_text_export_is_the_prompt_before_every_query(generated_run: RecordedRun) -> None:
    paths = export_run(generated_run.run_dir, "text")
    assert len(paths) == _units(generated_run) == 5
    units = {u.slug: u for u in load_units(generated_run.run_dir)}
    for path in paths:
        unit = units[path.stem]
        text = path.read_bytes().decode("utf-8")
        inputs = {p for p in generated_run.prompts if p.startswith(text)}
        # The rule of the text format: the file's text, then the query.
        assert len(inputs) >= unit.row["n_items"], path.name
        assert text == unit.prompt
    zero = next(p for p in paths if "zero_shot" in p.name)
    assert zero.read_text(encoding="utf-8") == ""


def test_json_export_rule_reproduces_each_student_input(generated_run: RecordedRun) -> None:
    lm_paths = export_run(generated_run.run_dir, "lm-eval")
    json_paths = export_run(generated_run.run_dir, "json")
    for path in json_paths:
        document = json.loads(path.read_text(encoding="utf-8"))
        docs = docs_of(next(p for p in lm_paths if p.name == path.stem + ".docs.jsonl"))
        assert len(docs) == document["n_items"] == 5
        for doc in docs:
            fields = {name: doc[name] for name in document["query"]["fields"]}
            rendered = document["prompt"] + document["query"]["input_template"].format(**fields)
            assert rendered in generated_run.prompts
        if document["method"] == "original_examples":
            assert len(document["examples"]) == 2
            assert document["instruction"] is None


def test_lm_eval_export_reproduces_each_student_input(generated_run: RecordedRun) -> None:
    paths = export_run(generated_run.run_dir, "lm-eval")
    yamls = _by_suffix(paths, ".yaml")
    assert len(yamls) == 5
    modes = {}
    for path in yamls:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        docs = docs_of(Path(config["dataset_kwargs"]["data_files"]["test"]))
        assert len(docs) == 5
        for doc in docs:
            assert lm_eval_context(config, doc) in generated_run.prompts, path.name
        assert config["output_type"] == "generate_until"
        assert config["generation_kwargs"]["until"] == ["\n\n", "\n"]  # the task's stops
        modes[path.stem.split("__")[1]] = (config["num_fewshot"], bool(config["description"]))
    # Taught examples become few-shot samples; instructions the description.
    assert modes["original_examples"] == (2, False)
    assert modes["zero_shot"] == (0, False)
    assert modes["hand_written"] == (0, True)
    assert modes["synthetic_instruction"][0] == 0


def test_lm_eval_multiple_choice_scores_the_student_continuations(scored_run: RecordedRun) -> None:
    paths = export_run(scored_run.run_dir, "lm-eval")
    for path in _by_suffix(paths, ".yaml"):
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert config["output_type"] == "multiple_choice"
        assert config["metadata"]["sociallearn_calibrated"] is True
        docs = docs_of(Path(config["dataset_kwargs"]["data_files"]["test"]))
        for doc in docs:
            context = lm_eval_context(config, doc)
            for continuation in lm_eval_continuations(config):
                assert (context, continuation) in scored_run.scored, path.name
            labels = config["doc_to_choice"]
            assert labels[doc["label_index"]] == doc["target"]


def _fake_inspect(captured: list[dict[str, Any]]) -> dict[str, types.ModuleType]:
    """Just enough of inspect_ai's API for a task file to build its Task (no model is run)."""

    def module(name: str, **attrs: Any) -> types.ModuleType:
        mod = types.ModuleType(name)
        for key, value in attrs.items():
            setattr(mod, key, value)
        return mod

    def sample(**kwargs: Any) -> dict[str, Any]:
        captured.append(kwargs)
        return kwargs

    return {
        "inspect_ai": module("inspect_ai", Task=lambda **kw: kw, task=lambda f: f),
        "inspect_ai.dataset": module(
            "inspect_ai.dataset", Sample=sample, MemoryDataset=lambda s, name: s
        ),
        "inspect_ai.model": module("inspect_ai.model", GenerateConfig=lambda **kw: kw),
        "inspect_ai.scorer": module("inspect_ai.scorer", pattern=lambda p, ignore_case: p),
        "inspect_ai.solver": module("inspect_ai.solver", generate=lambda: "generate"),
    }


def test_inspect_task_file_sends_each_student_input(
    generated_run: RecordedRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = export_run(generated_run.run_dir, "inspect")
    files = _by_suffix(paths, ".py")
    assert len(files) == 5
    for path in files:
        captured: list[dict[str, Any]] = []
        for name, mod in _fake_inspect(captured).items():
            monkeypatch.setitem(sys.modules, name, mod)
        namespace: dict[str, Any] = {"__file__": str(path), "__name__": "exported"}
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
        task = namespace[path.stem]()
        assert task["config"]["stop_seqs"] == ["\n\n", "\n"]
        assert len(captured) == 5
        for sample in captured:
            assert sample["input"] in generated_run.prompts, path.name
