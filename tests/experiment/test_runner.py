"""The runner on the fake model: result files, transcript, resume after a real kill -9."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fake_runs import fake_run_config, result_rows
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.runner import run_experiment

GRID: dict[str, Any] = {
    "methods": ["zero_shot", "original_examples", "synthetic_examples", "synthetic_instruction"],
    "aggregators": ["random", "voting"],
    "seeds": [0, 1],
    "silo_size": 20,
    "limit": 6,
}


def _config(out: Path, **extra: Any) -> ExperimentConfig:
    return fake_run_config(out, GRID, **extra)


def _stable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        ({k: v for k, v in r.items() if k != "timings"} for r in rows), key=lambda r: r["unit"]
    )


def test_run_writes_results_and_transcript(tmp_path: Path) -> None:
    summary = run_experiment(_config(tmp_path / "run"))
    run_dir = tmp_path / "run"
    rows = result_rows(run_dir)
    assert len(rows) == summary.computed == 2 * (1 + 1 + 2 + 1)
    for row in rows:
        for field in ("task", "method", "n", "aggregator", "seed", "accuracy", "predictions"):
            assert field in row
        assert len(row["predictions"]) == row["n_items"] == 6
    messages = [json.loads(x) for x in (run_dir / "transcript.jsonl").read_text().splitlines()]
    assert {"unit", "round", "sender", "recipient", "kind", "text"} <= set(messages[0])
    assert any(m["recipient"] == "student" and m["kind"] == "lesson" for m in messages)
    assert (run_dir / "config.yaml").exists() and (run_dir / "run.json").exists()
    synthetic = [r for r in rows if r["method"] == "synthetic_examples"]
    assert all(r["leakage"] is not None and "copy_rate" in r["leakage"] for r in synthetic)
    assert all(r["contains_private"] == (r["method"] == "original_examples") for r in rows)
    # Verbatim private examples reach the student only in the original-examples baseline.
    for row in rows:
        expected = row["n"] if row["method"] == "original_examples" else 0
        assert row["private_examples_to_student"] == expected, row["unit"]


def test_aggregators_are_compared_on_the_same_candidates(tmp_path: Path) -> None:
    run_experiment(_config(tmp_path / "r", seeds=[0], methods=["synthetic_examples"]))
    lines = (tmp_path / "r" / "transcript.jsonl").read_text().splitlines()
    lessons: dict[str, list[str]] = {"random": [], "voting": []}
    for message in map(json.loads, lines):
        if message["kind"] == "lesson" and message["round"] == 1:
            lessons["random" if "/random/" in message["unit"] else "voting"].append(message["text"])
    assert lessons["random"] and lessons["random"] == lessons["voting"]


def test_rerun_skips_finished_units_and_matches(tmp_path: Path) -> None:
    first = run_experiment(_config(tmp_path / "a"))
    again = run_experiment(_config(tmp_path / "a"))
    assert again.computed == 0 and again.skipped == first.computed
    assert _stable(again.run_dir_rows) == _stable(first.run_dir_rows)


def test_adding_seeds_extends_the_run_in_place(tmp_path: Path) -> None:
    first = run_experiment(_config(tmp_path / "a", seeds=[0]))
    grown = run_experiment(_config(tmp_path / "a", seeds=[0, 1]))
    assert grown.skipped == first.computed and grown.computed == first.computed
    assert len(grown.run_dir_rows) == 2 * first.computed


def test_results_do_not_depend_on_unit_order(tmp_path: Path) -> None:
    from sociallearn.experiment.units import expand_units

    cfg = _config(tmp_path / "fwd")
    fwd = run_experiment(cfg)
    rev = run_experiment(_config(tmp_path / "rev"), units=list(reversed(expand_units(cfg))))
    assert _stable(fwd.run_dir_rows) == _stable(rev.run_dir_rows)


def _done_units(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM units").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_kill_nine_mid_run_then_resume_gives_the_same_results(tmp_path: Path) -> None:
    config_path = tmp_path / "grid.yaml"
    cfg = _config(tmp_path / "killed", model_options={"latency": 0.01}, limit=20)
    config_path.write_text(cfg.model_copy(update={"out": None}).to_yaml())
    cmd = [sys.executable, "-m", "sociallearn.cli", "run", str(config_path), "--out"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [*cmd, str(tmp_path / "killed")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    db = tmp_path / "killed" / "results.sqlite"
    deadline = time.monotonic() + 120
    while _done_units(db) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; raise the latency"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_at_kill = _done_units(db)
    assert 3 <= done_at_kill < 10
    resumed = subprocess.run(
        [*cmd, str(tmp_path / "killed")], env=env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {done_at_kill} of 10 units already done" in resumed.stdout
    clean = subprocess.run(
        [*cmd, str(tmp_path / "clean")], env=env, capture_output=True, text=True, timeout=300
    )
    assert clean.returncode == 0, clean.stderr

    def rows(d: str) -> list[dict[str, Any]]:
        lines = (tmp_path / d / "results.jsonl").read_text().splitlines()
        return _stable([json.loads(x) for x in lines])

    assert rows("killed") == rows("clean")


# --- siblings that differ only in the aggregator teach once --------------------------------------

SIBLINGS: dict[str, Any] = {
    "methods": ["zero_shot", "synthetic_examples"],
    "aggregators": ["random", "class_balanced", "voting"],
    "seeds": [0, 1],
}


def test_a_sibling_asks_the_teachers_exactly_what_the_first_aggregator_asked(
    tmp_path: Path,
) -> None:
    """The premise of dealing siblings after each other: the same generation requests (prompt,
    budget, seed), so the response cache answers all of them the second time."""
    from sociallearn.experiment.unit import build_classroom, teach
    from sociallearn.experiment.units import UnitKey
    from sociallearn.experiment.workbench import Workbench
    from sociallearn.models.fake import FakeModel

    config = fake_run_config(tmp_path / "r", SIBLINGS)
    bench = Workbench(config, None)
    model = bench.teacher_model()
    assert isinstance(model, FakeModel)
    asked: dict[str, list[Any]] = {}
    for aggregator in ("random", "class_balanced", "voting"):
        key = UnitKey("sms_spam", "synthetic_examples", 2, aggregator, 1)
        model.generate_calls.clear()
        room = build_classroom(config, bench, key)
        teach(config, bench, key, room, key.teaching_seed())
        asked[aggregator] = list(model.generate_calls)
    assert asked["random"] and len({p.seed for _, p in asked["random"]}) > 1
    assert asked["class_balanced"] == asked["random"] == asked["voting"]


def test_jobs_of_siblings_wait_for_the_first_and_cost_only_what_it_cannot_share(
    tmp_path: Path,
) -> None:
    from sociallearn.experiment.plan import unit_cost
    from sociallearn.experiment.runner import unit_jobs
    from sociallearn.experiment.units import UnitKey, expand_units
    from sociallearn.experiment.workbench import Workbench

    config = fake_run_config(tmp_path / "r", SIBLINGS)
    bench = Workbench(config, None)
    grid = expand_units(config)
    first = UnitKey("sms_spam", "synthetic_examples", 2, "random", 0)
    balanced = UnitKey("sms_spam", "synthetic_examples", 2, "class_balanced", 0)
    voting = UnitKey("sms_spam", "synthetic_examples", 2, "voting", 0)
    zero_shot = UnitKey("sms_spam", "zero_shot", 0, None, 0)
    jobs = {job.unit: job for job in unit_jobs(config, bench, grid, grid)}
    assert jobs[first].after is None and jobs[zero_shot].after is None
    assert jobs[balanced].after == jobs[voting].after == str(first)
    # Only evaluation is left to the class-balanced sibling; voting still pays for its votes.
    evaluation = unit_cost(config, bench, zero_shot)
    assert jobs[balanced].cost == evaluation < jobs[voting].cost < unit_cost(config, bench, voting)
    assert jobs[first].cost == unit_cost(config, bench, first)
    # The first sibling stored by an earlier run: its candidates are cached, nothing to wait for.
    left = [k for k in grid if k != first]
    jobs = {job.unit: job for job in unit_jobs(config, bench, left, grid)}
    assert jobs[balanced].after is None and jobs[balanced].cost == evaluation
    # Without the response cache a sibling teaches again: full cost, no waiting.
    uncached = fake_run_config(tmp_path / "u", SIBLINGS, cache=False)
    jobs = {job.unit: job for job in unit_jobs(uncached, bench, grid, grid)}
    assert jobs[balanced].after is None and jobs[balanced].cost == unit_cost(config, bench, first)
