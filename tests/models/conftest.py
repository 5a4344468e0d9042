"""Fixtures for model-layer tests: the embedded GGUF model and real local llama.cpp servers."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sociallearn.errors import UserError


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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def unused_port() -> int:
    """A local port with nothing listening on it."""
    return free_port()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], limit_s: float = 90.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama.cpp server exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"llama.cpp server at {url} not ready after {limit_s:.0f} s")


def start_server(gguf: Path, *extra: str) -> Iterator[str]:
    """Serve ``gguf`` with llama-cpp-python's OpenAI-compatible server; yield its base URL."""
    if importlib.util.find_spec("llama_cpp.server") is None or (
        importlib.util.find_spec("uvicorn") is None
    ):
        pytest.skip("llama-cpp-python[server] is not installed")
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "1024"]
    cmd += ["--n_threads", "1", "--n_threads_batch", "1", *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_ready(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
