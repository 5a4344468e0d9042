"""Whole runs against a misbehaving OpenAI-compatible server: no wrong row, no wrong cache entry.

A persistent fault stops the run with one error (and one ``error:`` line from the CLI); the
store and the response cache then hold nothing, and once the server recovers the rerun equals a
clean run. An intermittent fault is retried and the run equals a clean one directly.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fault_server import FaultServer
from sociallearn.errors import BackendError, CapabilityError
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.runner import run_experiment

pytest.importorskip("openai")


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with FaultServer(lifetime_s=600) as running:
        yield running


def _settings(url: str, out: Path, mode: str) -> dict[str, Any]:
    return {
        "tasks": ["sms_spam"],
        "methods": ["zero_shot", "original_examples", "synthetic_examples"],
        "n": [2],
        "aggregators": ["random"],
        "seeds": [0],
        "model": "openai:fake",
        "model_options": {"base_url": url, "max_tries": 3, "backoff": 0.01, "concurrency": 2},
        "teachers": 2,
        "silo_size": 8,
        "heldout": 0,
        "limit": 4,
        "answer_mode": mode,
        "synthesis": {"constrained": False, "samples": 2, "attempts": 1},
        "out": str(out),
    }


def _config(url: str, out: Path, mode: str) -> ExperimentConfig:
    return ExperimentConfig.model_validate(_settings(url, out, mode))


def _stable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        ({k: v for k, v in r.items() if k != "timings"} for r in rows), key=lambda r: r["unit"]
    )


def _count(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


@pytest.fixture(scope="module")
def clean_rows(server: FaultServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    server.set_mode("ok")
    out = {}
    for mode in ("generate", "score"):
        run_dir = tmp_path_factory.mktemp(f"clean-{mode}")
        out[mode] = _stable(run_experiment(_config(server.url, run_dir / "r", mode)).run_dir_rows)
        assert len(out[mode]) == 3
    return out


@pytest.mark.parametrize("answer_mode", ["generate", "score"])
@pytest.mark.parametrize(
    "fault", ["null_text", "short_logprobs", "string_logprobs", "invalid_json", "empty_choices"]
)
def test_persistent_fault_stores_nothing_and_the_rerun_equals_a_clean_run(
    server: FaultServer,
    clean_rows: dict[str, Any],
    tmp_path: Path,
    fault: str,
    answer_mode: str,
) -> None:
    config = _config(server.url, tmp_path / "r", answer_mode)
    server.set_mode(fault)
    try:
        with pytest.raises((BackendError, CapabilityError)) as info:
            run_experiment(config)
        assert "\n" not in str(info.value)
        assert _count(tmp_path / "r" / "results.sqlite", "units") == 0
        assert _count(tmp_path / "r" / "cache.sqlite", "responses") == 0
        assert not (tmp_path / "r" / "results.jsonl").read_text()
    finally:
        server.set_mode("ok")  # the server recovers
    rerun = run_experiment(config)
    assert _stable(rerun.run_dir_rows) == clean_rows[answer_mode]


@pytest.mark.parametrize(
    ("fault", "limit", "settings"),
    # Transport faults are retried after the client's backoff (0.5 s and up): a few suffice.
    [
        ("null_text", None, {}),
        ("html", None, {}),
        ("null_logprobs", None, {}),
        ("error_500", 3, {}),
        ("reset", 3, {}),
        ("rate_limit", 2, {"retry_after": "0.3"}),
        ("slow", 1, {"delay": 3.0}),
    ],
)
def test_intermittent_fault_gives_a_clean_run(
    server: FaultServer,
    clean_rows: dict[str, Any],
    tmp_path: Path,
    fault: str,
    limit: int | None,
    settings: dict[str, Any],
) -> None:
    config = _settings(server.url, tmp_path / "r", "score")
    # Two requests in flight can both land on failing slots again: allow more tries; a slow
    # answer is cut by the per-try timeout and asked again.
    config["model_options"].update(max_tries=8, timeout=1.0)
    server.set_mode(fault, every=2, limit=limit, **settings)
    try:
        summary = run_experiment(ExperimentConfig.model_validate(config))
        assert server.faults > 0
    finally:
        server.set_mode("ok")
    assert _stable(summary.run_dir_rows) == clean_rows["score"]


def test_cli_prints_one_error_line_and_exits_2(server: FaultServer, tmp_path: Path) -> None:
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(_settings(server.url, tmp_path / "r", "generate")))
    server.set_mode("null_text")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "sociallearn.cli", "run", str(config)],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        server.set_mode("ok")
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "unusable" in lines[0] and server.url in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
