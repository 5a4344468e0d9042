"""Executors: units/hour with 1 vs 2 worker processes on the embedded model, and Ray scaling.

Part 1 runs a reduced demo grid (SMS spam, original examples, a few seeds) on the embedded
SmolLM2 model twice, in fresh run directories with the response cache off: with the ``local``
executor (today's path: one process, llama.cpp at half the cores) and with ``processes`` x2
(one thread each). Wall time includes starting the workers and loading their models.

Part 2 runs a grid on the fake model with simulated per-call latency on a local Ray cluster with
1, 2, 4 and 8 actors, and compares each wall time with the bound max(total / k, longest unit)
(units measured in the 1-actor run). The fake model sleeps instead of computing, so 8 actors fit
on 2 cores (Ray is told there are 8 logical CPUs).

Run it on idle cores: on a machine busy with other jobs, Linux's autogroup scheduling gives one
session's processes together about one share of the CPU, so two workers cannot beat one there
(the per-unit and CPU-time lines show it).

Prints the ratio (processes x2 / local, units per hour) last.

    python benchmarks/bench_executor.py [--limit 40] [--seeds 4] [--skip-ray]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.executors import Executor
from sociallearn.experiment.executors.local import LocalExecutor
from sociallearn.experiment.executors.processes import ProcessExecutor
from sociallearn.experiment.runner import run_experiment


def _embedded_grid(out: Path, limit: int, seeds: int) -> ExperimentConfig:
    return ExperimentConfig.model_validate(
        {
            "name": "bench-executor",
            "tasks": ["sms_spam"],
            "methods": ["original_examples"],
            "n": [4],
            "seeds": list(range(seeds)),
            "model": "llamacpp:smollm2",
            "teachers": 4,
            "silo_size": 16,
            "heldout": 0,
            "limit": limit,
            "out": out,
            "cache": False,
        }
    )


def _timed(config: ExperimentConfig, executor: Executor) -> tuple[float, int, list[str]]:
    started = time.perf_counter()
    cpu = os.times()
    summary = run_experiment(config, executor=executor)
    seconds = time.perf_counter() - started
    after = os.times()
    used = sum(after[:4]) - sum(cpu[:4])  # this process and its finished children
    units = [r["timings"]["teach_s"] + r["timings"]["eval_s"] for r in summary.run_dir_rows]
    print(
        f"    ({executor.label}: mean unit {sum(units) / max(len(units), 1):.1f}s inside its "
        f"worker; CPU used {used:.0f}s in {seconds:.0f}s wall, load {os.getloadavg()[0]:.1f})"
    )
    rows = sorted(
        json.dumps({k: v for k, v in r.items() if k != "timings"}, sort_keys=True)
        for r in summary.run_dir_rows
    )
    return seconds, summary.computed, rows


def part_workers(limit: int, seeds: int, root: Path) -> float:
    cores = len(os.sched_getaffinity(0))
    print(f"part 1: embedded model, {seeds} units x {limit} items, {cores} cores")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    local_s, n, local_rows = _timed(_embedded_grid(root / "local", limit, seeds), LocalExecutor())
    print(f"  local          : {n} units in {local_s:6.1f}s = {n * 3600 / local_s:7.1f} units/h")
    two_s, n2, two_rows = _timed(
        _embedded_grid(root / "two", limit, seeds), ProcessExecutor(2, threads=1)
    )
    print(f"  processes x2   : {n2} units in {two_s:6.1f}s = {n2 * 3600 / two_s:7.1f} units/h")
    print(f"  same rows      : {local_rows == two_rows}")
    estimate = _estimate(_embedded_grid(root / "est", limit, seeds))
    print(f"  dry-run estimate for local: {estimate:.1f}s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return local_s / two_s


def _estimate(config: ExperimentConfig) -> float:
    """What ``--dry-run`` predicts for the local executor (units only, no start-up)."""
    from rich.console import Console

    from sociallearn.experiment.plan import makespan, measured_rates, task_shape, unit_parts
    from sociallearn.experiment.units import expand_units
    from sociallearn.experiment.workbench import Workbench

    bench = Workbench(config, None)
    shape = task_shape(config, bench, "sms_spam")
    rates = measured_rates(config.model, config.student_options(), Console())
    seconds = [
        sum(unit_parts(config, key, shape, config.limit or 0, rates))
        for key in expand_units(config)
    ]
    return makespan(seconds, 1)


def _fake_grid(out: Path, latency: float) -> ExperimentConfig:
    return ExperimentConfig.model_validate(
        {
            "tasks": ["sms_spam"],
            "methods": ["zero_shot", "original_examples", "synthetic_examples"],
            "n": [2, 4],
            "aggregators": ["random"],
            "seeds": [0, 1, 2, 3],
            "model": "fake",
            "model_options": {"latency": latency},
            "teachers": 3,
            "silo_size": 16,
            "heldout": 0,
            "limit": 20,
            "out": out,
            "synthesis": {"constrained": False},
        }
    )


def part_ray(root: Path, latency: float) -> None:
    try:
        import ray
    except ImportError:
        print("part 2: skipped (ray is not installed: pip install 'sociallearn[ray]')")
        return
    from sociallearn.experiment.executors.ray import RayExecutor

    ray.init(num_cpus=8, include_dashboard=False, log_to_driver=False)
    try:
        print(f"part 2: Ray on the fake model, {latency * 1000:.0f} ms per model call")
        base_s = 0.0
        units: list[float] = []
        reference: list[str] = []
        for k in (1, 2, 4, 8):
            seconds, n, rows = _timed(
                _fake_grid(root / f"ray{k}", latency), RayExecutor(None, workers=k, num_cpus=1)
            )
            if k == 1:
                base_s, reference = seconds, rows
                summary_rows = [
                    json.loads(line)
                    for line in (root / "ray1" / "results.jsonl").read_text().splitlines()
                ]
                units = [r["timings"]["teach_s"] + r["timings"]["eval_s"] for r in summary_rows]
            bound = max(sum(units) / k, max(units))
            print(
                f"  {k} actor(s): {n} units in {seconds:6.1f}s, speed-up {base_s / seconds:4.2f}x;"
                f" bound {bound:6.1f}s (longest unit {max(units):.1f}s), "
                f"{bound / seconds:4.0%} of it; same rows: {rows == reference}"
            )
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=40, help="test items per unit")
    parser.add_argument("--seeds", type=int, default=4, help="units (one per seed)")
    parser.add_argument("--latency", type=float, default=0.05, help="fake model s per call")
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if not args.skip_ray:
            part_ray(root, args.latency)
        ratio = part_workers(args.limit, args.seeds, root)
    print(f"ratio (processes x2 / local, units per hour): {ratio:.2f}x (target >= 1.8x)")


if __name__ == "__main__":
    main()
