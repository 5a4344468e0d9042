"""One bounded request pool per endpoint, shared by every model and thread of the process, and
requests spread over several endpoints (``sociallearn.models.endpoint_pool``).

Local fake servers (tests/fault_server.py) count the requests they answer at once; the
last test checks, against a real llama.cpp server, that concurrency does not change results.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from fault_server import CountingServer, FaultServer
from sociallearn.errors import BackendError, UserError
from sociallearn.models.base import GenerationParams, ScoreRequest
from sociallearn.models.endpoint_pool import DEFAULT_MAX_CONNECTIONS, Slots, parse_base_urls
from sociallearn.models.openai_compat import OpenAICompatModel
from sociallearn.models.registry import create_model

pytest.importorskip("openai")

PROMPTS = [f"Text: message number {i}\nClass:" for i in range(20)]
PARAMS = GenerationParams(max_tokens=8, temperature=0.7, seed=3, stop=("\n\n",))
REQUESTS = [ScoreRequest(p, label) for p in PROMPTS[:6] for label in (" spam", " ham")]


def _model(base_url: Any, **options: Any) -> OpenAICompatModel:
    settings: dict[str, Any] = {"max_tries": 2, "backoff": 0.01, "timeout": 10.0}
    settings.update(options)
    return OpenAICompatModel("m", base_url=base_url, **settings)


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer(lifetime_s=120) as running:
        yield running


# ------------------------------------------------------------------- (a) one pool per endpoint


def test_two_models_in_two_threads_share_one_bounded_pool() -> None:
    with CountingServer(lifetime_s=120, latency=0.1) as server:
        models = [_model(server.url, max_connections=3) for _ in range(2)]
        start = threading.Barrier(2)
        results: dict[int, Any] = {}
        errors: list[BaseException] = []

        def job(i: int) -> None:
            try:
                start.wait()
                results[i] = models[i].generate(PROMPTS, PARAMS)
            except BaseException as exc:  # reported below, not lost in the thread
                errors.append(exc)

        threads = [threading.Thread(target=job, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors
        assert server.requests == 2 * len(PROMPTS)
        assert server.peak == 3  # never more than max_connections, and the pool is used fully
        assert models[0]._pool.endpoints[0].slots is models[1]._pool.endpoints[0].slots
        assert models[0]._pool.endpoints[0].slots.peak == 3
        assert results[0] == results[1] == _model(server.url).generate(PROMPTS, PARAMS)


def test_slots_grant_in_arrival_order_up_to_each_limit() -> None:
    slots = Slots()
    order: list[int] = []
    with slots.hold(2), slots.hold(2):
        assert slots.in_flight == 2
        waiters = []
        for i in range(3):
            t = threading.Thread(target=lambda i=i: _take(slots, order, i))
            t.start()
            while slots.load < 3 + i:  # wait until it is in line: the order is known
                threading.Event().wait(0.005)
            waiters.append(t)
        assert order == []  # all three wait while both slots are taken
    for t in waiters:
        t.join(timeout=10)
    assert order == [0, 1, 2]
    assert slots.in_flight == 0 and slots.load == 0 and slots.peak == 2


def _take(slots: Slots, order: list[int], i: int) -> None:
    with slots.hold(1):  # one at a time, so the appends happen in the order of the grants
        order.append(i)


# -------------------------------------------------------------- (b) several endpoints per role


def test_two_endpoints_share_the_load_and_answer_like_one() -> None:
    with FaultServer(lifetime_s=120) as one, FaultServer(lifetime_s=120) as two:
        single = _model(one.url, max_connections=4)
        generated, scored = single.generate(PROMPTS, PARAMS), single.score(REQUESTS)
        before = one.requests
        both = _model([one.url, two.url], max_connections=4)
        assert both.generate(PROMPTS, PARAMS) == generated
        assert both.score(REQUESTS) == scored
        assert one.requests > before and two.requests > 0
        # Least in flight first, ties in turn: no endpoint does much more than its share.
        total = one.requests - before + two.requests
        assert min(one.requests - before, two.requests) >= total // 4


def test_model_id_ignores_the_order_and_the_form_of_the_urls() -> None:
    a, b = "http://127.0.0.1:9/v1", "http://127.0.0.2:9/v1/"
    ids = {
        _model([a, b]).model_id,
        _model([b, a]).model_id,
        _model(f"{b}, {a}").model_id,
        create_model("openai:m", base_url=f"{a},{b}").model_id,
    }
    assert ids == {"openai:m@http://127.0.0.1:9/v1,http://127.0.0.2:9/v1"}
    # One URL keeps the id it always had (the response cache stays valid).
    assert _model(a).model_id == f"openai:m@{a}"
    assert parse_base_urls([a, a + "/"]) == (a,)


@pytest.mark.parametrize("value", [["http://a/v1", 3], "a.example/v1", {"url": "x"}])
def test_bad_base_url_is_one_clear_error(value: Any) -> None:
    with pytest.raises(UserError, match="option base_url: expected a http") as info:
        _model(value)
    assert "\n" not in str(info.value)


# -------------------------------------------------------------------------- (c) the option


@pytest.mark.parametrize("value", [0, -2, 2.5, "x", True])
def test_bad_max_connections_is_one_line(value: Any) -> None:
    with pytest.raises(UserError) as info:
        _model("http://127.0.0.1:9/v1", max_connections=value)
    text = str(info.value)
    assert text.startswith("option max_connections: expected an integer >= 1, got ")
    assert "\n" not in text


def test_max_connections_default_and_its_older_name() -> None:
    url = "http://127.0.0.1:9/v1"
    assert _model(url).max_connections == DEFAULT_MAX_CONNECTIONS == 64
    assert _model(url, concurrency=3).max_connections == 3
    assert _model(url, concurrency=5, max_connections=5).max_connections == 5
    with pytest.raises(UserError, match="concurrency is the older name of max_connections"):
        _model(url, concurrency=2, max_connections=8)


# ----------------------------------------------------------------- (d) an unreachable endpoint


def test_an_unreachable_endpoint_is_named_in_the_error(
    server: FaultServer, unused_port: int
) -> None:
    dead = f"http://127.0.0.1:{unused_port}/v1"
    model = _model([server.url, dead], max_connections=2)
    with pytest.raises(BackendError) as info:
        model.generate(PROMPTS[:6], PARAMS)
    text = str(info.value)
    assert text.startswith(f"cannot reach OpenAI-compatible server at {dead} after 2 tries")
    assert server.url not in text and "\n" not in text
    assert server.requests > 0  # the healthy endpoint took its share


# ------------------------------------------------------------- (e) a real llama.cpp server

SHOTS = "Text: Claim your prize now!\nClass: spam\n\nText: Dinner at 8?\nClass: not spam\n\n"
MESSAGES = [
    "Win a free cruise",
    "See you at the station",
    "URGENT: your account is locked",
    "Can you bring the charger?",
    "You have been selected for a cash reward",
    "Running late, start without me",
]


@pytest.mark.server
@pytest.mark.embedded
def test_real_server_gives_the_same_results_through_the_pool(bos_server_url: str) -> None:
    def model(max_connections: int) -> OpenAICompatModel:
        return OpenAICompatModel(
            "smollm2",
            base_url=bos_server_url,
            max_connections=max_connections,
            extra_body={"repeat_penalty": 1.0},
        )

    prompts = [f"{SHOTS}Text: {m}\nClass:" for m in MESSAGES[:4]]  # kept short for CI
    requests = [ScoreRequest(p, label) for p in prompts for label in (" spam", " not spam")]
    params = GenerationParams(max_tokens=6, temperature=0.0, stop=("\n",))
    one, many = model(1), model(4)
    texts_one = [c.text for c in one.generate(prompts, params)]
    scores_one = one.score(requests)
    texts_many = [c.text for c in many.generate(prompts, params)]
    scores_many = many.score(requests)
    assert many._pool.endpoints[0].slots.peak > 1  # requests really were in flight together
    assert texts_many == texts_one
    for a, b in zip(scores_many, scores_one, strict=True):
        assert a.n_tokens == b.n_tokens > 0
        # The server reuses the KV cache of the prompt it served last, which the order of
        # concurrent requests changes; kernels on a shorter suffix may round differently.
        assert np.allclose(a.token_logprobs, b.token_logprobs, atol=1e-3)
