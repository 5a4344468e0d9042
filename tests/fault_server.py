"""A fault-injecting OpenAI-compatible completions server on 127.0.0.1, for reliability tests.

Healthy, it answers ``/v1/completions`` deterministically (text and log-probs are a hash of the
prompt and seed), with the fields real servers send: ``text``, ``logprobs.tokens``,
``token_logprobs`` and ``text_offset`` (counted from the prompt's start), and for ``echo=True``
the prompt's own tokens with a ``None`` first log-prob plus one generated token. A fault *mode*
replaces the answer of chosen requests with one kind of misbehaviour:

    null_text, null_logprobs, short_logprobs, string_logprobs, invalid_json, html,
    empty_choices, rate_limit (429 + Retry-After), error_500, slow, reset

``models`` (a list of model entries) is what ``GET /v1/models`` answers; ``None``, a 404.

``every=2`` hits every second request (the first one included); ``limit=k`` only the first k
requests; both count requests from the moment the mode is set. The server lives in a daemon
thread for at most ``lifetime_s`` seconds, whatever the test does.

Example::

    with FaultServer() as server:
        server.set_mode("null_text", every=2)
        model = OpenAICompatModel("m", base_url=server.url)
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

MODES = (
    "ok",
    "null_text",
    "null_logprobs",
    "short_logprobs",
    "string_logprobs",
    "invalid_json",
    "html",
    "empty_choices",
    "rate_limit",
    "error_500",
    "slow",
    "reset",
)
# Answers of the healthy server: short, free of stop strings, parseable by a label task.
_ANSWERS = (" spam", " not spam", " Free prize, call now\nClass: spam", " See you at 8\nClass: ham")
_TOKEN = re.compile(r"\s*\S+|\s+")


def _hash(*parts: object) -> int:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _logprob(prefix: str, token: str) -> float:
    return -round(0.05 + (_hash(prefix, token) % 400) / 100, 4)


def healthy_choice(body: dict[str, Any]) -> dict[str, Any]:
    """What a correct server answers to one completions request."""
    prompt = str(body.get("prompt", ""))
    seed = body.get("seed")
    if body.get("echo"):
        tokens = [*_tokens(prompt), " 7"]
        values: list[float | None] = [None]
        values += [_logprob(prompt[:20], t) for t in tokens[1:]]
        text = prompt + " 7"
        start = 0
    else:
        text = _ANSWERS[_hash(prompt, seed) % len(_ANSWERS)]
        for stop in body.get("stop") or []:
            if stop and stop in text:
                text = text[: text.index(stop)]
        tokens = _tokens(text)[: int(body.get("max_tokens") or 16)]
        text = "".join(tokens)
        values = [_logprob(prompt[-20:], t) for t in tokens]
        start = len(prompt)
    offsets, pos = [], start
    for token in tokens:
        offsets.append(pos)
        pos += len(token)
    return {
        "index": 0,
        "text": text,
        "finish_reason": "stop",
        "logprobs": {"tokens": tokens, "token_logprobs": values, "text_offset": offsets},
    }


class FaultServer:
    """A local OpenAI-compatible server whose answers can be broken on purpose."""

    def __init__(self, lifetime_s: float = 180.0) -> None:
        self.mode = "ok"
        self.every = 1
        self.limit: int | None = None
        self.retry_after = "1"
        self.delay = 1.0
        self.requests = 0  # every request received
        self.models: list[dict[str, Any]] | None = None  # GET /models answers 404 while None
        self.faults = 0  # requests answered with the fault
        self.seen = 0  # requests since the mode was set
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._timer = threading.Timer(lifetime_s, self.close)
        self._timer.daemon = True

    def __enter__(self) -> Self:
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._timer.cancel()
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()

    def set_mode(
        self, mode: str, *, every: int = 1, limit: int | None = None, **settings: Any
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r}")
        with self._lock:
            self.mode, self.every, self.limit, self.seen = mode, every, limit, 0
            for key, value in settings.items():
                setattr(self, key, value)

    def _fault_for_next(self) -> str:
        with self._lock:
            self.requests += 1
            n = self.seen
            self.seen += 1
            hit = self.mode != "ok" and n % self.every == 0
            if hit and self.limit is not None:
                hit = n // self.every < self.limit
            if hit:
                self.faults += 1
            return self.mode if hit else "ok"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: tests read the counters instead

            def _send(self, status: int, payload: bytes, ctype: str, **headers: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                for key, value in headers.items():
                    self.send_header(key.replace("_", "-"), value)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:  # the stdlib's name; only the model list
                if not self.path.rstrip("/").endswith("/models") or server.models is None:
                    self._send(404, b'{"error": {"message": "not found"}}', "application/json")
                    return
                listed = {"object": "list", "data": server.models}
                self._send(200, json.dumps(listed).encode(), "application/json")

            def do_POST(self) -> None:  # the stdlib's name
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fault = server._fault_for_next()
                if fault == "reset":
                    # An abortive close: the client sees a connection reset, no response.
                    linger = struct.pack("ii", 1, 0)
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault == "slow":
                    time.sleep(server.delay)
                if fault == "rate_limit":
                    error = b'{"error": {"message": "slow down", "type": "rate_limit"}}'
                    self._send(429, error, "application/json", Retry_After=server.retry_after)
                    return
                if fault == "error_500":
                    self._send(500, b'{"error": {"message": "boom"}}', "application/json")
                    return
                if fault == "invalid_json":
                    self._send(200, b'{"choices": [{"text": "sp', "application/json")
                    return
                if fault == "html":
                    page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
                    self._send(200, page, "text/html")
                    return
                choice = healthy_choice(body)
                lp = choice["logprobs"]
                if fault == "null_text":
                    choice["text"] = None
                elif fault == "null_logprobs":
                    choice["logprobs"] = None
                elif fault == "short_logprobs":
                    lp["token_logprobs"] = lp["token_logprobs"][:-1]
                    lp["text_offset"] = lp["text_offset"][:-1]
                elif fault == "string_logprobs":
                    # Not numbers (numeric strings are coerced by the client, and harmless).
                    lp["token_logprobs"] = [
                        None if v is None else "n/a" for v in lp["token_logprobs"]
                    ]
                answer = {
                    "id": f"cmpl-{server.requests}",
                    "object": "text_completion",
                    "created": 0,
                    "model": body.get("model", "m"),
                    "choices": [] if fault == "empty_choices" else [choice],
                }
                self._send(200, json.dumps(answer).encode(), "application/json")

        return Handler


class CountingServer(FaultServer):
    """A :class:`FaultServer` whose requests take ``latency`` seconds and are counted while they
    do: ``in_flight`` now and ``peak``, the most at once (tests of the client's request pool).

    A request is counted only while it waits, before its answer is written: a client that got
    its answer (and may send its next request) is never still counted, so ``peak`` is never more
    than what the client really had in flight.
    """

    def __init__(self, lifetime_s: float = 180.0, latency: float = 0.1) -> None:
        self.latency = latency
        self.in_flight = 0
        self.peak = 0
        self._count_lock = threading.Lock()
        super().__init__(lifetime_s)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        base: Any = super()._handler()
        server = self

        class CountingHandler(base):  # type: ignore[misc]  # a class made at run time
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                with server._count_lock:
                    server.in_flight += 1
                    server.peak = max(server.peak, server.in_flight)
                try:
                    time.sleep(server.latency)
                finally:
                    with server._count_lock:
                        server.in_flight -= 1
                super().do_POST()

        return CountingHandler
