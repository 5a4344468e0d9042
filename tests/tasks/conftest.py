"""Shared fixtures for task tests: the real datasets folder (optional) and tiny fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "tasks"


# Read once at import: the autouse fixture below hides the variable from the code under test.
_ENV_DATA_DIR = os.environ.get("SOCIALLEARN_DATA_DIR", "").strip()


def shared_datasets() -> Path:
    return Path(_ENV_DATA_DIR) if _ENV_DATA_DIR else (REPO.parent / "shared" / "datasets")


@pytest.fixture
def data_dir() -> Path:
    """The real datasets; tests using it are skipped when the folder is absent."""
    folder = shared_datasets()
    if not folder.is_dir():
        pytest.skip(f"real datasets not found at {folder} (set SOCIALLEARN_DATA_DIR)")
    return folder


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(autouse=True)
def _no_env_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    # Resolution must not depend on the caller's environment unless a test sets it.
    monkeypatch.delenv("SOCIALLEARN_DATA_DIR", raising=False)
