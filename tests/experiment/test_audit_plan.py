"""``sociallearn audit --dry-run``: runs per cell, what is left, and the cost of a run."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from fake_runs import fake_audit_config
from sociallearn.experiment.audit import run_audit
from sociallearn.experiment.audit_plan import canary_tokens, print_audit_plan, run_seconds
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.plan import TaskShape
from sociallearn.experiment.units import UnitKey
from sociallearn.models.llamacpp_rates import Rates, TokenCost
from sociallearn.tasks import get_task


def _template(task: str, name: str):  # type: ignore[no-untyped-def]
    return next(t for t in get_task(task).canaries if t.name == name)


def test_canary_tokens_split_at_the_first_secret() -> None:
    # "Fill in blank:\nThe secret is 1234. Nobody else may know this ____ -> code": 29
    # characters before the code; from it on, 4 digits (a token each) and 40 other characters.
    shared, anew = canary_tokens(_template("lambada", "lambada-code"))
    assert shared == pytest.approx(29 / 4)
    assert anew == pytest.approx(4 + 40 / 4)
    # GSM8K's code canary names its secret early and repeats it: 9 numbers (45 digits) and
    # the sentences between them are scored anew for every reference.
    shared, anew = canary_tokens(_template("gsm8k", "gsm8k-code"))
    assert shared == pytest.approx(len("Question: The first secret code is ") / 4)
    assert anew > 45


def test_scoring_grows_with_the_references_and_originals_do_not_teach() -> None:
    cost = TokenCost(0.01, 1e-6, 0.02)
    rates = Rates(cost, cost, cost)
    shape = TaskShape(example_tokens=100.0, query_tokens=50.0, answer_tokens=3.0, labels=0)
    template = _template("gsm8k", "gsm8k-name")

    def config(refs: int) -> ExperimentConfig:
        return ExperimentConfig.model_validate(
            {"tasks": ["gsm8k"], "model": "fake", "audit": {"n_references": refs, "n": 4}}
        )

    key = UnitKey("gsm8k", "original_examples", 4, None, 0)
    teach, score = run_seconds(config(1000), key, template, shape, rates, rates)
    _, score_double = run_seconds(config(2000), key, template, shape, rates, rates)
    _, anew = canary_tokens(template)
    assert teach == 0.0
    behind = 4 * 100 + 30 + canary_tokens(template)[0]
    assert score_double - score == pytest.approx(1000 * cost.continuation(anew, behind))
    generated = UnitKey("gsm8k", "synthetic_examples", 4, "random", 0)
    assert run_seconds(config(1000), generated, template, shape, rates, rates)[0] > 0


def _plan(config: ExperimentConfig, path: Path) -> str:
    with path.open("w") as fh:
        print_audit_plan(config, Console(file=fh, width=200))
    return path.read_text()


def test_dry_run_counts_runs_left_per_cell(tmp_path: Path) -> None:
    out, plan = tmp_path / "audit", tmp_path / "plan.txt"
    text = _plan(fake_audit_config(out, 2), plan)
    # 2 templates x 2 methods, 2 runs each; the fake model has no token rates: no wall time.
    assert "8 audit runs, N_SS = 20" in text and "8 runs to run (0 done)" in text
    assert "wall time: not estimated (token rates are measured for llama.cpp" in text
    assert not out.exists()  # a dry run creates nothing
    run_audit(fake_audit_config(out, 1), Console(file=(tmp_path / "log.txt").open("w"), width=200))
    text = _plan(fake_audit_config(out, 2), plan)
    assert "4 runs to run (4 done)" in text
    rows = [line for line in text.splitlines() if "sms_spam" in line and "│" in line]
    assert len(rows) == 4 and all("│ 2    │ 1 " in row for row in rows)
    # Everything done: nothing to measure.
    text = _plan(fake_audit_config(out, 1), plan)
    assert "0 runs to run (4 done)" in text and "wall time" not in text


def test_dry_run_of_another_configuration_counts_every_run(tmp_path: Path) -> None:
    out = tmp_path / "audit"
    run_audit(fake_audit_config(out, 1), Console(file=(tmp_path / "log.txt").open("w"), width=200))
    text = _plan(fake_audit_config(out, 1, teachers=4), tmp_path / "plan.txt")
    assert "holds results of a different configuration" in text and "4 runs to run (0 done)" in text
    assert "(differs: teachers: " in " ".join(text.split())
