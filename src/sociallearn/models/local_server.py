"""Starting a local OpenAI-compatible server process and waiting until it answers.

Used by the tests and benchmarks that measure the ``openai`` backend against real servers
(llama-cpp-python's, vLLM's): the server runs as a child process on a free loopback port, is
ready once ``GET {url}/models`` answers 200, and is stopped (terminate, then kill) on exit.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path


def free_port() -> int:
    """A loopback port nothing listens on (at the moment of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(url: str) -> bool:
    """Whether an OpenAI-compatible server at ``url`` lists its models."""
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=2) as resp:
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def served(
    cmd: Sequence[str],
    port: int,
    *,
    limit_s: float = 120.0,
    log: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Run ``cmd`` (a server listening on ``port``); yield its base URL once it answers.

    Raises RuntimeError, with the end of ``log`` when given, if the process exits first or is
    not ready within ``limit_s`` seconds.
    """
    url = f"http://127.0.0.1:{port}/v1"
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(log.open("wb")) if log is not None else subprocess.DEVNULL
        proc = subprocess.Popen(
            list(cmd), stdout=out, stderr=subprocess.STDOUT, env=None if env is None else dict(env)
        )
        try:
            deadline = time.monotonic() + limit_s
            while not answers(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    why = (
                        f"exited with code {proc.returncode}"
                        if proc.returncode is not None
                        else f"not ready after {limit_s:.0f} s"
                    )
                    tail = log.read_text(errors="replace")[-1500:] if log is not None else ""
                    raise RuntimeError(f"the server at {url} {why}" + (f": {tail}" if tail else ""))
                time.sleep(0.25)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
