"""A persistent response cache (SQLite) and a model wrapper that consults it.

A cached generation is keyed by (model id, prompt, generation parameters including the seed, sample
index): the j-th sample of a prompt stays distinct from the k-th, and changing any parameter misses.
A cached score is keyed by (model id, context, continuation). Rerunning an experiment therefore
costs nothing for the work already done, and an interrupted run resumes where it stopped.

The database uses WAL mode and short transactions so several processes (a process pool, parallel
runs on one machine) can share one file.

Only well-formed answers are stored: a completion or score whose fields are not what the
:mod:`~sociallearn.models.base` types promise (no text, a non-finite or positive log-prob, a score
whose token log-probs do not add up) is a :class:`BackendError`, stored nowhere, and such
an entry already in the file (written by an older version) counts as a miss, so it is asked again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeGuard

from sociallearn.errors import BackendError, UserError
from sociallearn.models.base import (
    Completion,
    GenerationParams,
    LanguageModel,
    Score,
    ScoreRequest,
    sample_indices,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL
)
"""
# SQLite limits the number of bound variables per statement; look keys up in chunks.
_CHUNK = 500


def _digest(parts: Mapping[str, Any]) -> str:
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def generation_key(model_id: str, prompt: str, params: GenerationParams, sample_index: int) -> str:
    """Cache key of the ``sample_index``-th sample of ``prompt`` (``params`` carries the seed)."""
    return _digest(
        {
            "model_id": model_id,
            "kind": "generate",
            "prompt": prompt,
            "params": dataclasses.asdict(params),
            "sample_index": sample_index,
            "seed": params.seed,
        }
    )


def score_key(model_id: str, request: ScoreRequest) -> str:
    """Cache key of a score request."""
    return _digest(
        {
            "model_id": model_id,
            "kind": "score",
            "context": request.context,
            "continuation": request.continuation,
        }
    )


class ResponseCache:
    """Key -> JSON value store in one SQLite file, safe across threads and processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cache path {self.path}: cannot create its folder ({exc})") from exc
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._connection()  # fail early on an unusable path

    def _connection(self) -> sqlite3.Connection:
        # A connection must not cross a fork: reopen in a child process.
        if self._conn is None or self._pid != os.getpid():
            try:
                conn = sqlite3.connect(
                    self.path, timeout=30.0, isolation_level=None, check_same_thread=False
                )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(_SCHEMA)
            except sqlite3.Error as exc:
                raise UserError(
                    f"cache path {self.path}: cannot open as an SQLite database ({exc})"
                ) from exc
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """Values for the keys that are present (missing keys are absent from the result)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Any] = {}
        with self._lock:
            conn = self._connection()
            for i in range(0, len(wanted), _CHUNK):
                chunk = wanted[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                try:
                    rows = conn.execute(
                        f"SELECT key, value FROM responses WHERE key IN ({marks})", chunk
                    ).fetchall()
                except sqlite3.Error as exc:
                    raise self._error("cannot read", exc) from exc
                found.update((key, json.loads(value)) for key, value in rows)
        return found

    def _error(self, doing: str, exc: sqlite3.Error) -> UserError:
        return UserError(
            f"cache {self.path}: {doing} ({exc}); it only saves time: fix the cause (disk "
            "space, permissions) or delete the file, and rerun"
        )

    def put_many(self, items: Iterable[tuple[str, str, str, Any]]) -> None:
        """Store ``(key, model_id, kind, value)`` rows in one short transaction."""
        rows = [(k, m, kind, json.dumps(v, ensure_ascii=False)) for k, m, kind, v in items]
        if not rows:
            return
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.executemany(
                        "INSERT OR REPLACE INTO responses (key, model_id, kind, value) "
                        "VALUES (?, ?, ?, ?)",
                        rows,
                    )
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._error("cannot write", exc) from exc

    def __len__(self) -> int:
        with self._lock:
            row = self._connection().execute("SELECT COUNT(*) FROM responses").fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


def _finite_logprob(value: Any) -> TypeGuard[float]:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value <= 1e-4
    )


def completion_problem(value: Any) -> str | None:
    """Why a (stored) completion value is not a real answer; None when it is one."""
    if not isinstance(value, Mapping):
        return f"not a mapping: {value!r}"
    if not isinstance(value.get("text"), str):
        return f"text is {value.get('text')!r}"
    n = value.get("n_tokens")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        return f"n_tokens is {n!r}"
    if not _finite_logprob(value.get("logprob_sum")):
        return f"logprob_sum is {value.get('logprob_sum')!r}"
    if not isinstance(value.get("finish_reason", "stop"), str):
        return f"finish_reason is {value.get('finish_reason')!r}"
    return None


def score_problem(value: Any) -> str | None:
    """Why a (stored) score value is not a real answer; None when it is one."""
    if not isinstance(value, Mapping):
        return f"not a mapping: {value!r}"
    lps = value.get("token_logprobs")
    n = value.get("n_tokens")
    if not isinstance(lps, list | tuple) or not all(_finite_logprob(x) for x in lps):
        return f"token_logprobs are {lps!r}"
    if not isinstance(n, int) or isinstance(n, bool) or n != len(lps):
        return f"n_tokens is {n!r} for {len(lps)} token log-probs"
    total = value.get("logprob_sum")
    if not _finite_logprob(total):
        return f"logprob_sum is {total!r}"
    if abs(float(total) - sum(lps)) > 1e-3 * max(1.0, abs(float(total))):
        return f"logprob_sum is {total!r}"
    return None


def _completion_value(c: Completion) -> dict[str, Any]:
    return dataclasses.asdict(c)


def _score_value(s: Score) -> dict[str, Any]:
    return {
        "logprob_sum": s.logprob_sum,
        "n_tokens": s.n_tokens,
        "token_logprobs": s.token_logprobs,
    }


def _score_from(value: Mapping[str, Any]) -> Score:
    return Score(
        logprob_sum=float(value["logprob_sum"]),
        n_tokens=int(value["n_tokens"]),
        token_logprobs=tuple(float(x) for x in value["token_logprobs"]),
    )


class CachedModel:
    """A ``LanguageModel`` that answers from a :class:`ResponseCache` and forwards only misses.

    Misses go to the wrapped model in one batch, so its prefix reuse still applies. To keep sample
    indices right, a prompt whose j-th sample is missing is forwarded j+1 times (the repeats before
    it are cheap with prefix reuse and their cached values are kept).

    Example::

        model = CachedModel(create_model("fake"), "runs/cache.sqlite")
    """

    def __init__(self, model: LanguageModel, cache: ResponseCache | str | Path) -> None:
        self.model = model
        self.cache = cache if isinstance(cache, ResponseCache) else ResponseCache(cache)
        self.hits = 0
        self.misses = 0

    @property
    def model_id(self) -> str:
        return self.model.model_id

    @property
    def cache_id(self) -> str:
        """What cache keys name: the model id, and the content of a local model file where the
        backend knows it (``content_digest``), so a file replaced at the same path misses."""
        digest = getattr(self.model, "content_digest", None)
        return f"{self.model_id}#{digest}" if digest else self.model_id

    def _refuse(self, what: str, why: str) -> BackendError:
        return BackendError(
            f"model {self.model_id} returned an unusable {what} ({why}); nothing was stored"
        )

    def generate(self, prompts: Sequence[str], params: GenerationParams) -> list[Completion]:
        mid = self.cache_id
        indices = sample_indices(prompts)
        keys = [generation_key(mid, p, params, j) for p, j in zip(prompts, indices, strict=True)]
        found = {k: v for k, v in self.cache.get_many(keys).items() if not completion_problem(v)}
        need: dict[str, int] = {}  # prompt -> how many samples to forward
        for prompt, j, key in zip(prompts, indices, keys, strict=True):
            if key not in found:
                need[prompt] = max(need.get(prompt, 0), j + 1)
        self.hits += len(keys) - sum(1 for k in keys if k not in found)
        self.misses += sum(1 for k in keys if k not in found)
        if need:
            forward = [p for p, count in need.items() for _ in range(count)]
            fresh = self.model.generate(forward, params)
            new_rows = []
            for prompt, j, completion in zip(forward, sample_indices(forward), fresh, strict=True):
                key = generation_key(mid, prompt, params, j)
                if key not in found:
                    value = _completion_value(completion)
                    problem = completion_problem(value)
                    if problem:
                        raise self._refuse("completion", problem)
                    found[key] = value
                    new_rows.append((key, mid, "generate", value))
            self.cache.put_many(new_rows)
        return [Completion(**found[k]) for k in keys]

    def score(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        mid = self.cache_id
        keys = [score_key(mid, r) for r in requests]
        found: dict[str, Any] = {}
        stored = self.cache.get_many(keys)
        for key in keys:
            if key in stored and not score_problem(stored[key]):
                found[key] = stored[key]
        missing = list(
            dict.fromkeys(r for r, k in zip(requests, keys, strict=True) if k not in found)
        )
        self.hits += len(keys) - sum(1 for k in keys if k not in found)
        self.misses += sum(1 for k in keys if k not in found)
        if missing:
            fresh = self.model.score(missing)
            rows = []
            for req, s in zip(missing, fresh, strict=True):
                key = score_key(mid, req)
                value = _score_value(s)
                problem = score_problem(value)
                if problem:
                    raise self._refuse("score", problem)
                found[key] = value
                rows.append((key, mid, "score", value))
            self.cache.put_many(rows)
        return [_score_from(found[k]) for k in keys]
