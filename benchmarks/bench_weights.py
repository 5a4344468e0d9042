"""Weight encodings of the embedded model: canary scoring and generation speed against f32.

For each encoding (the model option ``weights``; ``q4_1`` is the shipped file) the same process
scores one canary set behind a 16-example SMS spam prompt (all texts in one batch, prefix reuse
on, as an audit does) and samples a continuation of that prompt, one thread each. Rates are
tokens sent through ``llama_decode`` per second. Each encoding's scores are compared with
f32's: the largest per-text difference of the mean log-prob, and how far texts move in rank
(reference texts of one template score within a few thousandths of a nat of each other).

f32 is the baseline because it was the fastest encoding for audits until bf16 (docs/privacy.md).
The last line is bf16's speed-up over f32 on the whole audit workload (scoring plus generation,
weighted by the tokens each does in this run).

    python benchmarks/bench_weights.py [--texts 200] [--template gsm8k-code] [--threads 1]
        [--weights f32,bf16,f16,q8_0,q4_1]
"""

from __future__ import annotations

import argparse
import time

from bench_canary import find_template, learned_prompt

from sociallearn.models.base import GenerationParams
from sociallearn.models.llamacpp import LlamaCppModel
from sociallearn.models.registry import create_model
from sociallearn.privacy import make_canary_set, score_canaries

GENERATED_TOKENS = 96


def _rank_of(scores: list[float]) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    ranks = [0] * len(scores)
    for rank, index in enumerate(order):
        ranks[index] = rank
    return ranks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=200, help="canary + references scored")
    parser.add_argument("--template", default="gsm8k-code", help="a built-in canary template")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads")
    parser.add_argument("--weights", default="f32,bf16,f16,q8_0,q4_1")
    args = parser.parse_args()
    encodings = args.weights.split(",")
    if "f32" not in encodings or "bf16" not in encodings:
        raise SystemExit("--weights must include f32 (the baseline) and bf16")
    encodings = ["f32", *(w for w in encodings if w != "f32")]  # the baseline first

    prompt, origin = learned_prompt(0)
    context = prompt + "\n\n"
    canaries = make_canary_set(find_template(args.template), n_total=args.texts, seed=1)
    print(f"data: {origin}; template {args.template}; {args.texts} texts; {args.threads} thread(s)")
    rates: dict[str, tuple[float, float]] = {}
    seconds: dict[str, tuple[float, float]] = {}
    baseline: list[float] = []
    for weights in encodings:
        options: dict[str, object] = {"n_ctx": 2048, "n_threads": args.threads}
        if weights != "q4_1":
            options["weights"] = weights
        model = create_model("llamacpp:smollm2", **options)
        assert isinstance(model, LlamaCppModel)  # decoded_tokens and close() are its own
        try:
            score_canaries(model, context, canaries.texts[:1])  # warm-up: the prompt's KV
            model.decoded_tokens = 0
            start = time.perf_counter()
            scores = score_canaries(model, context, canaries.texts)
            score_s = time.perf_counter() - start
            scored = model.decoded_tokens
            params = GenerationParams(max_tokens=GENERATED_TOKENS, temperature=0.8, seed=3)
            start = time.perf_counter()
            [completion] = model.generate([prompt], params)
            gen_s = time.perf_counter() - start
        finally:
            model.close()
        generated = max(1, completion.n_tokens)
        rates[weights] = (scored / score_s, generated / gen_s)
        seconds[weights] = (score_s, gen_s)
        baseline = baseline or scores
        diff = max(abs(a - b) for a, b in zip(scores, baseline, strict=True))
        shifts = [abs(a - b) for a, b in zip(_rank_of(scores), _rank_of(baseline), strict=True)]
        print(
            f"{weights:5s}: scoring {rates[weights][0]:6.1f} tok/s "
            f"({scored} tokens, {score_s:.1f} s); "
            f"generation {rates[weights][1]:5.1f} tok/s ({generated} tokens incl. prefill, "
            f"{gen_s:.1f} s); vs f32: max |d mean log-prob| {diff:.4f}, rank shift mean "
            f"{sum(shifts) / len(shifts):.1f} max {max(shifts)} of {len(shifts)}"
        )
    total_f32 = sum(seconds["f32"])
    total_bf16 = sum(seconds["bf16"])
    print(f"scoring bf16/f32: {rates['bf16'][0] / rates['f32'][0]:.2f}x")
    print(f"generation bf16/f32: {rates['bf16'][1] / rates['f32'][1]:.2f}x")
    print(f"speedup (bf16 vs f32, scoring + generation): {total_f32 / total_bf16:.2f}x")


if __name__ == "__main__":
    main()
