"""Smoke runs of every built-in task on the embedded model and the real data (tiny sizes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sociallearn.models.base import GenerationParams
from sociallearn.tasks import get_task, load_task_data, task_grammar, task_names

pytestmark = [pytest.mark.embedded, pytest.mark.data]


@pytest.fixture(scope="module")
def model() -> Iterator[Any]:
    pytest.importorskip("llama_cpp")
    from sociallearn.models.llamacpp import LlamaCppModel

    instance = LlamaCppModel.from_spec("smollm2", n_ctx=2048, n_threads=1)
    yield instance
    instance.close()


@pytest.mark.parametrize("name", task_names())
def test_student_answers_parse_on_real_items(name: str, model: Any, data_dir: Path) -> None:
    task = get_task(name)
    data = load_task_data(task, data_dir=data_dir, test_size=2)
    prompt = task.render_many(data.pool[:2])
    params = GenerationParams(
        max_tokens=min(task.answer_max_tokens, 48), stop=task.stop_sequences(), seed=0
    )
    completions = model.generate([prompt + task.render_query(e) for e in data.test], params)
    assert len(completions) == 2
    for completion in completions:
        assert task.separator not in completion.text
        # Whatever a 135M model says, judging must give a clean verdict.
        assert isinstance(task.is_correct(completion.text, data.test[0]), bool)


@pytest.mark.parametrize("name", ["sms_spam", "random_insertion"])
def test_grammar_constrained_generation_parses(name: str, model: Any, data_dir: Path) -> None:
    task = get_task(name)
    data = load_task_data(task, data_dir=data_dir, test_size=2)
    prompt = task.render_many(data.pool[:3])
    params = GenerationParams(max_tokens=96, temperature=0.8, seed=1, grammar=task_grammar(task))
    completion = model.generate([prompt], params)[0]
    if completion.finish_reason == "length":
        pytest.skip("the model ran out of tokens before ending the example")
    assert len(task.parse_examples(completion.text)) == 1
