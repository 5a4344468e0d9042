"""A resumed directory's dry run: the estimates scaled by what its finished units took.

The token-rate model (``plan.py``) cannot see what a model will write: how far past an
example's length its candidates run, how many the leakage gate rejects so that more are written.
Qwen2.5-Coder-0.5B teaching BoolQ took 1.8-2.0x the estimate here, while its evaluation took
0.7x. A finished unit of the same directory measured both on this machine, so the ratio of its
measured to its estimated seconds, per kind of work, corrects the estimate of the units left.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sociallearn.experiment.store import STORE_FILE, read_only
from sociallearn.experiment.units import UnitKey

# What a unit's teaching costs depends on its task and method, and on whether an earlier
# sibling already wrote its candidates (then it only votes or evaluates).
TeachingKind = tuple[str, str, bool]
Parts = tuple[float, float]  # (teaching, evaluation) seconds


@dataclass(frozen=True)
class Calibration:
    """Measured ÷ estimated seconds, from ``units`` finished units (none: the plain estimate)."""

    teaching: Mapping[TeachingKind, float] = field(default_factory=dict)
    evaluation: Mapping[str, float] = field(default_factory=dict)  # per task
    units: int = 0

    def apply(self, key: UnitKey, reused: bool, parts: Parts) -> float:
        """A unit's estimated seconds, each part scaled where a finished unit measured its kind."""
        teaching, evaluation = parts
        return teaching * self.teaching.get(
            (key.task, key.method, reused), 1.0
        ) + evaluation * self.evaluation.get(key.task, 1.0)

    def describe(self) -> str:
        def kind(task: str, method: str, reused: bool) -> str:
            return f"{task}/{method}" + (" (candidates reused)" if reused else "")

        teach = [f"{kind(*k)} {r:.1f}x" for k, r in sorted(self.teaching.items())]
        evaluate = [f"{task} {r:.1f}x" for task, r in sorted(self.evaluation.items())]
        return (
            f"scaled by this directory's {self.units} finished "
            f"unit{'s' if self.units != 1 else ''} (measured ÷ estimated): "
            f"teaching {', '.join(teach) or 'not measured'}; "
            f"evaluation {', '.join(evaluate) or 'not measured'}"
        )


def stored_timings(run_dir: Path) -> dict[str, Parts]:
    """(teach_s, eval_s) of each finished result unit in ``run_dir``, read without writing."""
    path = run_dir / STORE_FILE
    if not path.is_file():
        return {}
    with read_only(path) as db:
        rows = db.execute("SELECT key, row FROM units WHERE kind='result'").fetchall()
    timings: dict[str, Parts] = {}
    for key, text in rows:
        try:
            measured = json.loads(text)["row"]["timings"]
            timings[key] = (float(measured["teach_s"]), float(measured["eval_s"]))
        except (ValueError, KeyError, TypeError):
            continue  # a row without timings calibrates nothing
    return timings


def calibrate(
    estimated: Mapping[str, tuple[UnitKey, bool, Parts]], measured: Mapping[str, Parts]
) -> Calibration:
    """Ratios of summed measured to summed estimated seconds over the finished units.

    ``estimated`` maps a finished unit's key to (its key, whether its candidates were reused,
    its estimated parts). A part estimated at under a second (zero-shot teaching) is left out:
    its ratio would say nothing about the work left.
    """
    teach_sums: dict[TeachingKind, list[float]] = defaultdict(lambda: [0.0, 0.0])
    eval_sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    used = 0
    for name, (key, reused, (teach_est, eval_est)) in estimated.items():
        if name not in measured:
            continue
        teach, evaluation = measured[name]
        used += 1
        if teach_est >= 1.0:
            teach_sums[key.task, key.method, reused][0] += teach
            teach_sums[key.task, key.method, reused][1] += teach_est
        if eval_est >= 1.0:
            eval_sums[key.task][0] += evaluation
            eval_sums[key.task][1] += eval_est
    teaching = {kind: took / est for kind, (took, est) in teach_sums.items()}
    evaluation_ratios = {task: took / est for task, (took, est) in eval_sums.items()}
    return Calibration(teaching, evaluation_ratios, used if teaching or evaluation_ratios else 0)
