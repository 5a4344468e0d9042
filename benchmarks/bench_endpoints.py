"""Requests/s through the OpenAI backend's endpoint pool: max_connections 1 against 8.

Starts llama-cpp-python's OpenAI-compatible server on 127.0.0.1 with the embedded SmolLM2 GGUF
(with a BOS token, so echo scoring is aligned; one thread, as the tests run it), then sends a
fixed set of requests through ``OpenAICompatModel`` with ``max_connections`` 1 and 8, in the same
run against the same server: label scoring (two labels behind a few-shot prompt per message) and
short greedy generations. Each setting is timed ``--rounds`` times, alternating, and the best
round is kept. The outputs of the settings are compared (texts equal, scores within 1e-3: the
server reuses the KV cache of the prompt it served last, and the order of concurrent requests
changes which one that is).

``--servers 2`` also starts a second server and times both as one role (``base_url`` a list).

    python benchmarks/bench_endpoints.py [--messages 24] [--connections 1 8] [--rounds 2]
                                         [--threads 1] [--servers 1]

The last line printed is the requests/s ratio, largest max_connections against 1, one server.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from sociallearn.models.base import GenerationParams, ScoreRequest
from sociallearn.models.embedded import find_embedded_gguf
from sociallearn.models.local_server import free_port, served
from sociallearn.models.openai_compat import OpenAICompatModel

SHOTS = "Text: Claim your prize now!\nClass: spam\n\nText: Dinner at 8?\nClass: not spam\n\n"
WORDS = "free prize call now lunch tomorrow urgent account winner cash reply late sorry home"
NO_PENALTY = {"repeat_penalty": 1.0}  # plain greedy decoding, as the tests use


def messages(n: int) -> list[str]:
    words = WORDS.split()
    return [" ".join(words[(i * 5 + k * 3) % len(words)] for k in range(6)) for i in range(n)]


@contextlib.contextmanager
def serve(gguf: Path, threads: int) -> Iterator[str]:
    """llama-cpp-python's server (with the backend's extra-buffer choice) on a free port; yields
    its base URL, stops it afterwards."""
    port = free_port()
    cmd = [sys.executable, "-m", "sociallearn.models.llamacpp_serve", "--model", str(gguf)]
    cmd += ["--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--n_ctx", "1024", "--n_threads", str(threads)]
    cmd += ["--n_threads_batch", str(threads)]
    cmd += ["--kv_overrides", "tokenizer.ggml.add_bos_token=bool:true"]
    with served(cmd, port) as url:
        yield url


Outputs = tuple[list[str], list[tuple[float, ...]]]


def run_once(
    model: OpenAICompatModel, requests: list[ScoreRequest], prompts: list[str]
) -> tuple[float, int, Outputs]:
    """Seconds for all requests, the most in flight to one endpoint, and the outputs."""
    params = GenerationParams(max_tokens=8, temperature=0.0, stop=("\n",))
    for endpoint in model._pool.endpoints:  # slots are shared: count this run's only
        endpoint.slots.peak = 0
    start = time.perf_counter()
    scores = model.score(requests)
    texts = [c.text for c in model.generate(prompts, params)]
    seconds = time.perf_counter() - start
    peak = max(e.slots.peak for e in model._pool.endpoints)
    return seconds, peak, (texts, [s.token_logprobs for s in scores])


def same(a: Outputs, b: Outputs) -> str:
    if a[0] != b[0]:
        return "texts DIFFER"
    worst = max(
        (abs(x - y) for s, t in zip(a[1], b[1], strict=True) for x, y in zip(s, t, strict=True)),
        default=0.0,
    )
    return f"texts equal, scores max |diff| {worst:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=24)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads per server")
    parser.add_argument("--servers", type=int, choices=[1, 2], default=1)
    args = parser.parse_args()

    prompts = [f"{SHOTS}Text: {m}\nClass:" for m in messages(args.messages)]
    requests = [ScoreRequest(p, label) for p in prompts for label in (" spam", " not spam")]
    n_requests = len(requests) + len(prompts)
    gguf = find_embedded_gguf()
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(serve(gguf, args.threads)) for _ in range(args.servers)]
        print(
            f"llama-cpp-python server(s): {len(urls)}, threads each: {args.threads}; "
            f"{len(requests)} scoring + {len(prompts)} generation requests per round"
        )
        settings = [(mc, urls[:1]) for mc in args.connections]
        if args.servers == 2:
            settings.append((max(args.connections), urls))
        models = {
            (mc, len(us)): OpenAICompatModel(
                "smollm2", base_url=us, max_connections=mc, extra_body=NO_PENALTY
            )
            for mc, us in settings
        }
        for model in models.values():  # warm-up: the echo probe, the server's first decodes
            run_once(model, requests[:2], prompts[:1])
        best: dict[tuple[int, int], float] = {}
        peaks: dict[tuple[int, int], int] = {}
        outputs: dict[tuple[int, int], Outputs] = {}
        for _ in range(args.rounds):
            for key, model in models.items():
                seconds, peaks[key], outputs[key] = run_once(model, requests, prompts)
                best[key] = min(best.get(key, seconds), seconds)
        base_key = (min(args.connections), 1)
        for mc, n in models:
            peak = peaks[(mc, n)]
            print(
                f"max_connections={mc:2d}, endpoints={n}: {n_requests / best[(mc, n)]:6.2f} "
                f"requests/s (best of {args.rounds}: {best[(mc, n)]:.2f} s; peak in flight per "
                f"endpoint {peak}); vs max_connections={base_key[0]}: "
                f"{same(outputs[(mc, n)], outputs[base_key])}"
            )
    top = (max(args.connections), 1)
    ratio = best[base_key] / best[top]
    print(
        f"requests/s ratio, max_connections={top[0]} / max_connections={base_key[0]} "
        f"(one server): {ratio:.2f}x"
    )


if __name__ == "__main__":
    main()
