"""The grid as a list of units; a unit is one (task, method, n, aggregator, seed).

Methods and aggregators appear in a key by their label: the name alone, or the name with its
non-default arguments (``feedback(rounds=3)``), so two settings of a component never share a
row in the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sociallearn.errors import ConfigError
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.seeds import text_seed
from sociallearn.teaching.aggregators import aggregators
from sociallearn.teaching.components import ComponentSpec, build, capability
from sociallearn.teaching.methods import methods


@dataclass(frozen=True)
class UnitKey:
    task: str
    method: str  # the method's label
    n: int
    aggregator: str | None  # the aggregator's label
    seed: int

    def __str__(self) -> str:
        return f"{self.task}/{self.method}/n={self.n}/{self.aggregator or '-'}/seed={self.seed}"

    def derived_seed(self, *salt: str) -> int:
        """A seed from the key (and a salt), independent of execution order."""
        return text_seed(str(self), *salt)

    def teaching_seed(self, *salt: str, family: str | None = None) -> int:
        """The seed of teaching: the key without its aggregator, so units that differ only in
        the aggregator are a paired comparison (same silos, prompts and sampled candidates).
        ``family`` replaces the method's label (a method's ``seed_family``), so variants of a
        method are paired with it too."""
        method = family or self.method
        return UnitKey(self.task, method, self.n, None, self.seed).derived_seed("teach", *salt)


def method_specs(config: ExperimentConfig) -> dict[str, ComponentSpec]:
    """label -> spec of every method the config names (the grid's and the audit's)."""
    return {s.label: s for s in (*config.methods, *config.audit.methods)}


def build_method(config: ExperimentConfig, label: str) -> Any:
    """The method a unit key names, with its arguments."""
    specs = method_specs(config)
    spec = specs.get(label) or ComponentSpec(name=label)
    return build(methods, spec, "methods")


def build_aggregator(config: ExperimentConfig, label: str | None) -> Any:
    specs = {s.label: s for s in config.aggregators}
    spec = specs.get(label or "random") or ComponentSpec(name=label or "random")
    return build(aggregators, spec, "aggregators")


def check_components(config: ExperimentConfig) -> None:
    """Every method and aggregator exists, takes the arguments given, and fits the setting."""
    for where, specs in (("methods", config.methods), ("audit.methods", config.audit.methods)):
        for i, spec in enumerate(specs):
            method = build(methods, spec, f"{where}[{i}]")
            if capability(method, "requires_trusted") and config.aggregation != "trusted":
                raise ConfigError(
                    f"{where}[{i}]: {spec.label!r} needs a trusted aggregator "
                    "(set aggregation: trusted)"
                )
    for i, spec in enumerate(config.aggregators):
        agg = build(aggregators, spec, f"aggregators[{i}]")
        if capability(agg, "requires_trusted") and config.aggregation != "trusted":
            raise ConfigError(
                f"aggregators[{i}]: {spec.label!r} needs a trusted aggregator "
                "(set aggregation: trusted)"
            )
        if capability(agg, "may_abstain"):
            for mspec in config.methods:
                method = build(methods, mspec, "methods")
                if capability(method, "uses_aggregator") and not capability(
                    method, "tolerates_abstention"
                ):
                    raise ConfigError(
                        f"aggregators[{i}]: {spec.label!r} may abstain (threshold or "
                        f"max_epsilon), which method {mspec.label!r} cannot handle; drop those "
                        "arguments or use it with synthetic_examples"
                    )


def expand_units(config: ExperimentConfig) -> list[UnitKey]:
    check_components(config)
    units: list[UnitKey] = []
    for task in config.tasks:
        for spec in config.methods:
            method = build(methods, spec, "methods")
            ns = [0] if capability(method, "n_free") else [n for n in config.n if n > 0]
            aggs: list[str | None] = (
                [a.label for a in config.aggregators]
                if capability(method, "uses_aggregator")
                else [None]
            )
            for n in ns:
                for agg in aggs:
                    for seed in config.seeds:
                        units.append(UnitKey(task, spec.label, n, agg, seed))
    return list(dict.fromkeys(units))


def teaching_leaders(config: ExperimentConfig, units: Sequence[UnitKey]) -> dict[UnitKey, UnitKey]:
    """unit -> the first unit before it in ``units`` whose teaching it repeats; none without
    the response cache (there a sibling teaches again).

    Units that differ only in the aggregator share the teaching seed (``teaching_seed``): their
    teachers are asked the same prompts with the same seeds, so a later sibling finds the
    candidates in the response cache and pays only for its aggregator's own calls (votes) — all
    of them where teachers write without seeing the picks (``synthetic_examples``), the rounds
    before the picks differ where a later round reads the lesson (``feedback``).
    """
    first: dict[UnitKey, UnitKey] = {}
    leaders: dict[UnitKey, UnitKey] = {}
    if not config.cache:
        return leaders
    for key in units:
        if key.aggregator is None:
            continue
        leader = first.setdefault(replace(key, aggregator=None), key)
        if leader != key:
            leaders[key] = leader
    return leaders
