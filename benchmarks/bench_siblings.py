"""Siblings teach once: a grid whose synthetic units differ only in the aggregator, on worker
processes with the embedded model, with and without the scheduling of siblings.

Units that differ only in the aggregator (random, class-balanced) ask the teachers the same
prompts with the same seeds. Before, both were dealt first (equal estimated cost) and, with
as many workers as such units, taught at the same time; now the later sibling costs only its
evaluation and waits while its first sibling teaches and other units (zero-shot, hand-written,
original examples) can use the worker, so its candidates come from the response cache. On as
few workers as first siblings the old order already ran them one after another: the default is
four workers (one thread each; on two cores they share them, equally in both runs). The
baseline is the same code with no sibling relation (``teaching_leaders`` returning nothing): the
order and behaviour from before.

Both runs start from fresh run directories (response cache on, empty). Prints per run the wall
time, every unit's teaching seconds, and whether the rows are identical; the ratio (baseline /
siblings, wall time and teaching seconds) last. Run it on idle cores.

    python benchmarks/bench_siblings.py [--limit 100] [--seeds 2] [--workers 4]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from unittest import mock

from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.executors.processes import ProcessExecutor
from sociallearn.experiment.runner import run_experiment


def _grid(out: Path, limit: int, seeds: int) -> ExperimentConfig:
    return ExperimentConfig.model_validate(
        {
            "name": "bench-siblings",
            "tasks": ["sms_spam"],
            "methods": ["zero_shot", "hand_written", "original_examples", "synthetic_examples"],
            "aggregators": ["random", "class_balanced"],
            "n": [4],
            "seeds": list(range(seeds)),
            "model": "llamacpp:smollm2",
            "answer_mode": "score",
            "calibrate": True,
            "teachers": 4,
            "silo_size": 16,
            "heldout": 0,
            "limit": limit,
            "out": out,
        }
    )


def _run(config: ExperimentConfig, workers: int) -> tuple[float, dict[str, float], list[str]]:
    started = time.perf_counter()
    summary = run_experiment(config, executor=ProcessExecutor(workers, threads=1))
    seconds = time.perf_counter() - started
    teach = {r["unit"]: float(r["timings"]["teach_s"]) for r in summary.run_dir_rows}
    rows = sorted(
        json.dumps({k: v for k, v in r.items() if k != "timings"}, sort_keys=True)
        for r in summary.run_dir_rows
    )
    return seconds, teach, rows


def _show(label: str, seconds: float, teach: dict[str, float]) -> None:
    print(f"  {label}: {len(teach)} units in {seconds:.1f}s; teaching {sum(teach.values()):.1f}s")
    for unit, s in sorted(teach.items()):
        if "synthetic" in unit:
            print(f"      {unit}: teach {s:.1f}s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-siblings-"))
    print(
        f"SMS spam, embedded model, processes x{args.workers}, "
        f"{args.seeds} seed(s) x {args.limit} items"
    )

    # The baseline: no unit repeats another's teaching (the driver alone builds the jobs).
    with mock.patch("sociallearn.experiment.runner.teaching_leaders", return_value={}):
        base_s, base_teach, base_rows = _run(
            _grid(root / "baseline", args.limit, args.seeds), args.workers
        )
    _show("baseline (no siblings)", base_s, base_teach)
    new_s, new_teach, new_rows = _run(
        _grid(root / "siblings", args.limit, args.seeds), args.workers
    )
    _show("siblings teach once    ", new_s, new_teach)
    print(f"  same rows: {base_rows == new_rows}")
    print(
        f"ratio baseline / siblings: wall {base_s / new_s:.2f}x, "
        f"teaching {sum(base_teach.values()) / max(sum(new_teach.values()), 1e-9):.2f}x"
    )


if __name__ == "__main__":
    main()
