"""The paper's methods give the same learned prompts and predictions as before teaching moved
onto rounds and one privacy boundary: digests written by the earlier code (commit 7d8bbb2) on
the fake model for a shrunk paper grid (``tests/paper_grid_digest.py``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from paper_grid_digest import DATA_TASKS, OFFLINE_TASKS, digests

PINNED = json.loads((Path(__file__).parents[1] / "fixtures" / "pinned_paper_grid.json").read_text())


def _compare(pinned: dict[str, str], now: dict[str, str]) -> None:
    assert sorted(now) == sorted(pinned)
    changed = [unit for unit in pinned if now[unit] != pinned[unit]]
    assert not changed, f"{len(changed)} units changed, e.g. {changed[:5]}"


def test_offline_tasks_are_unchanged() -> None:
    _compare(PINNED["offline"], digests(OFFLINE_TASKS, None))


@pytest.mark.data
def test_data_tasks_are_unchanged() -> None:
    data_dir = Path(os.environ.get("SOCIALLEARN_DATA_DIR", "../shared/datasets"))
    if not (data_dir / "lambada").exists():
        pytest.skip(f"real datasets not found in {data_dir} (set SOCIALLEARN_DATA_DIR)")
    _compare(PINNED["data"], digests(DATA_TASKS, data_dir))
