"""Private generation's inner loop: every teacher's next-token distribution, token after token.

Each of T teachers has its own few-shot prompt (about ``--prompt-tokens`` tokens); the public
partial example grows by one released token per step, and every teacher is asked, in turn, for
its distribution after its prompt plus the partial example. Timed two ways in the same process,
same model, same thread count:

* **single sequence** (the path before KV slots): the model's one KV sequence holds the last
  prompt, so each teacher's request re-evaluates its whole prompt;
* **slots** (``sociallearn.models.llamacpp_slots``): each teacher's prompt keeps a KV sequence,
  so a request decodes only what the partial example gained.

Both must give the same distributions (max |Δ log-prob| is printed).

    python benchmarks/bench_next_token.py [--teachers 8] [--steps 6] [--prompt-tokens 300]

The first step prefills every teacher's prompt on both paths and is not timed. The last line
printed is the speed-up of slots over the single sequence (seconds per released token).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_scoring import spam_examples  # the sibling script: run from benchmarks/ or by path

from sociallearn.models.llamacpp import LlamaCppModel
from sociallearn.models.llamacpp_nexttoken import next_token_logprobs
from sociallearn.models.llamacpp_sampling import Logits

PARTIAL = "Text: Congratulations you have been selected to receive a free holiday call now"


class _SingleSequence:
    """The old path: the model's one KV sequence, re-used only for a shared prefix."""

    def __init__(self, model: LlamaCppModel) -> None:
        self._m = model

    def last_logits(self, tokens: list[int]) -> Logits:
        [row] = self._m._eval(tokens, logits_from=len(tokens) - 1)
        return row


def run(
    model: LlamaCppModel, heads: list[str], words: list[str], single: bool
) -> tuple[float, list[np.ndarray]]:
    """Seconds per released token after the first (which prefills every prompt either way)."""
    model._forget()
    model._slots = _SingleSequence(model) if single else None  # type: ignore[assignment]
    out: list[np.ndarray] = []
    start = 0.0
    for step in range(1, len(words) + 1):
        if step == 2:
            start = time.perf_counter()
        partial = " ".join(words[:step])
        for head in heads:
            [dist] = next_token_logprobs(model, [head + partial], None)
            out.append(np.asarray(dist.logprobs))
    seconds = (time.perf_counter() - start) / (len(words) - 1)
    if not single and model._slots is not None:
        model._slots.close()
    model._slots = None
    return seconds, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teachers", type=int, default=8)
    parser.add_argument("--steps", type=int, default=6, help="released tokens (words) timed")
    parser.add_argument("--prompt-tokens", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    model = LlamaCppModel.from_spec("smollm2", n_threads=args.threads)
    examples = spam_examples(model, args.prompt_tokens * args.teachers).split("\n\n")
    per = max(1, len(examples) // args.teachers)
    heads = ["\n\n".join(examples[i * per : (i + 1) * per]) + "\n\n" for i in range(args.teachers)]
    words = PARTIAL.split(" ")[: args.steps + 1]
    print(
        f"{args.teachers} teachers, prompts of ~{model.count_tokens(heads[0])} tokens, "
        f"{len(words) - 1} timed steps after the first, {args.threads} thread(s)"
    )
    slow, reference = run(model, heads, words, single=True)
    fast, distributions = run(model, heads, words, single=False)
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(reference, distributions, strict=True))
    print(f"single sequence: {slow:.2f} s per released token")
    print(f"slots:           {fast:.3f} s per released token")
    print(f"max |Δ log-prob| between the paths: {diff:.2e}")
    print(f"speed-up (slots / single sequence): {slow / fast:.1f}x")


if __name__ == "__main__":
    main()
