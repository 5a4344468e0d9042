"""Digests of the paper grid on the fake model: the learned prompt and the predictions of every
unit. ``test_pinned_results.py`` compares today's code against digests written by the code as it
was before teaching moved onto rounds and one privacy boundary (session 4); regenerate only when
a deliberate change of results is named in the commit and docs.

Run as a script to print fresh digests: ``python tests/paper_grid_digest.py DATA_DIR``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.runner import run_experiment

OFFLINE_TASKS = ["sms_spam", "sms_spam_class", "random_insertion"]
DATA_TASKS = ["lambada", "boolq", "gsm8k"]
METHODS = [
    "zero_shot",
    "hand_written",
    "original_examples",
    "synthetic_examples",
    "synthetic_instruction",
]


def grid_config(out: Path, tasks: list[str], data_dir: Path | None) -> ExperimentConfig:
    """``examples/paper.yaml`` on the fake model, shrunk: fewer seeds and test items."""
    return ExperimentConfig.model_validate(
        {
            "name": "paper",
            "tasks": tasks,
            "methods": METHODS,
            "n": [1, 4, 8],
            "aggregators": ["random", "voting", "class_balanced"],
            "seeds": [0, 1],
            "model": "fake",
            "teachers": 8,
            "silo_size": 64,
            "heldout": 8,
            "synthesis": {
                "n_gen": 4,
                "temperature": 0.8,
                "samples": 2,
                "top_k": 1,
                "max_tokens": 96,
                "constrained": True,
            },
            "limit": 12,
            "data_dir": data_dir,
            "out": out,
            "cache": False,
        }
    )


def unit_digests(run_dir: Path) -> dict[str, str]:
    """unit -> sha256 of (learned prompt, taught examples, predictions)."""
    rows = [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]
    prompts: dict[str, str] = {}
    for line in (run_dir / "transcript.jsonl").read_text().splitlines():
        message = json.loads(line)
        if message["kind"] == "prompt":
            prompts[message["unit"]] = message["text"]
    out: dict[str, str] = {}
    for row in rows:
        material: dict[str, Any] = {
            "prompt": prompts[row["unit"]],
            "accuracy": row["accuracy"],
            "n_examples_taught": row["n_examples_taught"],
            "shortfall": row["shortfall"],
            "instruction": row["instruction"],
            "predictions": [
                [p["uid"], p["answer"], p["gold"], p["correct"], p["completion"]]
                for p in row["predictions"]
            ],
        }
        blob = json.dumps(material, sort_keys=True, ensure_ascii=False).encode()
        out[row["unit"]] = hashlib.sha256(blob).hexdigest()[:20]
    return out


def digests(tasks: list[str], data_dir: Path | None) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        run_experiment(grid_config(out, tasks, data_dir))
        return unit_digests(out)


if __name__ == "__main__":
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    result = {"offline": digests(OFFLINE_TASKS, None)}
    if data is not None:
        result["data"] = digests(DATA_TASKS, data)
    print(json.dumps(result, indent=1, sort_keys=True))
