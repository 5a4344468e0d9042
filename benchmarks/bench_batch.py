"""Batched decoding on the embedded model: several samples per ``llama_decode`` vs one by one.

Teaching generation: S samples of one ~600-token few-shot prompt (what a teacher asks for with
``generate([prompt] * samples)``), timed with the model option ``batch: 1`` (the sequential path)
and ``batch: B``, in the same process, same weights, same thread count. Outputs must be identical
(texts and log-probs); tokens/s includes the one prompt prefill per call, as in teaching.

Batch shape: the time of one generation step with k lanes (one token each) after the prompt.

Canary scoring: N continuations behind the prompt, texts/s with both models, against the
measured prefill rate (the compute limit). Scoring is not batched (see
``sociallearn.models.llamacpp_batch``), so both run the same path; the numbers show what a
multi-stream context costs it.

    python benchmarks/bench_batch.py [--samples 2 4 8] [--max-tokens 48] [--threads 1]
                                     [--weights f32] [--canaries 128]

The last line printed is the generation speed-up at the largest S.
"""

from __future__ import annotations

import argparse
import time

from bench_scoring import spam_examples  # the sibling script: run from benchmarks/ or by path

from sociallearn.models.base import GenerationParams, ScoreRequest
from sociallearn.models.llamacpp import LlamaCppModel
from sociallearn.models.llamacpp_batch import LaneTarget


def build_prompt(model: LlamaCppModel, target_tokens: int) -> str:
    return spam_examples(model, target_tokens) + "Text:"


def time_generation(
    model: LlamaCppModel, prompt: str, samples: int, params: GenerationParams
) -> tuple[float, int, list[tuple[str, float]]]:
    model._forget()  # each call pays its prompt's prefill, as a teacher's new prompt does
    start = time.perf_counter()
    out = model.generate([prompt] * samples, params)
    seconds = time.perf_counter() - start
    return seconds, sum(c.n_tokens for c in out), [(c.text, c.logprob_sum) for c in out]


def step_rates(model: LlamaCppModel, prompt: str, widths: list[int], steps: int = 6) -> None:
    """Decode rate of one generation step with k lanes after the prompt (the batch shape)."""
    tokens = model._prompt_tokens(prompt, "prompt")
    model._eval(tokens, logits_from=len(tokens) - 1)
    lanes = model._lanes
    assert lanes is not None
    for k in widths:
        generated = [100]
        first = tuple(tokens + generated)
        lanes.eval([LaneTarget(lane, first, len(first) - 1, False) for lane in range(1, k + 1)])
        start = time.perf_counter()
        for step in range(steps):
            generated.append(200 + step)
            now = tuple(tokens + generated)
            lanes.eval([LaneTarget(lane, now, len(now) - 1, False) for lane in range(1, k + 1)])
        seconds = (time.perf_counter() - start) / steps
        print(f"step with {k:2d} lanes: {seconds * 1000:6.1f} ms, {k / seconds:6.1f} tok/s")


def prefill_rate(model: LlamaCppModel, prompt: str) -> float:
    n = model.count_tokens(prompt)
    model.score([ScoreRequest("An unrelated warm-up text", " to clear the cache")])
    start = time.perf_counter()
    model.score([ScoreRequest(prompt, " x")])
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--prompt-tokens", type=int, default=600)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--weights", default=None, help="f32, f16 or q8_0 (default: as shipped)")
    parser.add_argument("--canaries", type=int, default=128)
    args = parser.parse_args()

    lanes = max(args.samples)
    common = {"n_ctx": 1024, "n_threads": args.threads, "weights": args.weights}
    sequential = LlamaCppModel.from_spec("smollm2", batch=1, **common)
    batched = LlamaCppModel.from_spec("smollm2", batch=lanes, **common)
    prompt = build_prompt(sequential, args.prompt_tokens)
    print(
        f"model: {sequential.model_id}, threads: {args.threads}, prompt: "
        f"{sequential.count_tokens(prompt)} tokens, lanes: {lanes}"
    )
    params = GenerationParams(max_tokens=args.max_tokens, temperature=1.0, seed=5)
    for model in (sequential, batched):  # warm-up: first decodes allocate buffers
        model.generate(["Warm up"] * 2, GenerationParams(max_tokens=4))

    step_rates(batched, prompt, sorted({1, 2, 4, 8, lanes} & set(range(1, lanes + 1))))
    ratio = 0.0
    for samples in args.samples:
        s_seq, n_seq, out_seq = time_generation(sequential, prompt, samples, params)
        s_bat, n_bat, out_bat = time_generation(batched, prompt, samples, params)
        same = out_seq == out_bat
        ratio = (n_bat / s_bat) / (n_seq / s_seq)
        print(
            f"generation S={samples:2d}: sequential {n_seq / s_seq:6.1f} tok/s "
            f"({n_seq} tokens, {s_seq:.1f} s), batched {n_bat / s_bat:6.1f} tok/s "
            f"({n_bat} tokens, {s_bat:.1f} s), outputs identical: {same}, ratio {ratio:.2f}x"
        )

    texts = [f" The code {1000 + 37 * i} opens the safe" for i in range(args.canaries)]
    rates = {}
    for name, model in (("sequential", sequential), ("batched", batched)):
        prefill = prefill_rate(model, prompt)
        model.score([ScoreRequest(prompt, "")])  # the prompt is in the cache, as in an audit
        start = time.perf_counter()
        scores = model.score([ScoreRequest(prompt, t) for t in texts])
        seconds = time.perf_counter() - start
        tokens = sum(s.n_tokens for s in scores)
        rates[name] = [s.logprob_sum for s in scores]
        print(
            f"scoring ({name}): {len(texts) / seconds:.1f} texts/s, {tokens / seconds:.0f} tok/s "
            f"vs prefill {prefill:.0f} tok/s ({tokens / seconds / prefill:.2f} of prefill)"
        )
    print(f"scores identical: {rates['sequential'] == rates['batched']}")
    print(f"generation speed-up at S={args.samples[-1]} (batched / sequential): {ratio:.2f}x")


if __name__ == "__main__":
    main()
