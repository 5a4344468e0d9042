"""The transformers backend is optional: without its packages it fails with an install hint."""

from __future__ import annotations

import sys

import pytest

from sociallearn.errors import UserError
from sociallearn.models.registry import create_model


def test_missing_transformers_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(UserError) as info:
        create_model("hf:some/model")
    message = str(info.value)
    assert "pip install" in message and "transformers" in message
    assert "\n" not in message


def test_missing_model_name() -> None:
    with pytest.raises(UserError, match="hf:<model id or path>"):
        create_model("hf")
