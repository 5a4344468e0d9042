"""Components with arguments: how a method or an aggregator is named in a config.

A component is written as a name (``voting``) or a mapping (``{name: feedback, rounds: 3}``).
Its arguments are validated by the component's own pydantic model, shown in the unit key
(``feedback(rounds=3)``) and covered by the run fingerprint, so two settings never share a row.
What a component needs or offers (uses an aggregator, is free of ``n``, is gated, puts private
text in the prompt on purpose, the metrics it reports) is declared on its class.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from sociallearn.errors import ConfigError
from sociallearn.registry import Registry


class Component(BaseModel):
    """Base of methods and aggregators: frozen, unknown arguments refused.

    Subclasses declare their arguments as pydantic fields with defaults, and their
    capabilities as class variables.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ClassVar[str]

    def args(self) -> dict[str, Any]:
        """The arguments that differ from their defaults (what the unit key shows)."""
        out: dict[str, Any] = {}
        for field, info in type(self).model_fields.items():
            value = getattr(self, field)
            if value != info.get_default(call_default_factory=True):
                out[field] = value
        return out


class ComponentSpec(BaseModel):
    """A component's name and its (non-default) arguments, as written in a config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    args: dict[str, Any] = {}

    @property
    def label(self) -> str:
        """``name`` alone, or ``name(a=1,b=x)`` with the arguments sorted: the unit-key form."""
        if not self.args:
            return self.name
        inner = ",".join(f"{k}={_plain(v)}" for k, v in sorted(self.args.items()))
        return f"{self.name}({inner})"

    def __str__(self) -> str:
        return self.label


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def parse_spec(value: object, where: str) -> ComponentSpec:
    """A config entry (a name, a ``{name: ..., <args>}`` mapping or a spec) as a spec."""
    if isinstance(value, ComponentSpec):
        return value
    if isinstance(value, str):
        return ComponentSpec(name=value)
    if isinstance(value, Mapping):
        if "name" not in value or not isinstance(value["name"], str):
            raise ConfigError(f"{where}: expected a name or a mapping with 'name:' (got {value!r})")
        args = {str(k): v for k, v in value.items() if k != "name"}
        if "args" in args and isinstance(args["args"], Mapping) and len(args) == 1:
            args = dict(args["args"])  # the serialised form {name, args}
        return ComponentSpec(name=value["name"], args=args)
    raise ConfigError(f"{where}: expected a name or a mapping with 'name:' (got {value!r})")


def build(registry: Registry[Any], spec: ComponentSpec, where: str) -> Any:
    """The component ``spec`` names, with its arguments validated; one-line errors."""
    if spec.name not in registry:
        raise ConfigError(registry.unknown_message(spec.name, where=where))
    factory = registry.get(spec.name)
    if isinstance(factory, type) and issubclass(factory, BaseModel):
        try:
            return factory.model_validate(spec.args)
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            if first["type"] == "extra_forbidden":
                known = ", ".join(factory.model_fields) or "none"
                message = f"{where}.{field}: unknown argument of {spec.name!r} (known: {known})"
            else:
                message = f"{where}.{field}: {first['msg']}"
            raise ConfigError(message) from None
    if spec.args:
        raise ConfigError(f"{where}: {registry.kind} {spec.name!r} takes no arguments")
    return factory()


def capability(component_class: object, name: str, default: Any = False) -> Any:
    """A declared capability of a component class (or instance), with a default for plug-ins."""
    return getattr(component_class, name, default)


_CAPABILITIES = (
    "uses_aggregator",
    "n_free",
    "gated",
    "contains_private",
    "requires_trusted",
    "asks_votes",
)


def describe(factory: object, name: str) -> str:
    """One line for ``sociallearn list``: the name, arguments with defaults, capabilities."""
    args = ""
    if isinstance(factory, type) and issubclass(factory, BaseModel):
        fields = [
            f"{field}={info.get_default(call_default_factory=True)!r}"
            for field, info in factory.model_fields.items()
        ]
        args = f"({', '.join(fields)})" if fields else ""
    flags = [c for c in _CAPABILITIES if capability(factory, c)]
    metrics = capability(factory, "metrics", ())
    if metrics:
        flags.append("metrics: " + ", ".join(metrics))
    return name + args + (f" [{'; '.join(flags)}]" if flags else "")
