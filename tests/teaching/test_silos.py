from __future__ import annotations

import pytest

from sociallearn.errors import ConfigError
from sociallearn.tasks.base import Example
from sociallearn.teaching.silos import split_silos


def _pool(n: int) -> list[Example]:
    return [
        Example({"text": f"t{i}"}, "spam" if i % 3 == 0 else "not spam", uid=str(i))
        for i in range(n)
    ]


def test_iid_silos_are_disjoint_and_cover_the_pool() -> None:
    pool = _pool(50)
    silos = split_silos(pool, 8, seed=1)
    uids = [e.uid for s in silos for e in s]
    assert len(uids) == len(set(uids)) == 50
    assert max(map(len, silos)) - min(map(len, silos)) <= 1


def test_split_is_deterministic_by_seed() -> None:
    pool = _pool(30)
    assert split_silos(pool, 4, seed=3) == split_silos(pool, 4, seed=3)
    assert split_silos(pool, 4, seed=3) != split_silos(pool, 4, seed=4)


def test_silo_size_caps_each_silo() -> None:
    silos = split_silos(_pool(80), 4, seed=0, silo_size=5)
    assert [len(s) for s in silos] == [5, 5, 5, 5]


def test_dirichlet_skews_labels_but_stays_disjoint() -> None:
    pool = _pool(300)
    silos = split_silos(
        pool, 5, seed=2, strategy="dirichlet", alpha=0.1, label_of=lambda e: e.target
    )
    uids = [e.uid for s in silos for e in s]
    assert len(uids) == len(set(uids)) == 300
    shares = [sum(e.target == "spam" for e in s) / len(s) for s in silos]
    # With alpha = 0.1 the spam share differs a lot between teachers (IID would keep ~1/3 each).
    assert max(shares) - min(shares) > 0.3


def test_too_few_examples_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="need at least 8 pool examples"):
        split_silos(_pool(3), 8, seed=0)
