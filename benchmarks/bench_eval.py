"""Student evaluation speed: shared-prefix KV reuse vs re-prefilling the prompt for every item.

The student answers 200 SMS spam items by generation behind a 16-example learned prompt on the
embedded model, once with prefix reuse and once re-evaluating the whole prompt per item, in the
same run. The predictions must be identical; the last line printed is the speed-up ratio.

    python benchmarks/bench_eval.py [--items 200] [--shots 16] [--mode generate|score]
                                    [--naive-items N]

``--naive-items`` times the re-prefill path on the first N items only and scales it linearly to
``--items`` (it says so in the output): re-prefilling a 16-example prompt 200 times takes about
ten minutes on one CPU thread. The per-item cost of that path is constant, so the scaling is fair.
"""

from __future__ import annotations

import argparse
import time

from sociallearn.models.registry import create_model
from sociallearn.tasks import get_task, load_task_data
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.student import Student


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--shots", type=int, default=16)
    parser.add_argument("--mode", choices=["generate", "score"], default="generate")
    parser.add_argument("--naive-items", type=int, default=None)
    args = parser.parse_args()

    task = get_task("sms_spam_class")
    data = load_task_data(task, seed=0)
    curriculum = Curriculum(examples=data.pool[: args.shots])
    items = data.test[: args.items]
    timings: dict[bool, float] = {}
    answers: dict[bool, list[str | None]] = {}
    for reuse in (True, False):
        timed = items if reuse or not args.naive_items else items[: args.naive_items]
        model = create_model("llamacpp:smollm2", prefix_reuse=reuse)
        student = Student(model, task)
        prompt = student.learn(curriculum)
        student.answer(items[:2], mode=args.mode)  # warm-up (load, first prefill)
        start = time.perf_counter()
        predictions = student.answer(timed, mode=args.mode)
        timings[reuse] = (time.perf_counter() - start) * len(items) / len(timed)
        answers[reuse] = [p.answer for p in predictions]
        accuracy = sum(p.correct for p in predictions) / len(predictions)
        label = "prefix reuse" if reuse else "re-prefill  "
        scaled = f" (timed on {len(timed)}, scaled)" if len(timed) < len(items) else ""
        print(
            f"{label}: {len(items)} items in {timings[reuse]:.2f}s{scaled} "
            f"({len(items) / timings[reuse]:.1f} items/s), accuracy {accuracy:.3f}, "
            f"prompt {model.count_tokens(prompt)} tokens"  # type: ignore[attr-defined]
        )
    agree = sum(a == b for a, b in zip(answers[True], answers[False], strict=False))
    print(f"answers identical: {agree}/{len(answers[False])}")
    print(f"speedup: {timings[False] / timings[True]:.1f}x")


if __name__ == "__main__":
    main()
