"""The transformers backend on a GPU against the same backend on the CPU: same weights, same run.

Both labels of real SMS spam test items behind a few-shot prompt of real items (label scoring),
scored by ``hf:`` on ``--device`` and on the CPU. Prints the per-token |difference| of the
log-probs, whether the same label wins for every item, whether greedy text agrees, whether a
seeded sample agrees (torch's CPU and CUDA generators are different streams), and each
device's time. The last line printed is the speed-up of the device over the CPU on scoring.

    python benchmarks/bench_hf_device.py [--model smollm2|/path/model.gguf] [--device cuda]
        [--items 100] [--shots 4] [--threads T]

Needs the ``[hf]`` extra and a machine where ``torch`` sees the device.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from sociallearn.models.base import GenerationParams, ScoreRequest
from sociallearn.models.hf import HFModel
from sociallearn.tasks.registry import get_task, load_task_data


def sms_requests(items: int, shots: int) -> list[ScoreRequest]:
    task = get_task("sms_spam")
    data = load_task_data(task)
    prompt = task.render_many(data.pool[:shots])
    return [
        ScoreRequest(prompt + task.render_query(item), f" {label}")
        for item in data.test[:items]
        for label in task.labels
    ]


def timed_scores(model: HFModel, requests: list[ScoreRequest]) -> tuple[list[Any], float]:
    model.score(requests[:2])  # warm-up: first kernels, allocator, the prompt's tokens
    model.score([ScoreRequest("warm up", " now")])  # leave the cache on another prefix
    start = time.perf_counter()
    scores = model.score(requests)
    return scores, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="hf: model name or .gguf path")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--shots", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()

    import torch

    started = time.perf_counter()
    cpu = HFModel(args.model, device="cpu", n_threads=args.threads)
    dev = HFModel(args.model, device=args.device)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device
    print(
        f"model: hf:{args.model}; torch {torch.__version__}, {torch.get_num_threads()} CPU "
        f"threads; device: {name}; loaded in {time.perf_counter() - started:.1f} s"
    )
    requests = sms_requests(args.items, args.shots)
    print(
        f"{len(requests)} requests: {args.items} SMS test items x 2 labels behind a "
        f"{args.shots}-shot prompt of {cpu.count_tokens(requests[0].context)} tokens"
    )

    on_cpu, cpu_s = timed_scores(cpu, requests)
    on_dev, dev_s = timed_scores(dev, requests)
    diffs = [
        abs(x - y)
        for a, b in zip(on_cpu, on_dev, strict=True)
        for x, y in zip(a.token_logprobs, b.token_logprobs, strict=True)
    ]
    wins = [
        [a.logprob_sum > b.logprob_sum for a, b in zip(s[0::2], s[1::2], strict=True)]
        for s in (on_cpu, on_dev)
    ]
    same = sum(a == b for a, b in zip(*wins, strict=True))
    print(
        f"per-token |log p difference|: mean {statistics.mean(diffs):.2e}, max {max(diffs):.2e}; "
        f"same label wins: {same} / {len(wins[0])}"
    )

    prompt = requests[0].context
    greedy = GenerationParams(max_tokens=32, temperature=0.0)
    sampled = GenerationParams(max_tokens=32, temperature=1.0, seed=3)
    texts = []
    for label, model in (("cpu", cpu), (args.device, dev)):
        start = time.perf_counter()
        [g] = model.generate([prompt], greedy)
        gen_s = time.perf_counter() - start
        [s] = model.generate([prompt], sampled)
        texts.append((g.text, s.text))
        print(f"{label}: greedy {g.n_tokens} tokens in {gen_s:.2f} s ({g.n_tokens / gen_s:.0f}/s)")
    (g_cpu, s_cpu), (g_dev, s_dev) = texts
    print(f"greedy text identical: {g_cpu == g_dev}")
    print(f"seeded sample (temperature 1, seed 3) identical: {s_cpu == s_dev}")
    print(f"  cpu: {s_cpu[:70]!r}\n  {args.device}: {s_dev[:70]!r}")

    print(f"scoring: cpu {cpu_s:.2f} s, {args.device} {dev_s:.2f} s")
    print(f"speed-up of {args.device} over cpu on scoring: {cpu_s / dev_s:.1f}x")


if __name__ == "__main__":
    main()
