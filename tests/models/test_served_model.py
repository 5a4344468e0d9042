"""What an OpenAI-compatible server lists as its model: one digest for all of a model's
endpoints, a refusal when they list different models, and a cache key that follows it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fault_server import FaultServer
from sociallearn.errors import UserError
from sociallearn.models.base import GenerationParams
from sociallearn.models.cache import CachedModel
from sociallearn.models.openai_compat import OpenAICompatModel

pytest.importorskip("openai")

PARAMS = GenerationParams(max_tokens=8, temperature=0.0, seed=1)
VLLM_ENTRY = {
    "id": "qwen",
    "object": "model",
    "owned_by": "vllm",
    "root": "/models/qwen2.5-0.5b",
    "parent": None,
    "max_model_len": 4096,
}


def _entry(created: int, **changes: Any) -> dict[str, Any]:
    # vLLM writes a new time and new permission ids into every answer: neither names the model.
    permission = [{"id": f"modelperm-{created}", "created": created}]
    return {**VLLM_ENTRY, "created": created, "permission": permission, **changes}


@pytest.fixture
def servers() -> Iterator[tuple[FaultServer, FaultServer]]:
    with FaultServer(lifetime_s=60) as first, FaultServer(lifetime_s=60) as second:
        yield first, second


def _model(*servers: FaultServer, name: str = "qwen") -> OpenAICompatModel:
    return OpenAICompatModel(name, base_url=[s.url for s in servers], max_tries=1, timeout=5.0)


def test_one_digest_names_the_model_not_the_request(
    servers: tuple[FaultServer, FaultServer],
) -> None:
    first, second = servers
    first.models = [_entry(1)]
    digest = _model(first).content_digest
    assert digest is not None and len(digest) == 16
    first.models = [_entry(2)]  # asked again: another time, other permission ids
    assert _model(first).content_digest == digest
    second.models = [_entry(3)]
    assert _model(first, second).content_digest == digest  # both endpoints list it
    first.models = [_entry(1, max_model_len=2048)]
    assert _model(first).content_digest != digest


def test_which_entry_names_the_model(servers: tuple[FaultServer, FaultServer]) -> None:
    first, _ = servers
    assert _model(first).content_digest is None  # no model list (404): no digest
    # llama.cpp's servers list their one model under its path and answer any name with it.
    first.models = [{"id": "/srv/m.gguf", "object": "model", "owned_by": "llamacpp"}]
    assert _model(first, name="anything").content_digest is not None
    # A longer list (OpenAI's): the entry whose id is the name, else none.
    first.models = [_entry(1), {**VLLM_ENTRY, "id": "other", "root": "/models/other"}]
    assert _model(first).content_digest == _model(first, name="qwen").content_digest
    assert _model(first, name="absent").content_digest is None
    first.models = [_entry(1)]
    assert _model(first).content_digest == _model(first, name="qwen").content_digest


def test_endpoints_listing_different_models_are_refused(
    servers: tuple[FaultServer, FaultServer],
) -> None:
    first, second = servers
    first.models = [_entry(1)]
    second.models = [_entry(1, root="/models/qwen2.5-0.5b-q8")]
    with pytest.raises(UserError) as info:
        _model(first, second).generate(["Text: hi\nClass:"], PARAMS)
    message = str(info.value)
    assert "\n" not in message and "serve different models" in message
    assert first.url in message and second.url in message and "qwen2.5-0.5b-q8" in message
    assert first.requests == second.requests == 0  # refused before any request
    # An endpoint without a list is left out: the other one names the model.
    second.models = None
    assert _model(first, second).content_digest == _model(first).content_digest


def test_a_server_restarted_with_another_model_is_not_served_cached_answers(
    servers: tuple[FaultServer, FaultServer], tmp_path: Path
) -> None:
    server, _ = servers
    cache = tmp_path / "cache.sqlite"
    prompts = ["Text: Win cash now\nClass:", "Text: Lunch at one?\nClass:"]

    def asked(entry: dict[str, Any]) -> int:
        server.models = [entry]
        before = server.requests
        CachedModel(_model(server), cache).generate(prompts, PARAMS)
        return server.requests - before

    assert asked(_entry(1)) == 2
    assert asked(_entry(2)) == 0  # the same model: answered from the cache
    assert asked(_entry(3, root="/models/another-model")) == 2  # another model: asked again
    assert asked(_entry(4)) == 0
