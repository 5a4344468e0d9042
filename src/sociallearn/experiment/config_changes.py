"""Which result-changing settings differ between a run directory's configuration and a new one.

A run directory refuses a configuration whose fingerprint differs from the one it was started
with; the fingerprint alone does not say why. Both configurations are kept as YAML (the store
keeps the first run's), so the refusal can name the settings that differ, such as a data folder
given by another path on another machine.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from pydantic import ValidationError

from sociallearn.experiment.config import ExperimentConfig

_SHOWN = 3
_WIDTH = 60


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _show(value: Any) -> str:
    text = "unset" if value is None else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _WIDTH else text[: _WIDTH - 3] + "..."


def config_changes(stored_yaml: str, current_yaml: str) -> list[str]:
    """``"field: VALUE there, VALUE here"`` for each fingerprinted setting that differs.

    Empty when either text no longer reads as a configuration (written by another version) or
    when the settings as written agree (the difference then lies outside them, e.g. in
    ``OPENAI_BASE_URL``).
    """
    try:
        configs = [
            ExperimentConfig.model_validate(yaml.safe_load(text) or {})
            for text in (stored_yaml, current_yaml)
        ]
    except (yaml.YAMLError, ValidationError, TypeError, ValueError):
        return []
    # Paths count only where nothing else differs: a directory made before they were left out
    # of the fingerprint is refused for them.
    for paths in (False, True):
        stored, current = (_flat(c.fingerprint_data(paths=paths)) for c in configs)
        keys = [k for k in dict.fromkeys([*stored, *current]) if stored.get(k) != current.get(k)]
        if keys:
            break
    shown = [f"{k}: {_show(stored.get(k))} there, {_show(current.get(k))} here" for k in keys]
    if len(shown) > _SHOWN:
        shown = [*shown[:_SHOWN], f"and {len(shown) - _SHOWN} more"]
    return shown
