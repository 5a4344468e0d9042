"""What an OpenAI-compatible server says it serves, as a short digest: the same on every
endpoint of a model, and part of what a cached answer is for.

A server's weights cannot be read from here; its model list can (``GET /models``). The entry of
the served model, less the fields that change from one request to the next (``created``, vLLM's
per-request ``permission`` ids), names what is behind the URL: its id or alias, vLLM's ``root``
(the weights' path) and ``max_model_len``, llama.cpp's server ``meta`` (parameters, file size,
vocabulary, training context). So:

* endpoints of one model that report different entries are refused before any request: which
  endpoint answered must not change results;
* the digest keys the response cache and binds a run directory as a GGUF's bytes do, so a
  server restarted with another model at the same URL is not served the old model's cached
  answers and is refused on resume — as far as its list tells the two apart (weights replaced
  under the same path and settings look the same).

A server without a model list, or one that does not answer it at once, has no digest; its
answers are keyed by the model id alone, as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sociallearn.errors import UserError

#: The fields of a model-list entry that name the model (the rest change per request).
NAMING_FIELDS = ("id", "owned_by", "root", "parent", "max_model_len", "meta")
PROBE_TIMEOUT_S = 10.0


def model_entry(client: Any, name: str, errors: tuple[type[BaseException], ...]) -> Any:
    """The naming fields of ``name``'s entry in the client's model list, or ``None``.

    A server listing one model serves it whatever name a request gives (llama.cpp's servers),
    so that entry is taken; in a longer list, the entry whose id is ``name``. ``errors`` are the
    client library's errors: a server without a model list has no entry.
    """
    caught: tuple[type[BaseException], ...] = (*errors, AttributeError, TypeError, ValueError)
    try:
        # One try, soon given up: the list only names the model, and a request to a server
        # that cannot answer it fails on its own with the backend's retry policy.
        listed = client.with_options(max_retries=0, timeout=PROBE_TIMEOUT_S).models.list()
        entries = [_as_dict(entry) for entry in listed.data]
    except caught:
        return None
    chosen = [e for e in entries if e.get("id") == name] or (entries if len(entries) == 1 else [])
    if not chosen:
        return None
    return {key: chosen[0][key] for key in NAMING_FIELDS if chosen[0].get(key) is not None}


def served_digest(
    endpoints: Sequence[tuple[str, Any]], name: str, errors: tuple[type[BaseException], ...]
) -> str | None:
    """The first 16 hex digits of the SHA-256 of the entry every endpoint reports for ``name``.

    ``endpoints``: (URL, client) pairs. Raises :class:`UserError` when two endpoints report
    different entries; endpoints that report none are left out (``None`` when none reports one).
    """
    entries = {url: model_entry(client, name, errors) for url, client in endpoints}
    known = {url: json.dumps(e, sort_keys=True) for url, e in entries.items() if e is not None}
    distinct = sorted(set(known.values()))
    if len(distinct) > 1:
        url_a, url_b = (next(u for u, e in known.items() if e == d) for d in distinct[:2])
        a, b = distinct[:2]
        raise UserError(
            f"option base_url: the endpoints of model {name!r} serve different models "
            f"({url_a} lists {a}, {url_b} lists {b}); every endpoint of a model must serve the "
            "same weights and settings"
        )
    if not distinct:
        return None
    return hashlib.sha256(distinct[0].encode()).hexdigest()[:16]


def _as_dict(entry: Any) -> dict[str, Any]:
    if isinstance(entry, dict):
        return entry
    dumped = entry.model_dump()  # the openai client's Model (pydantic), extra fields kept
    if not isinstance(dumped, dict):
        raise TypeError("a model-list entry is not an object")
    return dumped
