"""On the real embedded model: exported prompts are the inputs the model was given (about 40 s).

Synthetic examples written by a real model carry odd spacing and punctuation; the lm-eval export
must still take them apart into few-shot samples that lm-eval joins back into the same text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from export_fixtures import docs_of
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.runner import run_experiment
from sociallearn.export import export_run
from sociallearn.export.lm_eval import lm_eval_context
from sociallearn.models.base import GenerationParams
from sociallearn.models.cache import CachedModel

pytestmark = pytest.mark.embedded


def test_lm_eval_export_of_a_real_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given: set[str] = set()
    generate = CachedModel.generate

    def recording(self: CachedModel, prompts: Any, params: GenerationParams) -> Any:
        given.update(prompts)  # every role's inputs; the student's are among them
        return generate(self, prompts, params)

    monkeypatch.setattr(CachedModel, "generate", recording)
    config = ExperimentConfig.model_validate(
        {
            "tasks": ["sms_spam_class"],
            "methods": ["original_examples", "synthetic_examples"],
            "n": [2],
            "aggregators": ["random"],
            "model": "llamacpp:smollm2",
            "teachers": 3,
            "silo_size": 12,
            "heldout": 2,
            "synthesis": {"n_gen": 2, "samples": 2, "top_k": 1, "max_tokens": 64},
            "limit": 3,
            "out": tmp_path / "run",
        }
    )
    run_experiment(config)
    paths = export_run(tmp_path / "run", "lm-eval")
    yamls = sorted(p for p in paths if p.suffix == ".yaml")
    assert len(yamls) == 2
    for path in yamls:
        exported = yaml.safe_load(path.read_text(encoding="utf-8"))
        docs = docs_of(Path(exported["dataset_kwargs"]["data_files"]["test"]))
        assert len(docs) == 3
        for doc in docs:
            assert lm_eval_context(exported, doc) in given, path.name
    synthetic = yaml.safe_load(next(p for p in yamls if "synthetic" in p.name).read_text())
    # Both taught examples came apart as few-shot samples (else num_fewshot would be 0).
    assert synthetic["num_fewshot"] == len(synthetic["fewshot_config"]["samples"]) >= 1
