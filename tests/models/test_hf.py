"""The transformers backend on the real embedded model, checked against the llama.cpp backend.

transformers loads the embedded Q4_1 GGUF by dequantising it to float32 (converted once into a
model directory, see ``converted_directory``). llama.cpp with ``weights=f32`` runs exactly those
float weights, so the two backends compute the same function and differ only by rounding:
llama.cpp keeps keys and values in f16 (measured on 30 SMS items x 2 labels behind a 4-shot
prompt: per-token |difference| mean 0.004, max 0.024 nats; greedy text identical). The shipped
Q4_1 kernels also round activations to 8 bits before each product, which moves log-probs much
more (same items: mean 0.077, max 0.55 nats), so that comparison gets a looser bound.

Tests marked ``hf`` need the ``[hf]`` extra; they skip without it, and fail instead when
``SOCIALLEARN_REQUIRE_HF`` is set (CI sets it, so a missing install cannot pass as a skip).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sociallearn.errors import UserError
from sociallearn.models.base import GenerationParams, ScoreRequest
from sociallearn.models.registry import create_model

# Bounds (nats), about twice the largest values measured (see the module doc).
F32_TOKEN_MAX, F32_TOKEN_MEAN = 0.05, 0.01
Q4_TOKEN_MAX, Q4_TOKEN_MEAN = 1.0, 0.15
_HF_MODULES = ("torch", "transformers", "gguf", "accelerate")
CLI = (sys.executable, "-m", "sociallearn.cli")


def test_missing_transformers_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(UserError) as info:
        create_model("hf:some/model")
    message = str(info.value)
    assert "pip install" in message and "transformers" in message
    assert "\n" not in message


def test_missing_model_name() -> None:
    with pytest.raises(UserError, match="hf:<model id or path>"):
        create_model("hf")


def test_missing_gguf_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"model file not found \(expected a \.gguf file\)"):
        create_model(f"hf:{tmp_path / 'absent.gguf'}")


def _require_hf() -> None:
    missing = [m for m in _HF_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        reason = (
            f"the [hf] extra is not installed ({', '.join(missing)} missing): "
            "pip install torch==2.13.0 -e '.[hf]'"
        )
        if os.environ.get("SOCIALLEARN_REQUIRE_HF"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def hf_model(embedded_gguf: Path) -> Iterator[Any]:
    _require_hf()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")  # everything is local; never ask the hub
        model = create_model("hf:smollm2", n_threads=1)
    yield model


@pytest.fixture(scope="module")
def f32_model(embedded_gguf: Path) -> Iterator[Any]:
    """llama.cpp on the float32 copy of the GGUF: the same weights transformers runs."""
    from sociallearn.models.llamacpp import LlamaCppModel

    model = LlamaCppModel.from_spec("smollm2", weights="f32", n_ctx=1024, n_threads=1)
    yield model
    model.close()


@pytest.fixture(scope="module")
def sms_requests() -> list[ScoreRequest]:
    """Both labels of 8 real SMS test items behind a 2-shot prompt (label scoring)."""
    from sociallearn.tasks.registry import get_task, load_task_data

    task = get_task("sms_spam")
    data = load_task_data(task)
    shots = task.render_many(data.pool[:2])
    return [
        ScoreRequest(shots + task.render_query(item), f" {label}")
        for item in data.test[:8]
        for label in task.labels
    ]


def _token_differences(a: list[Any], b: list[Any]) -> list[float]:
    assert [s.n_tokens for s in a] == [s.n_tokens for s in b]  # the same tokenization
    return [
        abs(x - y)
        for p, q in zip(a, b, strict=True)
        for x, y in zip(p.token_logprobs, q.token_logprobs, strict=True)
    ]


def _choices(scores: list[Any]) -> list[int]:
    pairs = zip(scores[0::2], scores[1::2], strict=True)
    return [0 if first.logprob_sum > second.logprob_sum else 1 for first, second in pairs]


@pytest.mark.hf
def test_scores_match_llamacpp_on_the_same_float_weights(
    hf_model: Any, f32_model: Any, sms_requests: list[ScoreRequest]
) -> None:
    ours, theirs = hf_model.score(sms_requests), f32_model.score(sms_requests)
    diffs = _token_differences(ours, theirs)
    assert max(diffs) < F32_TOKEN_MAX, max(diffs)
    assert statistics.mean(diffs) < F32_TOKEN_MEAN, statistics.mean(diffs)
    assert _choices(ours) == _choices(theirs)  # the same label wins for every item


@pytest.mark.hf
def test_scores_close_to_the_quantised_kernels(
    hf_model: Any, embedded_model: Any, sms_requests: list[ScoreRequest]
) -> None:
    diffs = _token_differences(hf_model.score(sms_requests), embedded_model.score(sms_requests))
    assert max(diffs) < Q4_TOKEN_MAX, max(diffs)
    assert statistics.mean(diffs) < Q4_TOKEN_MEAN, statistics.mean(diffs)


@pytest.mark.hf
def test_prefix_reuse_gives_the_scores_of_full_evaluation(
    hf_model: Any, sms_requests: list[ScoreRequest]
) -> None:
    requests = sms_requests[:8]  # 4 items: evaluating each in full is the slow part
    before = hf_model.decoded_tokens
    reused = hf_model.score(requests)
    read_with_reuse = hf_model.decoded_tokens - before
    hf_model.prefix_reuse = False
    try:
        before = hf_model.decoded_tokens
        full = hf_model.score(requests)
        read_in_full = hf_model.decoded_tokens - before
    finally:
        hf_model.prefix_reuse = True
    assert max(_token_differences(reused, full)) < 1e-3
    assert read_with_reuse < read_in_full / 2  # the shared 2-shot prompt is read once


@pytest.mark.hf
def test_greedy_text_matches_llamacpp_up_to_a_near_tie(hf_model: Any, f32_model: Any) -> None:
    prompt = "The capital of France is"
    params = GenerationParams(max_tokens=16, temperature=0.0)
    [ours] = hf_model.generate([prompt], params)
    [theirs] = f32_model.generate([prompt], params)
    # Compare up to the first step where the top two tokens are within rounding of each other.
    ids = hf_model._ids(prompt)
    new = hf_model._ids(prompt + ours.text)[len(ids) :]
    safe = len(new)
    for step in range(len(new)):
        top = hf_model._eval(ids + new[:step], logits_from=len(ids) + step - 1)[-1].topk(2)
        if float(top.values[0] - top.values[1]) < 0.1:
            safe = step
            break
    assert safe >= 4, "the greedy path hits a near-tie at once; pick another prompt"
    prefix = hf_model._tok.decode(new[:safe])
    assert ours.text.startswith(prefix) and theirs.text.startswith(prefix)
    assert ours.constrained is False and ours.n_tokens == 16


@pytest.mark.hf
def test_next_token_distributions_match_llamacpp(hf_model: Any, f32_model: Any) -> None:
    """The capability private generation needs: the whole vocabulary, texts as llama.cpp
    gives them, log-probs within the float tolerance of the same weights."""
    import math

    import numpy as np

    prompts = ["Text: win a free phone now\nClass: spam\n\nText: lunch at noon?\nClass:", "Hi"]
    ours, theirs = hf_model.next_token_logprobs(prompts), f32_model.next_token_logprobs(prompts)
    for a, b in zip(ours, theirs, strict=True):
        assert a.complete and len(a.tokens) == len(b.tokens)
        assert sum(math.exp(lp) for lp in a.logprobs) == pytest.approx(1.0, abs=1e-6)
        top = np.argsort(-np.asarray(b.logprobs))[:20]
        assert [a.tokens[k] for k in top] == [b.tokens[k] for k in top]
        assert max(abs(a.logprobs[k] - b.logprobs[k]) for k in top) < F32_TOKEN_MAX
    [five] = hf_model.next_token_logprobs([prompts[0]], top=5)
    assert len(five.tokens) == 5 and not five.complete
    assert five.logprobs[0] == pytest.approx(max(ours[0].logprobs), abs=1e-4)  # cached KV


@pytest.mark.hf
def test_context_length_is_known_and_enforced(hf_model: Any) -> None:
    assert hf_model.n_ctx == 8192  # SmolLM2's position embeddings, from the GGUF's metadata
    assert hf_model.count_tokens("Hello world") == 2
    with pytest.raises(UserError, match=r"context overflow: 8193 tokens > the model's 8192"):
        hf_model.score([ScoreRequest("hi " * 8192, " there")])


@pytest.mark.hf
def test_a_device_torch_cannot_use_is_one_clear_error(embedded_gguf: Path) -> None:
    _require_hf()
    import torch

    with pytest.raises(UserError, match="expected a torch device such as cpu or cuda, got 'gpu'"):
        create_model("hf:smollm2", device="gpu")
    if not torch.cuda.is_available():  # this machine: a CPU build of torch
        with pytest.raises(UserError, match="sees no CUDA device") as info:
            create_model("hf:smollm2", device="cuda")
        assert "\n" not in str(info.value)


@pytest.mark.hf
def test_the_model_id_names_what_changes_results(hf_model: Any) -> None:
    assert hf_model.model_id == "hf:smollm2"  # float32 on the CPU: the plain name
    # torch's CUDA generator draws other samples from a seed than its CPU one (measured on an
    # H200: benchmarks/bench_hf_device.py), so a cache must not serve one device's to the other.
    on_gpu = copy.copy(hf_model)
    on_gpu._device, on_gpu._dtype = hf_model._torch.device("cuda:1"), "bfloat16"
    assert on_gpu.model_id == "hf:smollm2@dtype=bfloat16@device=cuda"


@pytest.mark.hf
def test_seeded_samples_are_reproducible_and_differ(hf_model: Any) -> None:
    params = GenerationParams(max_tokens=12, temperature=1.0, seed=3, stop=("\n\n",))
    first = hf_model.generate(["Text: hi there\nClass:"] * 2, params)
    again = hf_model.generate(["Text: hi there\nClass:"] * 2, params)
    assert [c.text for c in first] == [c.text for c in again]
    assert first[0].text != first[1].text  # sample index 0 and 1 use different seeds
    for completion in first:
        assert "\n\n" not in completion.text and completion.logprob_sum < 0


def test_where_a_spec_loads_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory, or a hub id's snapshot in the local hub cache; ``None`` for the rest."""
    pytest.importorskip("huggingface_hub")
    import huggingface_hub.constants

    from sociallearn.models.hf import resolve_local_model

    snapshot = _hub_snapshot(tmp_path / "hub", "acme/tiny", {"config.json": tmp_path / "c"})
    (tmp_path / "c").write_text("{}")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert resolve_local_model("acme/tiny") == snapshot
    assert resolve_local_model(str(tmp_path)) == tmp_path
    assert resolve_local_model("acme/not-cached") is None
    assert resolve_local_model("not a hub id") is None


def _hub_snapshot(cache: Path, repo: str, files: dict[str, Path]) -> Path:
    """The hub cache's layout: refs/main names the snapshot, whose files link to the blobs."""
    folder = cache / ("models--" + repo.replace("/", "--"))
    snapshot = folder / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text("0123abcd")
    for name, target in files.items():
        (snapshot / name).symlink_to(target)
    return snapshot


@pytest.mark.hf
def test_a_cached_hub_id_runs_its_snapshot_without_the_hub(
    hf_model: Any, sms_requests: list[ScoreRequest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``hf:<hub id>`` in the local cache loads that snapshot (hashed) with no hub to reach."""
    import huggingface_hub.constants

    from sociallearn.models.embedded import find_embedded_gguf
    from sociallearn.models.file_digest import model_digest
    from sociallearn.models.hf import converted_directory

    directory = converted_directory(find_embedded_gguf())
    files = {p.name: p for p in directory.iterdir() if p.is_file()}
    snapshot = _hub_snapshot(tmp_path / "hub", "acme/smollm2-f32", files)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")  # no hub
    model = create_model("hf:acme/smollm2-f32", n_threads=1)
    assert model.model_id == "hf:acme/smollm2-f32"
    digest = getattr(model, "content_digest", None)
    assert digest == model_digest(snapshot) == model_digest(directory)
    # The same float weights as the embedded GGUF's conversion: the same scores.
    ours, theirs = model.score(sms_requests[:4]), hf_model.score(sms_requests[:4])
    assert [s.token_logprobs for s in ours] == [s.token_logprobs for s in theirs]


@pytest.mark.hf
def test_sociallearn_run_with_the_hf_backend(tmp_path: Path) -> None:
    """A small real run: the student and teachers are the embedded model run by transformers."""
    _require_hf()
    config = tmp_path / "hf.yaml"
    # Small budgets: without a grammar the 135M model's free-form candidates rarely parse, so
    # every teacher round is spent; one example, one sample of 32 tokens per round keeps it short.
    config.write_text(
        "tasks: [sms_spam]\nmethods: [zero_shot, original_examples, synthetic_examples]\n"
        "n: [1]\naggregators: [random]\nseeds: [0]\nmodel_options: {n_threads: 1}\n"
        "teachers: 2\nsilo_size: 6\nheldout: 0\nanswer_mode: score\nlimit: 6\n"
        "synthesis: {n_gen: 2, samples: 1, top_k: 1, max_tokens: 32, attempts: 1,"
        " constrained: false, teachers_per_round: 1}\n"
    )
    out = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [*CLI, "run", str(config), "--out", str(out), "--model", "hf:smollm2"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert {r["method"] for r in rows} == {"zero_shot", "original_examples", "synthetic_examples"}
    assert all(r["student_model"] == "hf:smollm2" and r["n_items"] == 6 for r in rows)
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in rows)
    [synthetic] = [r for r in rows if r["method"] == "synthetic_examples"]
    assert synthetic["leakage"]["n_sampled"] > 0  # teachers really generated through transformers
    assert synthetic["leakage"]["constrained"] is False  # no grammar support in this backend
    assert synthetic["n_examples_taught"] + synthetic["shortfall"] == 1
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["platform"]["libraries"]["transformers"]
    assert manifest["platform"]["llama_cpp"]["features"]
