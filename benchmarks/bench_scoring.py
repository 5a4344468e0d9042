"""Scoring speed on the embedded model: shared-prefix KV reuse against re-evaluating every prefix.

One ~600-token context (a few-shot prompt) and 200 short continuations, scored with prefix reuse
and without it, in the same run on the same model file. Also prints prefill and decode speed.
The last line printed is the speed-up ratio.

    python benchmarks/bench_scoring.py [--continuations 200] [--naive-limit N] [--threads T]

``--naive-limit N`` times only the first N continuations without reuse and scales that time to
all of them (the naive path costs the same per request), to keep the run short on slow machines;
the output says when it did.
"""

from __future__ import annotations

import argparse
import time

from sociallearn.models.base import GenerationParams, ScoreRequest
from sociallearn.models.llamacpp import LlamaCppModel

WORDS = [
    "free",
    "prize",
    "claim",
    "call",
    "now",
    "meeting",
    "lunch",
    "tomorrow",
    "urgent",
    "account",
    "winner",
    "cash",
    "reply",
    "stop",
    "mobile",
    "offer",
    "love",
    "home",
    "late",
    "sorry",
    "dinner",
    "text",
    "week",
    "ticket",
    "holiday",
    "bonus",
]


def spam_examples(model: LlamaCppModel, target_tokens: int) -> str:
    """Made-up SMS examples (alternating labels) filling about ``target_tokens`` tokens."""
    lines: list[str] = []
    i = 0
    while model.count_tokens("".join(lines)) < target_tokens:
        words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(8)]
        label = "spam" if i % 2 == 0 else "not spam"
        lines.append(f"Text: {' '.join(words).capitalize()}.\nClass: {label}\n\n")
        i += 1
    return "".join(lines)


def build_prefix(model: LlamaCppModel, target_tokens: int) -> str:
    return spam_examples(model, target_tokens) + "Text: See you at the station at six.\nClass:"


def continuations(n: int) -> list[str]:
    return [
        f" {WORDS[i % len(WORDS)]} {i}" if i % 3 else f" {WORDS[i % len(WORDS)]}" for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--continuations", type=int, default=200)
    parser.add_argument("--prefix-tokens", type=int, default=600)
    parser.add_argument("--naive-limit", type=int, default=0, help="0 = time all of them")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    reuse = LlamaCppModel.from_spec("smollm2", n_ctx=2048, n_threads=args.threads)
    naive = LlamaCppModel.from_spec(
        "smollm2", n_ctx=2048, n_threads=args.threads, prefix_reuse=False
    )
    prefix = build_prefix(reuse, args.prefix_tokens)
    n_prefix = reuse.count_tokens(prefix)
    conts = continuations(args.continuations)
    requests = [ScoreRequest(prefix, c) for c in conts]
    print(f"model: {reuse.model_id}, prefix: {n_prefix} tokens, continuations: {len(conts)}")

    # Prefill and decode speed (a fresh model, so nothing is cached).
    naive.score([ScoreRequest("warm up", " now")])
    start = time.perf_counter()
    naive.score([ScoreRequest(prefix, " x")])
    prefill_s = time.perf_counter() - start
    params = GenerationParams(max_tokens=64, temperature=0.0)
    reuse.generate([prefix], params)  # prefill once; the timed run below reuses it
    start = time.perf_counter()
    [c] = reuse.generate([prefix], params)
    decode_s = time.perf_counter() - start
    print(f"prefill: {n_prefix / prefill_s:.0f} tok/s ({prefill_s:.2f} s for {n_prefix} tokens)")
    print(f"decode: {c.n_tokens / decode_s:.0f} tok/s ({c.n_tokens} tokens in {decode_s:.2f} s)")

    fresh = LlamaCppModel.from_spec("smollm2", n_ctx=2048, n_threads=args.threads)
    start = time.perf_counter()
    with_reuse = fresh.score(requests)
    reuse_s = time.perf_counter() - start
    print(f"with prefix reuse: {reuse_s:.2f} s ({fresh.decoded_tokens} tokens decoded)")

    limit = args.naive_limit or len(requests)
    start = time.perf_counter()
    without = naive.score(requests[:limit])
    naive_part = time.perf_counter() - start
    naive_s = naive_part * len(requests) / limit
    note = "" if limit == len(requests) else f" (timed {limit}, scaled to {len(requests)})"
    print(f"without reuse: {naive_s:.2f} s{note}")
    diff = max(
        abs(a.logprob_sum - b.logprob_sum) for a, b in zip(with_reuse, without, strict=False)
    )
    print(f"max |score difference|: {diff:.2e}")
    print(f"speed-up with prefix reuse: {naive_s / reuse_s:.1f}x")


if __name__ == "__main__":
    main()
