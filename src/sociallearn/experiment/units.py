"""The grid as a list of units; a unit is one (task, method, n, aggregator, seed)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sociallearn.errors import ConfigError
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.teaching.aggregators import aggregators
from sociallearn.teaching.methods import methods

# Methods whose prompt does not depend on n run once, at n = 0.
_N_FREE = {"zero_shot", "hand_written", "synthetic_instruction"}


@dataclass(frozen=True)
class UnitKey:
    task: str
    method: str
    n: int
    aggregator: str | None
    seed: int

    def __str__(self) -> str:
        return f"{self.task}/{self.method}/n={self.n}/{self.aggregator or '-'}/seed={self.seed}"

    def derived_seed(self, *salt: str) -> int:
        """A seed from the key (and a salt), independent of execution order."""
        text = "|".join((str(self), *salt))
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")

    def teaching_seed(self, *salt: str) -> int:
        """The seed of teaching: the key without its aggregator, so units that differ only in
        the aggregator are a paired comparison (same silos, prompts and sampled candidates)."""
        return UnitKey(self.task, self.method, self.n, None, self.seed).derived_seed("teach", *salt)


def expand_units(config: ExperimentConfig) -> list[UnitKey]:
    for name in config.methods:
        if name not in methods:
            raise ConfigError(methods.unknown_message(name, where="methods"))
    for name in config.aggregators:
        if name not in aggregators:
            raise ConfigError(aggregators.unknown_message(name, where="aggregators"))
    units: list[UnitKey] = []
    for task in config.tasks:
        for method in config.methods:
            uses_agg = methods.get(method)().uses_aggregator
            ns = [0] if method in _N_FREE else [n for n in config.n if n > 0]
            aggs: list[str | None] = list(config.aggregators) if uses_agg else [None]
            for n in ns:
                for agg in aggs:
                    for seed in config.seeds:
                        units.append(UnitKey(task, method, n, agg, seed))
    return list(dict.fromkeys(units))
