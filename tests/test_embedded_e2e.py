"""End to end on the real embedded model: the CLI run, its files and report, and a small audit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.embedded


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sociallearn.cli", *args],
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_tiny_run_on_the_embedded_model(tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = str(ROOT / "tests" / "fixtures" / "tiny_embedded.yaml")
    result = _cli("run", config, "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert {r["method"] for r in rows} == {
        "zero_shot",
        "original_examples",
        "synthetic_examples",
        "synthetic_instruction",
    }
    assert all(r["student_model"].startswith("llamacpp:smollm2") for r in rows)
    assert all(r["n_items"] == 6 and 0.0 <= r["accuracy"] <= 1.0 for r in rows)
    synthetic = [r for r in rows if r["method"] == "synthetic_examples"]
    assert len(synthetic) == 2
    for row in synthetic:
        leak = row["leakage"]
        assert leak["n_sampled"] > 0 and leak["constrained"] is True
        assert row["n_examples_taught"] + row["shortfall"] == 2
    # Real generations were parsed into examples and reached the student.
    messages = [json.loads(x) for x in (out / "transcript.jsonl").read_text().splitlines()]
    lessons = [m for m in messages if m["kind"] == "lesson" and "synthetic_examples" in m["unit"]]
    assert any("Class" in m["text"] for m in lessons)
    assert (out / "report.html").stat().st_size > 10_000
    assert "synthetic_examples" in result.stdout
    # Carried to a fresh folder without labels, recovered with them, and resumed: no unit is
    # computed again, and every row is the same but for the raw completions left behind.
    moved = tmp_path / "moved"
    assert _cli("export", str(out), "--format", "carry", "--out", str(moved)).returncode == 0
    assert '"gold"' not in (moved / "results.jsonl").read_text()
    assert _cli("recover", str(moved)).returncode == 0
    again = _cli("run", config, "--out", str(moved))
    assert again.returncode == 0 and "0 units computed, 5 reused" in again.stdout, again.stderr
    for row in rows:
        for prediction in row["predictions"]:
            del prediction["completion"]
    assert [json.loads(x) for x in (moved / "results.jsonl").read_text().splitlines()] == rows


def test_small_canary_audit_on_the_embedded_model(tmp_path: Path) -> None:
    config = tmp_path / "audit.yaml"
    config.write_text(
        "tasks: [sms_spam]\nmodel: llamacpp:smollm2\nteachers: 2\nsilo_size: 6\nheldout: 0\n"
        "synthesis: {n_gen: 2, samples: 2, top_k: 1, max_tokens: 64}\n"
        "audit: {n_references: 40, runs: 2, n: 2, templates: [sms_spam-code]}\n"
    )
    result = _cli("audit", str(config), "--out", str(tmp_path / "a"))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(x) for x in (tmp_path / "a" / "privacy.jsonl").read_text().splitlines()]
    assert len(rows) == 4
    baseline = [r for r in rows if r["method"] == "original_examples"]
    # With the canary in the prompt, a real LM ranks it at or near the top of 40.
    assert all(r["rank"] <= 3 for r in baseline), baseline
    assert "mean rank" in result.stdout
    assert result.stdout.count("  done sms_spam/") == 4
    for row in rows:
        assert len(row["reference_scores"]) == 39
        assert row["rank"] == sum(
            s > round(row["canary_score"], 6) for s in row["reference_scores"]
        )
        assert row["timings"]["score_s"] > 0
    # A canary copied into the prompt lies beyond the references' fitted tail.
    assert all(r["exposure_extrapolated"] > r["exposure"] - 1 for r in baseline), baseline
    # A dry run of a third run per cell scales its estimate by what the four finished runs took.
    plan = _cli("audit", str(config), "--out", str(tmp_path / "a"), "--runs", "3", "--dry-run")
    assert plan.returncode == 0, plan.stderr[-2000:]
    text = " ".join(plan.stdout.split())  # rich wraps long lines
    assert "2 runs to run (4 done)" in text
    assert "scaled by this directory's 4 finished units (measured ÷ estimated)" in text
    assert "teaching sms_spam/synthetic_examples" in text
    assert "scoring sms_spam/sms_spam-code" in text and "scaled by the finished units" in text
