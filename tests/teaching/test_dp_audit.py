"""The canary audit on DP methods: a canary in one silo, accounted vs empirical ε (fake model)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("dp_accounting")

from rich.console import Console

from sociallearn.experiment.audit import run_audit
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.privacy.empirical_dp import audit_comparison


def test_audit_of_dp_methods_puts_empirical_beside_accounted(tmp_path: Path) -> None:
    cfg = ExperimentConfig.model_validate(
        {
            "tasks": ["sms_spam"],
            "model": "fake",
            "teachers": 3,
            "silo_size": 8,
            "heldout": 0,
            "aggregation": "trusted",
            "out": tmp_path / "audit",
            "audit": {
                "n_references": 30,
                "runs": 3,
                "n": 2,
                "templates": ["sms_spam-code"],
                "canary_silos": "one",
                "methods": [
                    # Deliberately weakened (tiny noise) and normal settings.
                    {"name": "private_labels", "sigma": 0.05},
                    {"name": "private_generation", "sigma": 0.05, "max_tokens": 3},
                    {"name": "private_generation", "sigma": 4.0, "max_tokens": 3},
                ],
            },
        }
    )
    out = tmp_path / "out.txt"
    with out.open("w") as log:
        rows = run_audit(cfg, Console(file=log, width=300))
    assert len(rows) == 3 * 3
    assert all(r["canary_silos"] == 1 and r["privacy"] for r in rows)
    cells = audit_comparison(rows)
    assert len(cells) == 3
    for cell in cells:
        assert cell.runs == 3 and cell.comparable
        assert cell.consistent, cell  # the empirical bound never exceeds the accounted ε
    weak = [c for c in cells if "sigma=0.05" in c.method]
    normal = [c for c in cells if "sigma=4" in c.method]
    assert all(c.accounted > n.accounted for c in weak for n in normal)
    printed = out.read_text()
    assert "accounted vs empirical ε" in printed
    assert printed.count(" | yes") == 3
