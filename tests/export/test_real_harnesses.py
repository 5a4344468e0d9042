"""The exported task built by the real lm-evaluation-harness and inspect_ai (``export-check``).

Each library loads the exported file as a user would and builds the requests it would send a
model; every context must be a text the fake student model was given in the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from export_fixtures import RecordedRun
from sociallearn.export import export_run

pytestmark = pytest.mark.harness


def _lm_eval_instances(task_dir: Path, yaml_path: Path) -> tuple[dict[str, Any], list[Any]]:
    tasks_module = pytest.importorskip(
        "lm_eval.tasks", reason="lm-eval is not installed (pip install 'sociallearn[export-check]')"
    )
    config = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    manager = tasks_module.TaskManager(include_path=str(task_dir), include_defaults=False)
    task = manager.load([config["task"]])["tasks"][config["task"]]
    task.build_all_requests(rank=0, world_size=1)
    return config, task.instances


def test_lm_eval_builds_the_student_inputs(generated_run: RecordedRun, tmp_path: Path) -> None:
    paths = export_run(generated_run.run_dir, "lm-eval", out_dir=tmp_path)
    for yaml_path in sorted(p for p in paths if p.suffix == ".yaml"):
        config, instances = _lm_eval_instances(tmp_path, yaml_path)
        assert len(instances) == 5, yaml_path.name
        for instance in instances:
            context, generation = instance.arguments
            assert context in generated_run.prompts, yaml_path.name
            assert generation["until"] == ["\n\n", "\n"]
        # Taught examples are few-shot samples (n=2); instructions are in the description.
        assert config["num_fewshot"] == (2 if "_examples__" in yaml_path.name else 0)


def test_lm_eval_multiple_choice_scores_the_student_continuations(
    scored_run: RecordedRun, tmp_path: Path
) -> None:
    paths = export_run(scored_run.run_dir, "lm-eval", out_dir=tmp_path)
    for yaml_path in sorted(p for p in paths if p.suffix == ".yaml"):
        _, instances = _lm_eval_instances(tmp_path, yaml_path)
        assert len(instances) == 5 * 2  # one loglikelihood request per item and label
        for instance in instances:
            assert tuple(instance.arguments) in scored_run.scored, yaml_path.name


def test_inspect_sends_the_student_inputs(
    generated_run: RecordedRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inspect_ai = pytest.importorskip(
        "inspect_ai", reason="inspect_ai is not installed (pip install 'sociallearn[export-check]')"
    )
    paths = export_run(generated_run.run_dir, "inspect", out_dir=tmp_path / "tasks")
    files = sorted(p for p in paths if p.suffix == ".py")
    assert len(files) == 5
    monkeypatch.chdir(tmp_path / "tasks")  # inspect resolves task files relative to the cwd
    from inspect_ai.model import ModelOutput, ModelUsage, get_model

    for path in files:
        # mockllm answers "spam"; usage is given so it does not fetch a tiktoken vocabulary.
        outputs = [ModelOutput.from_content("mockllm/model", "spam") for _ in range(5)]
        for output in outputs:
            output.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
        model = get_model("mockllm/model", custom_outputs=outputs)
        [log] = inspect_ai.eval(
            path.name, model=model, display="none", log_dir=str(tmp_path / "logs")
        )
        assert log.status == "success", log.error
        assert log.samples is not None and len(log.samples) == 5
        for sample in log.samples:
            sent = [m for m in sample.messages if m.role == "user"]
            assert len(sent) == 1
            assert sent[0].text in generated_run.prompts, path.name
            # The exported answer pattern reads "spam" out of the reply.
            [score] = (sample.scores or {}).values()
            assert score.value == ("C" if sample.target == "spam" else "I")
