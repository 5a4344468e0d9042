"""Fixtures for the report tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from report_fixtures import synthetic_privacy, synthetic_results, write_jsonl


@pytest.fixture
def synthetic_run_dir(tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_jsonl(run_dir / "results.jsonl", synthetic_results())
    write_jsonl(run_dir / "privacy.jsonl", synthetic_privacy())
    (run_dir / "config.yaml").write_text(
        "tasks: [sms_spam, lambada, gsm8k]\nseeds: 3\nstudent: llamacpp:smollm2-135m\n",
        encoding="utf-8",
    )
    return run_dir
