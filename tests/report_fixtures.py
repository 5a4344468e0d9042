"""Synthetic runs: several tasks, methods, n, aggregators and seeds, with leakage and canary
rows, in the runner's JSONL formats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

TASKS = ("sms_spam", "lambada", "gsm8k")
NS = (1, 2, 4, 8, 16)
SEEDS = (0, 1, 2)
N_ITEMS = 60


def true_accuracy(task: str, method: str, n: int, aggregator: str | None) -> float:
    """The accuracy each synthetic cell is drawn around; sms_spam G is far below O at large n."""
    base = {"sms_spam": 0.30, "lambada": 0.55, "gsm8k": 0.10}[task]
    if method == "zero_shot":
        return base
    if method == "hand_written":
        return base + 0.15
    if method == "synthetic_instruction":
        return base + 0.2
    gain = 0.6 * (1 - 1 / (1 + n)) if task != "gsm8k" else 0.3 * (1 - 1 / (1 + n))
    if method == "original_examples":
        return min(0.97, base + gain + 0.05)
    penalty = 0.25 if task == "sms_spam" and n >= 8 else 0.0
    bonus = 0.05 if aggregator == "voting" else 0.0
    return min(0.97, base + gain - penalty + bonus)


def _result_row(
    rng: np.random.Generator, task: str, method: str, n: int, aggregator: str | None, seed: int
) -> dict[str, Any]:
    p = true_accuracy(task, method, n, aggregator)
    correct = rng.random(N_ITEMS) < p
    leakage = None
    if method == "synthetic_examples":
        distances = rng.beta(6 if task != "sms_spam" else 2, 2, size=12).round(3).tolist()
        leakage = {
            "n_candidates": 16,
            "n_parsed": 12,
            "parse_rate": 0.75,
            "copy_rate": 0.0625,
            "distances": distances,
            "mean_distance": float(np.mean(distances)),
            "n_rejected": 1,
            "rejection_rate": 1 / 12,
        }
    return {
        "unit": f"{task}/{method}/n={n}/{aggregator}/seed={seed}",
        "task": task,
        "method": method,
        "n": n,
        "aggregator": aggregator,
        "seed": seed,
        "accuracy": float(correct.mean()),
        "n_items": N_ITEMS,
        "n_correct": int(correct.sum()),
        "answer_mode": "score",
        "student_model": "llamacpp:smollm2-135m",
        "teacher_model": "llamacpp:smollm2-135m",
        "contains_private": method == "original_examples",
        "predictions": [
            {"uid": f"{task}-{i}", "answer": "a", "gold": "a" if ok else "b", "correct": bool(ok)}
            for i, ok in enumerate(correct)
        ],
        "leakage": leakage,
        "params": {"n_gen": 4, "temperature": 0.8, "top_k": 1, "samples": 2},
        "timings": {"teach_s": 1.0, "eval_s": 0.5},
    }


def synthetic_results() -> list[dict[str, Any]]:
    rng = np.random.default_rng(42)
    rows = []
    for task in TASKS:
        for seed in SEEDS:
            rows.append(_result_row(rng, task, "zero_shot", 0, None, seed))
            rows.append(_result_row(rng, task, "hand_written", 0, None, seed))
            rows.append(_result_row(rng, task, "synthetic_instruction", 8, "random", seed))
            for n in NS:
                rows.append(_result_row(rng, task, "original_examples", n, None, seed))
                for aggregator in ("random", "voting"):
                    rows.append(_result_row(rng, task, "synthetic_examples", n, aggregator, seed))
    return rows


def synthetic_privacy() -> list[dict[str, Any]]:
    rng = np.random.default_rng(7)
    rows = []
    for task, templates in (
        ("lambada", ("lambada_codes", "lambada_names")),
        ("gsm8k", ("gsm8k_codes",)),
    ):
        for template in templates:
            for method in ("synthetic_examples", "original_examples"):
                for run in range(40):
                    # Originals show the canary itself: ranks pile up near 0.
                    if method == "original_examples":
                        rank = int(rng.integers(0, 60))
                    else:
                        rank = int(rng.integers(0, 1000))
                    rows.append(
                        {
                            "unit": f"{task}/{template}/{method}/run={run}",
                            "task": task,
                            "method": method,
                            "template": template,
                            "kind": "code" if "codes" in template else "name",
                            "run": run,
                            "rank": rank,
                            "exposure": float(np.log2(1000) - np.log2(rank + 1)),
                            # One GSM8K run per cell has none (an older row, or no fit).
                            "exposure_extrapolated": (
                                None
                                if task == "gsm8k" and run == 0
                                else float(np.log2(1000) - np.log2(rank + 1)) + 0.5
                            ),
                            "canary_reached_student": method == "original_examples",
                            "n_references": 999,
                            "canary_score": -2.0,
                        }
                    )
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


CLAIM_TASKS = ("lambada", "boolq", "sms_spam", "my_task")  # my_task: not in the paper
CLAIM_ITEMS = 80


def _prediction(task: str, index: int, correct: bool, answer: str | None = None) -> dict[str, Any]:
    if task != "sms_spam":
        return {"uid": f"{task}-{index}", "answer": "a", "gold": "a", "correct": correct}
    gold = "spam" if index % 2 == 0 else "not spam"
    other = "not spam" if gold == "spam" else "spam"
    if answer is None:
        answer = gold if correct else other
    return {"uid": f"{task}-{index}", "answer": answer, "gold": gold, "correct": answer == gold}


def _claim_row(
    task: str, method: str, n: int, seed: int, predictions: list[dict[str, Any]]
) -> dict[str, Any]:
    correct = sum(p["correct"] for p in predictions)
    return {
        "unit": f"{task}/{method}/n={n}/seed={seed}",
        "task": task,
        "method": method,
        "n": n,
        "aggregator": "random"
        if method in ("synthetic_examples", "synthetic_instruction")
        else None,
        "seed": seed,
        "accuracy": correct / len(predictions),
        "n_items": len(predictions),
        "n_correct": correct,
        "student_model": "fake:student",
        "teacher_model": "fake:teacher",
        "predictions": predictions,
    }


def claim_results() -> list[dict[str, Any]]:
    """Rows whose paper claims have known answers.

    (a) at n = 16, G equals O item for item on lambada and boolq and falls far below O on
    sms_spam (2 of 3 paper tasks without a difference: held). (b) the instruction beats
    zero-shot on lambada and sms_spam and equals it on boolq (2 of 3: held). (c) on sms_spam
    the G student answers "not spam" to everything (G < O from a not-spam bias: held).
    """
    rng = np.random.default_rng(5)
    rows = []
    for task in CLAIM_TASKS:
        for seed in SEEDS:

            def draw(p: float) -> list[bool]:
                return [bool(v) for v in rng.random(CLAIM_ITEMS) < p]

            zero = draw(0.3)
            original = draw(0.9)
            instruction = zero if task == "boolq" else draw(0.8)
            cells = {
                ("zero_shot", 0): [_prediction(task, i, ok) for i, ok in enumerate(zero)],
                ("synthetic_instruction", 8): [
                    _prediction(task, i, ok) for i, ok in enumerate(instruction)
                ],
            }
            for n in (8, 16):
                cells[("original_examples", n)] = [
                    _prediction(task, i, ok) for i, ok in enumerate(original)
                ]
                if task == "sms_spam":
                    generated = [
                        _prediction(task, i, False, answer="not spam") for i in range(CLAIM_ITEMS)
                    ]
                else:
                    generated = [_prediction(task, i, ok) for i, ok in enumerate(original)]
                cells[("synthetic_examples", n)] = generated
            for (method, n), predictions in cells.items():
                rows.append(_claim_row(task, method, n, seed, predictions))
    return rows


def claim_privacy(generated_low: bool = False, originals: bool = True) -> list[dict[str, Any]]:
    """Canary runs: generated examples at uniform ranks (or all low), originals at rank 0."""
    rng = np.random.default_rng(9)
    rows = []
    methods = ("synthetic_examples", "original_examples") if originals else ("synthetic_examples",)
    for method in methods:
        for run in range(30):
            if method == "original_examples":
                rank = 0
            else:
                rank = int(rng.integers(0, 50 if generated_low else 1000))
            rows.append(
                {
                    "unit": f"lambada/lambada-code/{method}/run={run}",
                    "task": "lambada",
                    "method": method,
                    "template": "lambada-code",
                    "kind": "code",
                    "run": run,
                    "rank": rank,
                    "n_references": 999,
                }
            )
    return rows
