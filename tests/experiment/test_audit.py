"""The canary audit on the fake model (logic) — the embedded run lives in test_embedded_e2e."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from fake_runs import fake_audit_config
from sociallearn.experiment.audit import run_audit
from sociallearn.experiment.config import ExperimentConfig


def test_audit_writes_privacy_rows_and_baseline_memorises(tmp_path: Path) -> None:
    cfg = ExperimentConfig.model_validate(
        {
            "tasks": ["sms_spam"],
            "model": "fake",
            "teachers": 3,
            "silo_size": 12,
            "heldout": 0,
            "out": tmp_path / "audit",
            "synthesis": {"constrained": False},
            "audit": {"n_references": 50, "runs": 3, "n": 2},
        }
    )
    log = (tmp_path / "out.txt").open("w")
    rows = run_audit(cfg, Console(file=log, width=200))
    assert len(rows) == 2 * 2 * 3  # templates × methods × runs
    log.flush()
    # One line per finished run (a log shows progress without a terminal), then the table.
    printed = (tmp_path / "out.txt").read_text()
    assert printed.count("  done sms_spam/") == len(rows)
    assert "mean rank (SEM)" in printed
    assert all(r["timings"]["teach_s"] >= 0 and r["timings"]["score_s"] >= 0 for r in rows)
    # The reference scores are kept, and reproduce the rank.
    for r in rows:
        assert len(r["reference_scores"]) == r["n_references"]
        assert r["rank"] == sum(s > round(r["canary_score"], 6) for s in r["reference_scores"])
    console = Console(file=log, width=200)
    lines = (tmp_path / "audit" / "privacy.jsonl").read_text().splitlines()
    assert len(lines) == len(rows)
    baseline = [r for r in rows if r["method"] == "original_examples"]
    # The baseline shows the canary itself; whether the fake "memorises" it is not its job.
    assert baseline and all(r["canary_reached_student"] for r in baseline)
    assert {r["run"] for r in rows} == {0, 1, 2}
    assert all(0 <= r["rank"] < 50 and r["n_references"] == 49 for r in rows)
    assert json.loads(lines[0])["template"].startswith("sms_spam")
    # Each message names its run, template included: the codes and names runs of one seed
    # share a teaching key, and a reader must tell their transcripts apart without their order.
    transcript = (tmp_path / "audit" / "transcript.jsonl").read_text().splitlines()
    named = {json.loads(line)["unit"] for line in transcript}
    assert named == {r["unit"] for r in rows}
    # Resume: nothing recomputed, same rows.
    again = run_audit(cfg, console)
    assert sorted(json.dumps(r, sort_keys=True) for r in again) == sorted(
        json.dumps(r, sort_keys=True) for r in rows
    )


def test_audit_units_run_by_run_so_a_partial_audit_is_balanced(tmp_path: Path) -> None:
    from sociallearn.experiment.audit import audit_keys
    from sociallearn.experiment.workbench import Workbench

    cfg = ExperimentConfig.model_validate(
        {"tasks": ["sms_spam"], "model": "fake", "out": tmp_path, "audit": {"runs": 3}}
    )
    keys = audit_keys(cfg, Workbench(cfg, None))
    cells = {(k.method, t.name) for k, t in keys}
    assert len(cells) == 4 and len(keys) == 12
    # Every cell gets run r before any cell gets run r + 1.
    for r in range(3):
        block = keys[4 * r : 4 * r + 4]
        assert {k.seed for k, _ in block} == {r}
        assert {(k.method, t.name) for k, t in block} == cells


def test_shards_share_a_directory_and_together_run_every_unit_once(tmp_path: Path) -> None:
    import pytest

    from sociallearn.errors import UserError
    from sociallearn.experiment.audit import parse_shard

    def config(out: Path) -> ExperimentConfig:
        return fake_audit_config(out, 3)

    console = Console(file=(tmp_path / "out.txt").open("w"), width=200)
    whole = run_audit(config(tmp_path / "whole"), console)
    first = run_audit(config(tmp_path / "shared"), console, shard=(1, 2))
    assert len(first) == 6  # 12 units, half of them
    # Each run's synthetic units are dealt to both shards, not all to one.
    assert sorted(r["method"] for r in first) == sorted(r["method"] for r in whole)[::2]
    both = run_audit(config(tmp_path / "shared"), console, shard=(2, 2))
    console.file.flush()
    printed = (tmp_path / "out.txt").read_text()
    assert "6 of 12 audit runs done; shard 2/2: 6 of its 6 to do" in printed

    def key(rows: list[dict[str, object]]) -> list[str]:
        # Everything but the wall-clock timings must agree.
        return sorted(
            json.dumps({k: v for k, v in r.items() if k != "timings"}, sort_keys=True) for r in rows
        )

    assert key(both) == key(whole)
    exported = (tmp_path / "shared" / "privacy.jsonl").read_text().splitlines()
    assert key([json.loads(line) for line in exported]) == key(whole)
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/2", "3/2", "1", "a/b", "1/0"):
        with pytest.raises(UserError, match="--shard: expected K/N"):
            parse_shard(bad)


def test_extrapolated_exposure_goes_past_the_rank_cap_and_is_none_when_unfit() -> None:
    import numpy as np

    from sociallearn.experiment.audit import _extrapolated

    refs = list(np.random.default_rng(0).normal(-3.0, 0.2, 999))
    # A canary 6 standard deviations above every reference: far beyond log2(1000) ≈ 9.97 bits.
    far = _extrapolated(-1.8, refs)
    assert far is not None and far > 15
    # A canary among the references: about one bit (half the references are likelier).
    middle = _extrapolated(-3.0, refs)
    assert middle is not None and 0.5 < middle < 1.5
    assert _extrapolated(-1.0, [-3.0, -3.0, -2.0]) is None  # two distinct values: no fit
