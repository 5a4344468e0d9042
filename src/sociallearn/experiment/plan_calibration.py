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

Parts = tuple[float, float]  # (teaching, evaluation or scoring) seconds


@dataclass(frozen=True)
class Kinds:
    """Which kind of work each part of a unit is, as a label: what its cost per estimated
    second depends on (teaching: task, method, whether a sibling wrote the candidates;
    evaluation: task; an audit's scoring: task and canary template)."""

    teaching: str
    evaluation: str


@dataclass(frozen=True)
class Calibration:
    """Measured ÷ estimated seconds per kind of work, from ``units`` finished units (none: the
    plain estimate)."""

    teaching: Mapping[str, float] = field(default_factory=dict)
    evaluation: Mapping[str, float] = field(default_factory=dict)
    units: int = 0

    def apply(self, kinds: Kinds, parts: Parts) -> float:
        """A unit's estimated seconds, each part scaled where a finished unit measured its kind."""
        teaching, evaluation = parts
        return teaching * self.teaching.get(kinds.teaching, 1.0) + evaluation * self.evaluation.get(
            kinds.evaluation, 1.0
        )

    def describe(self, evaluation: str = "evaluation") -> str:
        def ratios(measured: Mapping[str, float]) -> str:
            return ", ".join(f"{kind} {r:.1f}x" for kind, r in sorted(measured.items()))

        plural = "s" if self.units != 1 else ""
        return (
            f"scaled by this directory's {self.units} finished unit{plural} (measured ÷ "
            f"estimated): teaching {ratios(self.teaching) or 'not measured'}; "
            f"{evaluation} {ratios(self.evaluation) or 'not measured'}"
        )


def stored_timings(run_dir: Path, kind: str = "result") -> dict[str, Parts]:
    """(teaching, evaluation) seconds of each finished unit of ``kind`` in ``run_dir`` (an
    audit run's second part is its scoring), read without writing."""
    path = run_dir / STORE_FILE
    if not path.is_file():
        return {}
    # An audit run stores its privacy row beside a stub (``AuditRunner``); a grid unit, its row.
    second = "score_s" if kind == "audit" else "eval_s"
    with read_only(path) as db:
        rows = db.execute("SELECT key, row FROM units WHERE kind=?", (kind,)).fetchall()
    timings: dict[str, Parts] = {}
    for key, text in rows:
        try:
            stored = json.loads(text)
            measured = (stored["extra"][0] if kind == "audit" else stored["row"])["timings"]
            timings[key] = (float(measured["teach_s"]), float(measured[second]))
        except (ValueError, KeyError, TypeError, IndexError):
            continue  # a row without timings calibrates nothing
    return timings


def calibrate(
    estimated: Mapping[str, tuple[Kinds, Parts]], measured: Mapping[str, Parts]
) -> Calibration:
    """Ratios of summed measured to summed estimated seconds over the finished units.

    ``estimated`` maps a finished unit's store key to its kinds of work and estimated parts. A
    part estimated at under a second (zero-shot teaching) is left out: its ratio would say
    nothing about the work left.
    """
    teach_sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    eval_sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    used = 0
    for name, (kinds, (teach_est, eval_est)) in estimated.items():
        if name not in measured:
            continue
        teach, evaluation = measured[name]
        used += 1
        for sums, kind, est, took in (
            (teach_sums, kinds.teaching, teach_est, teach),
            (eval_sums, kinds.evaluation, eval_est, evaluation),
        ):
            if est >= 1.0:
                sums[kind][0] += took
                sums[kind][1] += est
    teaching = {kind: took / est for kind, (took, est) in teach_sums.items()}
    evaluation_ratios = {kind: took / est for kind, (took, est) in eval_sums.items()}
    return Calibration(teaching, evaluation_ratios, used if teaching or evaluation_ratios else 0)
