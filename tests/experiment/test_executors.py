"""Executors on the fake model: local, processes and Ray give the same rows and transcripts,
survive a dying worker, resume each other's runs and fail fast on an application error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from fake_runs import fake_run_config
from sociallearn.errors import UserError
from sociallearn.experiment.audit import run_audit
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.executors import (
    Executor,
    ExecutorSettings,
    Job,
    JobResult,
    WorkerLostError,
    make_executor,
)
from sociallearn.experiment.executors.base import FAULT_ENV
from sociallearn.experiment.executors.local import LocalExecutor
from sociallearn.experiment.executors.processes import ProcessExecutor
from sociallearn.experiment.runner import SilentReporter, run_experiment
from sociallearn.experiment.units import UnitKey, expand_units
from sociallearn.experiment.workbench import Workbench

# Three methods, two aggregators, two seeds: enough units to spread over workers.
GRID: dict[str, Any] = {
    "methods": ["zero_shot", "original_examples", "synthetic_examples"],
    "aggregators": ["random", "voting"],
    "seeds": [0, 1],
}


def _grid(out: Path, **extra: Any) -> ExperimentConfig:
    return fake_run_config(out, GRID, **extra)


def _audit(out: Path) -> ExperimentConfig:
    return _grid(out, heldout=0, audit={"n_references": 20, "runs": 2, "n": 2})


def _results(run_dir: Path, name: str = "results.jsonl") -> list[str]:
    """Rows without their wall-clock timings, in a fixed order."""
    lines = (run_dir / name).read_text().splitlines()
    rows = ({k: v for k, v in json.loads(x).items() if k != "timings"} for x in lines)
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


def _transcripts(run_dir: Path) -> dict[str, list[str]]:
    """Each job's transcript in the order it was written (from the store: an audit's two
    templates share a unit name in transcript.jsonl), and the export's messages."""
    import sqlite3

    with sqlite3.connect(run_dir / "results.sqlite") as db:
        rows = db.execute("SELECT unit, row FROM messages ORDER BY unit, seq").fetchall()
    out: dict[str, list[str]] = {}
    for unit, row in rows:
        out.setdefault(unit, []).append(row)
    exported = (run_dir / "transcript.jsonl").read_text().splitlines()
    assert sorted(exported) == sorted(row for _, row in rows)
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The grid run serially in this process: what every executor must reproduce."""
    out = tmp_path_factory.mktemp("ref") / "run"
    run_experiment(_grid(out))
    return out


def _same(run_dir: Path, reference: Path) -> None:
    assert _results(run_dir) == _results(reference)
    assert _transcripts(run_dir) == _transcripts(reference)


def test_two_worker_processes_give_the_serial_results(tmp_path: Path, reference: Path) -> None:
    summary = run_experiment(_grid(tmp_path / "p"), executor=ProcessExecutor(2, threads=1))
    assert summary.computed == len(expand_units(_grid(tmp_path)))
    assert "processes x2" in summary.executor and "units/hour" in summary.throughput()
    _same(tmp_path / "p", reference)


def test_a_worker_dying_on_its_first_job_is_replaced_and_the_job_redone(
    tmp_path: Path, reference: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "died"
    monkeypatch.setenv(FAULT_ENV, f"exit-once:{marker}")
    run_experiment(_grid(tmp_path / "p"), executor=ProcessExecutor(2, threads=1))
    assert marker.exists()  # a worker did die
    _same(tmp_path / "p", reference)


def test_a_job_that_keeps_killing_its_worker_is_not_retried_forever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Retries 0: the first death is final, and the error names the unit.
    monkeypatch.setenv(FAULT_ENV, f"exit-once:{tmp_path / 'died'}")
    cfg = _grid(tmp_path / "p", methods=["zero_shot"], seeds=[0])
    with pytest.raises(WorkerLostError, match=r"unit sms_spam/zero_shot/n=0/-/seed=0: its worker"):
        run_experiment(cfg, executor=ProcessExecutor(1, threads=1, retries=0))


class _StopAfter(SilentReporter):
    """Stops the run (like Ctrl-C) once ``n`` units are saved."""

    def __init__(self, n: int) -> None:
        self.n = n

    def unit_finished(self, key: UnitKey, row: dict[str, Any]) -> None:
        self.n -= 1
        if self.n == 0:
            raise KeyboardInterrupt


def test_stop_midway_then_resume_under_another_executor(tmp_path: Path, reference: Path) -> None:
    cfg = _grid(tmp_path / "r")
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, _StopAfter(3), executor=ProcessExecutor(2, threads=1))
    resumed = run_experiment(cfg, executor=LocalExecutor())
    assert resumed.skipped >= 3 and resumed.computed == len(expand_units(cfg)) - resumed.skipped
    _same(tmp_path / "r", reference)


class _Recorder:
    def __init__(self) -> None:
        # Not named ``finished``: an attribute of that name would hide the method below, and
        # a good unit finishing before the bad one's error arrives would then fail to report.
        self.finished_keys: list[str] = []

    def started(self, job: Job) -> None:
        pass

    def items_done(self, job: Job, count: int) -> None:
        pass

    def finished(self, result: JobResult) -> None:
        self.finished_keys.append(result.job.key)


@pytest.mark.parametrize("executor", ["local", "processes"])
def test_an_application_error_fails_fast_naming_the_unit(tmp_path: Path, executor: str) -> None:
    cfg = _grid(tmp_path / "e")
    bad = Job(UnitKey("no_such_task", "zero_shot", 0, None, 0), cost=1e9)  # dealt first
    jobs = [Job(u) for u in expand_units(cfg)]
    runner: Executor = LocalExecutor() if executor == "local" else ProcessExecutor(2, threads=1)
    events = _Recorder()
    with pytest.raises(UserError, match=r"unit no_such_task/zero_shot/n=0/-/seed=0: .*task"):
        runner.run(cfg, [bad, *jobs], events, Workbench(cfg))
    assert len(events.finished_keys) < len(jobs)  # it stopped, not ran everything first


def test_audit_over_two_workers_equals_the_serial_audit(tmp_path: Path) -> None:
    console = Console(file=(tmp_path / "log.txt").open("w"), width=200)
    serial = run_audit(_audit(tmp_path / "serial"), console)
    fanned = run_audit(_audit(tmp_path / "fan"), console, executor=ProcessExecutor(2, threads=1))
    assert len(serial) == len(fanned) == 2 * 2 * 2
    assert _results(tmp_path / "fan", "privacy.jsonl") == _results(
        tmp_path / "serial", "privacy.jsonl"
    )
    assert _transcripts(tmp_path / "fan") == _transcripts(tmp_path / "serial")


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (ExecutorSettings(workers=0), "--workers: expected at least 1, got 0"),
        (ExecutorSettings(executor="dask"), "--executor: unknown executor 'dask'"),
        (ExecutorSettings(executor="local", workers=2), "the local executor has one worker"),
        (ExecutorSettings(address="auto"), "--address: only used with --executor ray"),
        (ExecutorSettings(executor="ray", num_cpus=0), "--num-cpus: expected a positive number"),
    ],
)
def test_bad_executor_flags_are_one_line(settings: ExecutorSettings, expected: str) -> None:
    with pytest.raises(UserError, match=expected):
        make_executor(settings, _grid(Path("unused")))


def test_more_workers_than_cores_with_llamacpp_warns() -> None:
    warnings: list[str] = []
    cfg = _grid(Path("unused"), model="llamacpp:smollm2")
    runner = make_executor(ExecutorSettings(workers=64), cfg, warn=warnings.append)
    assert isinstance(runner, ProcessExecutor) and runner.threads == 1
    assert warnings and "more than the" in warnings[0]


def test_an_explicit_n_threads_is_the_threads_the_executor_reports() -> None:
    cfg = _grid(Path("unused"), model="llamacpp:smollm2", model_options={"n_threads": 3})
    runner = make_executor(ExecutorSettings(workers=1), cfg)
    assert isinstance(runner, ProcessExecutor) and runner.threads == 3
    assert runner.label == "processes x1 (3 thread(s) each)"


def test_cli_workers_zero_is_one_error_line_and_nothing_lost(tmp_path: Path) -> None:
    out = tmp_path / "r"
    args = ["--model", "fake", "--limit", "2", "--method", "zero_shot", "--out", str(out)]
    first = subprocess.run(
        [sys.executable, "-m", "sociallearn.cli", "run", *args], capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    assert "throughput:" in first.stdout
    before = (out / "results.jsonl").read_text()
    bad = subprocess.run(
        [sys.executable, "-m", "sociallearn.cli", "run", *args, "--workers", "0"],
        capture_output=True,
        text=True,
    )
    lines = [line for line in bad.stderr.splitlines() if line.strip()]
    assert bad.returncode == 2 and len(lines) == 1, bad.stderr
    assert lines[0].startswith("error: --workers: expected at least 1")
    assert (out / "results.jsonl").read_text() == before


def test_cli_unreachable_ray_address_is_one_error_line(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="ray is not installed (pip install 'sociallearn[ray]')")
    if Path(tempfile.gettempdir(), "ray", "ray_current_cluster").exists():
        pytest.skip("a Ray cluster runs on this machine: --address auto would find it")
    args = ["--model", "fake", "--limit", "2", "--method", "zero_shot", "--out", str(tmp_path)]
    args += ["--executor", "ray", "--address", "auto"]
    bad = subprocess.run(
        [sys.executable, "-m", "sociallearn.cli", "run", *args],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"},
    )
    lines = [line for line in bad.stderr.splitlines() if line.strip()]
    assert bad.returncode == 2 and len(lines) == 1, bad.stderr
    assert lines[0].startswith("error: --address auto: no Ray cluster reachable")


# --- Ray: a local cluster with 2 CPUs, started and stopped here ---------------------------------


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'sociallearn[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _ray(**kwargs: Any) -> Executor:
    from sociallearn.experiment.executors.ray import RayExecutor

    return RayExecutor(address=None, workers=2, num_cpus=1, **kwargs)


def test_ray_gives_the_serial_results(tmp_path: Path, reference: Path, ray_cluster: Any) -> None:
    summary = run_experiment(_grid(tmp_path / "r"), executor=_ray())
    assert "ray x2" in summary.executor
    _same(tmp_path / "r", reference)


def test_ray_resumes_a_stopped_run_and_redoes_a_lost_job(
    tmp_path: Path, reference: Path, ray_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _grid(tmp_path / "r")
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, _StopAfter(2), executor=LocalExecutor())
    marker = tmp_path / "died"
    monkeypatch.setenv(FAULT_ENV, f"exit-once:{marker}")
    resumed = run_experiment(cfg, executor=_ray())
    assert marker.exists() and resumed.skipped == 2
    _same(tmp_path / "r", reference)


def test_ray_application_error_and_refused_worker(tmp_path: Path, ray_cluster: Any) -> None:
    cfg = _grid(tmp_path / "e")
    bad = Job(UnitKey("no_such_task", "zero_shot", 0, None, 0), cost=1e9)
    events = _Recorder()
    with pytest.raises(UserError, match=r"unit no_such_task/zero_shot/n=0/-/seed=0"):
        _ray().run(cfg, [bad, *(Job(u) for u in expand_units(cfg))], events, Workbench(cfg))
    # A worker whose data differ from the driver's is refused before it runs anything.
    other = Workbench(_grid(tmp_path / "e", data_seed=1))
    with pytest.raises(UserError, match="refused: data digest"):
        _ray().run(cfg, [Job(u) for u in expand_units(cfg)], _Recorder(), other)


def test_ray_audit_equals_the_serial_audit(tmp_path: Path, ray_cluster: Any) -> None:
    console = Console(file=(tmp_path / "log.txt").open("w"), width=200)
    run_audit(_audit(tmp_path / "serial"), console)
    run_audit(_audit(tmp_path / "ray"), console, executor=_ray())
    assert _results(tmp_path / "ray", "privacy.jsonl") == _results(
        tmp_path / "serial", "privacy.jsonl"
    )
    assert _transcripts(tmp_path / "ray") == _transcripts(tmp_path / "serial")


# --- the job queue: longest first, a sibling after the job whose teaching it repeats ------------


class _Finished:
    def __init__(self) -> None:
        self.keys: list[str] = []

    def started(self, job: Job) -> None: ...

    def items_done(self, job: Job, count: int) -> None: ...

    def finished(self, result: JobResult) -> None:
        self.keys.append(result.job.key)


def _job(seed: int, cost: float, aggregator: str = "random", after: Job | None = None) -> Job:
    key = UnitKey("sms_spam", "synthetic_examples", 2, aggregator, seed)
    return Job(key, cost=cost, after=None if after is None else after.key)


def test_a_job_waits_for_the_sibling_whose_teaching_it_repeats_if_others_can_run() -> None:
    from sociallearn.experiment.executors.base import JobQueue

    first = _job(0, 5.0)
    sibling = _job(0, 9.0, "class_balanced", after=first)
    short = _job(1, 1.0)
    stored = _job(2, 2.0, "class_balanced", after=_job(2, 5.0))  # its first sibling: not here
    events = _Finished()
    queue = JobQueue([first, sibling, short, stored], events, retries=1)
    # Longest first, but the sibling is held back while its first sibling runs...
    assert [queue.take(), queue.take(), queue.take()] == [first, stored, short]
    queue.finish(JobResult(first, {}, []))
    assert queue.take() == sibling and queue.take() is None
    # ...and while it waits to run again after its worker was lost (it goes back first).
    queue = JobQueue([first, sibling, short], events, retries=1)
    assert queue.take() == first
    queue.put_back(first, "worker was lost", "a crash")
    assert [queue.take(), queue.take()] == [first, short]
    # A worker is never left idle for it: with nothing else left, the sibling starts (and teaches).
    assert queue.take() == sibling and queue.take() is None


# --- --dry-run: wall time per executor setting ---------------------------------------------------


def test_longest_first_makespan_is_within_the_list_scheduling_bounds() -> None:
    from sociallearn.experiment.plan import makespan

    units = [9.0, 7.0, 5.0, 4.0, 4.0, 3.0, 2.0, 1.0]
    assert makespan(units, 1) == sum(units)
    for k in (2, 3, 4, 16):
        lower = max(sum(units) / k, max(units))
        assert lower <= makespan(units, k) <= sum(units) / k + max(units)
    assert makespan(units, 16) == max(units)


@pytest.mark.embedded
def test_dry_run_measures_the_models_rates_and_prints_a_wall_time_per_setting(
    tmp_path: Path,
) -> None:
    from sociallearn.experiment.plan import print_plan

    out = tmp_path / "plan.txt"
    cfg = _grid(tmp_path / "r", model="llamacpp:smollm2", limit=50)
    with out.open("w") as fh:
        print_plan(cfg, Console(file=fh, width=200))
    text = out.read_text()
    assert "measuring token rates of llamacpp:smollm2" in text
    assert "student at one thread: prefill" in text and "teachers at one thread" not in text
    assert "estimated wall time" in text and "local" in text and "longest unit" in text


def test_dry_run_without_rates_says_why(tmp_path: Path) -> None:
    from sociallearn.experiment.plan import print_plan

    out = tmp_path / "plan.txt"
    # The fake model has no token rates to measure: calls only, said plainly.
    with out.open("w") as fh:
        print_plan(_grid(tmp_path / "r"), Console(file=fh, width=200))
    assert "wall time: not estimated (token rates are measured for llama.cpp" in out.read_text()
    # A GGUF that does not load: the reason, and the calls table still printed.
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF")
    with out.open("w") as fh:
        print_plan(
            _grid(tmp_path / "r", model=f"llamacpp:{other}", limit=50), Console(file=fh, width=200)
        )
    text = out.read_text()
    assert "wall time: not estimated (cannot load model file" in text
    assert "total model calls" in text and "estimated wall time" not in text


def test_unit_seconds_costs_tokens_behind_their_context() -> None:
    """Evaluation behind a long learned prompt costs more per item than behind a short one, a
    reused sibling costs no generations, and the samples of one prompt share its prefill."""
    from sociallearn.experiment.plan import TaskShape, teaching_cost, unit_parts

    def unit_seconds(*args: Any, **options: Any) -> float:
        return sum(unit_parts(*args, **options))

    from sociallearn.models.llamacpp_rates import Rates, TokenCost

    flat = Rates(TokenCost(0.01), TokenCost(0.02), TokenCost(0.015))
    sloped = Rates(TokenCost(0.01, 1e-5), TokenCost(0.02, 1e-5), TokenCost(0.015, 1e-5))
    shape = TaskShape(example_tokens=100.0, query_tokens=50.0, answer_tokens=3.0, labels=2)
    cfg = _grid(Path("unused"), model="llamacpp:smollm2")
    original = [UnitKey("sms_spam", "original_examples", n, None, 0) for n in (1, 16)]

    def per_item(rates: Rates, key: UnitKey) -> float:
        return unit_seconds(cfg, key, shape, 101, rates) - unit_seconds(cfg, key, shape, 1, rates)

    # Without a slope an item costs the same behind 1 or 16 examples; with one, more behind 16:
    # its 50 query tokens and 3 answer tokens (generation mode), 1,500 tokens further along.
    assert per_item(flat, original[1]) == pytest.approx(per_item(flat, original[0]))
    grown = per_item(sloped, original[1]) - per_item(sloped, original[0])
    assert cfg.answer_mode == "generate"
    assert grown == pytest.approx(100 * (50 + 3) * 1e-5 * 1500)
    # Score mode: 2 labels of 2 scored tokens each instead of the answer.
    cfg = cfg.model_copy(update={"answer_mode": "score"})
    grown = per_item(sloped, original[1]) - per_item(sloped, original[0])
    assert grown == pytest.approx(100 * (50 + 2 * 2) * 1e-5 * 1500)
    # A sibling whose candidates are cached costs what an original unit at its n costs, plus
    # its scored continuations; the samples of one prompt share the prompt's prefill.
    generated = UnitKey("sms_spam", "synthetic_examples", 4, "random", 0)
    cost = teaching_cost(cfg, generated)
    reused = unit_seconds(cfg, generated, shape, 10, flat, reused=True)
    at_same_n = unit_seconds(
        cfg, UnitKey("sms_spam", "original_examples", 4, None, 0), shape, 10, flat
    )
    assert reused == pytest.approx(at_same_n + cost.scores * 100 * 0.015)
    prefill_only = Rates(TokenCost(0.01), TokenCost(1e-12), TokenCost(0.015))
    syn = cfg.synthesis.model_copy(update={"samples": 2})
    two = cfg.model_copy(update={"synthesis": syn})
    cost = teaching_cost(two, generated)
    taught = unit_seconds(two, generated, shape, 0, prefill_only) - unit_seconds(
        two, generated, shape, 0, prefill_only, reused=True
    )
    assert cost.generations > 0
    assert taught == pytest.approx(cost.generations / 2 * syn.n_gen * 100 * 0.01, rel=1e-6)
    # Voting: each teacher's poll prefills its held-out examples once, then scores candidates.
    voting = UnitKey("sms_spam", "synthetic_examples", 4, "voting", 0)
    cost = teaching_cost(cfg, voting)
    assert cost.polls == 4 * cfg.teachers and cost.scores > 0
    no_scoring = Rates(TokenCost(0.01), TokenCost(1e-12), TokenCost(1e-12))
    polls = unit_seconds(cfg, voting, shape, 0, no_scoring, reused=True) - unit_seconds(
        cfg, generated, shape, 0, no_scoring, reused=True
    )
    assert polls == pytest.approx(cost.polls * cfg.heldout * 100 * 0.01, rel=1e-6)


def test_dry_run_leaves_stored_units_out(tmp_path: Path) -> None:
    """Extending a grid: the units already in the directory are marked done, not counted, and
    the directory is only read."""
    import re

    from sociallearn.experiment.plan import print_plan

    def plan(cfg: ExperimentConfig) -> str:
        out = tmp_path / "plan.txt"
        with out.open("w") as fh:
            print_plan(cfg, Console(file=fh, width=200))
        return out.read_text()

    run_experiment(_grid(tmp_path / "r", seeds=[0]))
    before = (tmp_path / "r" / "results.sqlite").stat().st_mtime_ns
    text = plan(_grid(tmp_path / "r"))
    done = [line for line in text.splitlines() if line.rstrip("│ ").endswith("done")]
    assert len(done) == 4 and all("seed=0" in line for line in done)
    found = re.search(r"total model calls \(est.\): (\d+) for 4 units to run \(4 done\)", text)
    fresh = re.search(r"total model calls \(est.\): (\d+) for 8", plan(_grid(tmp_path / "new")))
    assert found is not None and fresh is not None
    assert 0 < int(found.group(1)) < int(fresh.group(1))
    assert (tmp_path / "r" / "results.sqlite").stat().st_mtime_ns == before
    assert not (tmp_path / "new").exists()


def test_dry_run_counts_a_siblings_teaching_once(tmp_path: Path) -> None:
    """Units that differ only in the aggregator sample the same candidates: with the response
    cache the later ones cost their evaluation (and votes), without it they teach again."""
    import re

    from sociallearn.experiment.plan import print_plan

    def total(**fields: Any) -> int:
        out = tmp_path / "plan.txt"
        cfg = _grid(tmp_path / "r", aggregators=["random", "class_balanced"], **fields)
        with out.open("w") as fh:
            print_plan(cfg, Console(file=fh, width=200))
        found = re.search(r"total model calls \(est.\): (\d+)", out.read_text())
        assert found is not None
        return int(found.group(1))

    from sociallearn.experiment.plan import teaching_cost

    key = UnitKey("sms_spam", "synthetic_examples", 2, "class_balanced", 0)
    teaching = teaching_cost(_grid(tmp_path / "r"), key).calls
    # Per seed (two), the class-balanced unit's teaching is what the random unit's costs.
    assert teaching > 0 and total(cache=False) - total() == 2 * teaching
