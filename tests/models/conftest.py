"""Fixtures for model-layer tests: the embedded GGUF model and real local llama.cpp servers."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sociallearn.errors import UserError
from sociallearn.models.local_server import free_port, served


def _embedded_path() -> Path:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    from sociallearn.models.embedded import find_embedded_gguf

    try:
        return find_embedded_gguf()
    except UserError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def embedded_gguf() -> Path:
    return _embedded_path()


@pytest.fixture(scope="session")
def embedded_model(embedded_gguf: Path) -> Iterator[Any]:
    """One SmolLM2 instance for the whole session (its KV state carries across tests)."""
    from sociallearn.models.llamacpp import LlamaCppModel

    # One thread: llama.cpp's worker threads spin-wait, so on a busy 2-core machine two threads
    # can be ten times slower than one.
    model = LlamaCppModel.from_spec("smollm2", n_ctx=1024, n_threads=1)
    yield model
    model.close()


@pytest.fixture
def unused_port() -> int:
    """A local port with nothing listening on it."""
    return free_port()


def start_server(gguf: Path, *extra: str) -> Iterator[str]:
    """Serve ``gguf`` with llama-cpp-python's OpenAI-compatible server; yield its base URL."""
    if importlib.util.find_spec("llama_cpp.server") is None or (
        importlib.util.find_spec("uvicorn") is None
    ):
        pytest.skip("llama-cpp-python[server] is not installed")
    port = free_port()
    cmd = [sys.executable, "-m", "sociallearn.models.llamacpp_serve", "--model", str(gguf)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "1024"]
    cmd += ["--n_threads", "1", "--n_threads_batch", "1", *extra]
    with served(cmd, port, limit_s=90) as url:
        yield url


@pytest.fixture(scope="module")
def server_url(embedded_gguf: Path) -> Iterator[str]:
    """The embedded GGUF served as is (no BOS token: echo log-probs come back misaligned)."""
    yield from start_server(embedded_gguf)


@pytest.fixture(scope="module")
def bos_server_url(embedded_gguf: Path) -> Iterator[str]:
    """The embedded GGUF served with a BOS token, for which echo log-probs are aligned."""
    yield from start_server(
        embedded_gguf, "--kv_overrides", "tokenizer.ggml.add_bos_token=bool:true"
    )


@pytest.fixture
def f32_server_url(embedded_gguf: Path) -> Iterator[str]:
    """The embedded GGUF's float32 copy served: another model file than ``server_url``'s."""
    from sociallearn.models.gguf_weights import reencoded_gguf

    yield from start_server(reencoded_gguf(embedded_gguf, "f32"))
