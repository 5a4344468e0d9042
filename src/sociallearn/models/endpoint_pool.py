"""Bounded, process-wide request pools for OpenAI-compatible endpoints.

A server such as vLLM is fast only when it has many requests at once, but an unbounded number
of them overloads it (timeouts, 503s). So every request to an endpoint, from any model instance
and any thread of this process (teachers and student on one server, several jobs), takes one of
that endpoint's *slots* for each try and gives it back afterwards:

* one :class:`Slots` per endpoint, keyed by base URL and API key (:func:`slots_for`), so two
  model instances pointing at the same server share it;
* a request waits until fewer than its model's ``max_connections`` requests are in flight to
  that endpoint; waiters are served first come, first served, so none starves. With one
  ``max_connections`` for all models of a process (the usual case), at most that many requests
  are ever in flight to one endpoint; with different values, never more than the largest one;
* a model with several base URLs (:class:`EndpointPool`) sends each request to the endpoint
  with the least requests in flight or waiting, ties taken in turn (round-robin).

The endpoints of one pool must serve the same model with the same weights and settings: results
are not allowed to depend on which one answered (the response cache keys them by the sorted URL
list, :func:`parse_base_urls`). Endpoints that list different models are refused
(:mod:`sociallearn.models.served_model`); weights behind the same list cannot be checked.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sociallearn.errors import UserError

T = TypeVar("T")
R = TypeVar("R")

#: Enough requests in flight to keep a vLLM server's batch full (its default
#: ``max_num_seqs`` is 256 on GPUs, but 64 concurrent requests already saturate most setups).
DEFAULT_MAX_CONNECTIONS = 64

_BASE_URL_EXPECTED = "a http(s) URL, a comma-separated string of URLs or a list of URLs"


def parse_base_urls(value: Any, source: str = "option base_url") -> tuple[str, ...]:
    """The endpoints named by a ``base_url`` option, sorted and without duplicates.

    ``"http://a/v1"``, ``"http://a/v1,http://b/v1"`` (what ``-O base_url=a,b`` gives) and
    ``["http://a/v1", "http://b/v1"]`` (YAML) are accepted; ``None`` and ``""`` give ``()``.
    Sorted, because the model id (and so the response cache) must not depend on their order.
    """
    if value is None:
        return ()
    if isinstance(value, str):
        parts: list[Any] = value.split(",")
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        raise UserError(f"{source}: expected {_BASE_URL_EXPECTED}, got {value!r}")
    urls: set[str] = set()
    for part in parts:
        if not isinstance(part, str):
            raise UserError(f"{source}: expected {_BASE_URL_EXPECTED}, got {value!r}")
        url = part.strip().rstrip("/")
        if not url and isinstance(value, str):
            continue  # "a," or a stray space: nothing to connect to
        if not url.startswith(("http://", "https://")):
            raise UserError(f"{source}: expected {_BASE_URL_EXPECTED}, got {part!r}")
        urls.add(url)
    return tuple(sorted(urls))


class Slots:
    """The requests in flight to one endpoint, granted in arrival order up to a limit."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()  # waiting requests, first come first
        self.in_flight = 0
        self.peak = 0  # the most requests ever in flight at once (tests, benchmarks)

    @property
    def load(self) -> int:
        """Requests in flight or waiting: what the least-loaded choice compares."""
        # Read without the lock: a stale value only makes one choice slightly less even.
        return self.in_flight + len(self._queue)

    @contextmanager
    def hold(self, limit: int) -> Iterator[None]:
        """Wait until this request is first in line and fewer than ``limit`` are in flight."""
        me = object()
        with self._cond:
            self._queue.append(me)
            try:
                self._cond.wait_for(lambda: self._queue[0] is me and self.in_flight < limit)
            except BaseException:  # interrupted while waiting: leave the line, wake the next
                self._queue.remove(me)
                self._cond.notify_all()
                raise
            self._queue.popleft()
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self._cond.notify_all()  # the next in line may fit as well
        try:
            yield
        finally:
            with self._cond:
                self.in_flight -= 1
                self._cond.notify_all()


@dataclass(frozen=True)
class EndpointKey:
    """What makes two endpoints the same: URL and API key (kept as a digest, never printed)."""

    url: str
    key_digest: str


_SLOTS: dict[EndpointKey, Slots] = {}
_SLOTS_LOCK = threading.Lock()


def slots_for(url: str, api_key: str) -> Slots:
    """The process-wide slots of an endpoint: the same object for every model that uses it."""
    key = EndpointKey(url, hashlib.sha256(api_key.encode()).hexdigest())
    with _SLOTS_LOCK:
        return _SLOTS.setdefault(key, Slots())


@dataclass(frozen=True)
class Endpoint:
    """One server of a model: its URL (named in errors), its client and its shared slots."""

    url: str
    client: Any
    slots: Slots


@dataclass(frozen=True)
class RoutedCall:
    """A client method named by its path (``completions.create``), bound to an endpoint per
    request: callers name the method once, the pool decides which server's client runs it."""

    path: tuple[str, ...]

    def on(self, client: Any) -> Callable[..., Any]:
        target = client
        for name in self.path:
            target = getattr(target, name)
        return target  # type: ignore[no-any-return]


class ClientRouter:
    """Stands in for an ``openai.OpenAI`` client whose requests go to several endpoints.

    ``router.completions.create`` and ``router.chat.completions.create`` are
    :class:`RoutedCall` paths, which the model binds to the chosen endpoint's client; any other
    attribute (``max_retries``, ...) is read from the first endpoint's client, which has the
    same settings as the others.
    """

    def __init__(self, primary: Any) -> None:
        self._primary = primary

    @property
    def completions(self) -> Any:
        return _Path(("completions",))

    @property
    def chat(self) -> Any:
        return _Path(("chat",))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._primary, name)


class _Path:
    """A partial method path: ``chat`` -> ``chat.completions`` -> ``chat.completions.create``."""

    def __init__(self, path: tuple[str, ...]) -> None:
        self._path = path

    def __getattr__(self, name: str) -> Any:
        if name == "create":
            return RoutedCall((*self._path, name))
        return _Path((*self._path, name))


class EndpointPool:
    """A model's endpoints: which one takes the next request, and running requests on them."""

    def __init__(self, endpoints: Sequence[Endpoint], max_connections: int) -> None:
        if not endpoints:
            raise ValueError("an endpoint pool needs at least one endpoint")
        self.endpoints = tuple(endpoints)
        self.max_connections = max_connections
        self._turn = itertools.count()  # next() is atomic in CPython: no lock needed

    def pick(self) -> Endpoint:
        """The endpoint with the least requests in flight or waiting; ties in turn."""
        n = len(self.endpoints)
        if n == 1:
            return self.endpoints[0]
        start = next(self._turn) % n
        order = self.endpoints[start:] + self.endpoints[:start]
        return min(order, key=lambda e: e.slots.load)  # min keeps the first of equals

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``[fn(x) for x in items]``, with enough threads to fill every endpoint's slots.

        The threads only wait; the slots bound what reaches the servers. On the first error
        the requests not yet started are cancelled and the error is raised.
        """
        workers = min(len(items), self.max_connections * len(self.endpoints))
        if workers < 2:
            return [fn(x) for x in items]
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sociallearn-http")
        try:
            return list(executor.map(fn, items))
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
