"""Loading every task from the real datasets (skipped when the folder is absent)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from sociallearn.tasks import Task, TaskData, get_task, load_task_data, task_names

pytestmark = pytest.mark.data

# (pool, test) with default settings and seed 0.
EXPECTED_SIZES = {
    "sms_spam": (784, 500),
    "sms_spam_class": (784, 500),
    "lambada": (4151, 1000),
    "boolq": (2270, 1000),
    "gsm8k": (7473, 1319),
    "random_insertion": (9000, 1000),
}


def assert_disjoint(task: Task, data: TaskData) -> None:
    assert not {e.uid for e in data.pool} & {e.uid for e in data.test}
    assert not {task.render_query(e) for e in data.pool} & {task.render_query(e) for e in data.test}
    assert len({task.render_query(e) for e in data.pool + data.test}) == len(data.pool) + len(
        data.test
    )


@pytest.mark.parametrize("name", task_names())
def test_default_split_sizes_disjoint_and_round_trip(name: str, data_dir: Path) -> None:
    task = get_task(name)
    data = load_task_data(task, data_dir=data_dir)
    assert (len(data.pool), len(data.test)) == EXPECTED_SIZES[name]
    assert str(data_dir) in data.origin
    assert_disjoint(task, data)
    everything = data.pool + data.test
    assert all(task.gold(e) is not None for e in everything)
    # Render a few-shot block and read it back, in blocks of 16 as a prompt would hold them.
    for start in range(0, len(everything), 16):
        block = everything[start : start + 16]
        parsed = task.parse_examples(task.render_many(block))
        assert [(dict(p.fields), p.target) for p in parsed] == [
            (dict(e.fields), e.target) for e in block
        ]


def test_sms_counts_dedup_and_balance(data_dir: Path) -> None:
    rows = [
        json.loads(line)
        for line in (data_dir / "sms_spam" / "sms_spam.jsonl").open(encoding="utf-8")
    ]
    assert len(rows) == 5574
    assert len({r["text"] for r in rows}) == 5171  # exact duplicates
    data = load_task_data("sms_spam", data_dir=data_dir)
    # 11 more texts differ from another only by surrounding whitespace (all spam): 5,160 unique.
    assert "5,160 unique of 5,574 rows" in data.origin
    assert "642 per class" in data.origin
    assert Counter(e.target for e in data.test) == {"spam": 250, "not spam": 250}
    assert Counter(e.target for e in data.test[:100]) == {"spam": 50, "not spam": 50}
    assert Counter(e.target for e in data.pool) == {"spam": 392, "not spam": 392}


def test_spam_formats_share_one_split(data_dir: Path) -> None:
    plain = load_task_data("sms_spam", data_dir=data_dir, seed=5)
    listed = load_task_data("sms_spam_class", data_dir=data_dir, seed=5)
    assert [e.uid for e in plain.test] == [e.uid for e in listed.test]
    assert [e.uid for e in plain.pool] == [e.uid for e in listed.pool]


def test_seed_changes_the_test_order_and_test_size_is_honoured(data_dir: Path) -> None:
    a = load_task_data("boolq", data_dir=data_dir, seed=0, test_size=300)
    b = load_task_data("boolq", data_dir=data_dir, seed=1, test_size=300)
    assert (len(a.pool), len(a.test)) == (2970, 300)
    assert [e.uid for e in a.test] != [e.uid for e in b.test]
    assert [e.uid for e in a.test] == [
        e.uid for e in load_task_data("boolq", data_dir=data_dir, test_size=300).test
    ]


def test_gsm8k_pool_is_train_only_and_test_is_the_test_split(data_dir: Path) -> None:
    data = load_task_data("gsm8k", data_dir=data_dir, test_size=100)
    assert all(e.uid.startswith("gsm8k:train:") for e in data.pool)
    assert all(e.uid.startswith("gsm8k:test:") for e in data.test)
    assert len(data.test) == 100
    task = get_task("gsm8k")
    commas = [e for e in data.pool if "," in e.target.rsplit("####", 1)[1]]
    assert len(commas) == 79
    assert all("," not in (task.gold(e) or ",") for e in commas)


def test_lambada_targets_and_contexts(data_dir: Path) -> None:
    data = load_task_data("lambada", data_dir=data_dir)
    everything = data.pool + data.test
    assert len(everything) == 5151  # two passages repeat their context
    assert all("\n\n" not in e.fields["context"] for e in everything)
    assert all(" " not in e.target for e in everything)


def test_environment_variable_is_used(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALLEARN_DATA_DIR", str(data_dir))
    data = load_task_data("random_insertion")
    assert str(data_dir) in data.origin and len(data.pool) == 9000
