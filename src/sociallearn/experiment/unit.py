"""One unit of work: a pure function of (resolved config, unit key) to a result row + transcript."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sociallearn.errors import ConfigError
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.units import UnitKey
from sociallearn.experiment.workbench import Workbench
from sociallearn.tasks.base import Example, Task
from sociallearn.teaching.aggregators import aggregators
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.filters import CandidateFilter
from sociallearn.teaching.methods import TeachingContext, TeachingMethod, methods
from sociallearn.teaching.methods.gated import Gated
from sociallearn.teaching.silos import split_silos
from sociallearn.teaching.student import Student
from sociallearn.teaching.teacher import GenerationStats, SynthesisSettings, Teacher
from sociallearn.teaching.transcript import STUDENT, Transcript

Progress = Callable[[int], None]


@dataclass(frozen=True)
class UnitOutcome:
    row: dict[str, Any]
    messages: list[dict[str, Any]]


@dataclass
class Classroom:
    """Teachers with their silos and a transcript, for one unit (or one audit run)."""

    task: Task
    teachers: list[Teacher]
    transcript: Transcript
    # The experimenter's view of every silo (rendered, whitespace-normalised), used only to
    # audit the transcript after teaching; no agent can reach it.
    silo_texts: frozenset[str] = frozenset()

    def private_blocks_to_student(self) -> int:
        """How many blocks of text other agents sent the student are verbatim private examples."""
        count = 0
        for message in self.transcript.to_student():
            if message.sender == STUDENT:
                continue  # the learned prompt it wrote itself, made of what it received
            for block in message.text.split(self.task.separator):
                if " ".join(block.split()) in self.silo_texts:
                    count += 1
        return count


def build_classroom(config: ExperimentConfig, bench: Workbench, key: UnitKey) -> Classroom:
    """Deal the silos (same split for every method of a seed) and seat the teachers."""
    task = bench.task(key.task)
    data = bench.data(key.task)
    silo_seed = UnitKey(key.task, "silos", 0, None, key.seed).derived_seed()
    label_of: Callable[[Example], str] | None = (
        (lambda e: task.gold(e) or "") if task.labels else None
    )
    silos = split_silos(
        data.pool,
        config.teachers,
        silo_seed,
        strategy=config.silo_split,
        alpha=config.dirichlet_alpha,
        silo_size=config.silo_size,
        label_of=label_of,
    )
    transcript = Transcript(str(key))
    model = bench.teacher_model()
    teachers = [
        Teacher(f"teacher-{i}", task, model, silo, transcript=transcript, heldout=config.heldout)
        for i, silo in enumerate(silos)
    ]
    smallest = min(t.silo_size for t in teachers)
    needed = max(key.n if key.method == "original_examples" else 0, 1)
    if needed > smallest:
        raise ConfigError(
            f"n: {key.n} examples requested but the smallest teacher silo has {smallest} "
            f"(pool {len(data.pool)} split among {config.teachers} teachers, "
            f"{config.heldout} held out); "
            "lower n or --teachers"
        )
    silo_texts = frozenset(" ".join(task.render(e).split()) for silo in silos for e in silo)
    return Classroom(task, teachers, transcript, silo_texts)


def teaching_context(
    config: ExperimentConfig, bench: Workbench, key: UnitKey, room: Classroom, seed: int
) -> TeachingContext:
    syn = config.synthesis
    settings = SynthesisSettings(
        n_gen=syn.n_gen,
        temperature=syn.temperature,
        samples=syn.samples,
        top_k=syn.top_k,
        max_tokens=syn.max_tokens,
        grammar=bench.grammar(key.task) if syn.constrained else None,
        attempts=syn.attempts,
    )
    aggregator = aggregators.create(key.aggregator or "random")
    return TeachingContext(
        task=room.task,
        teachers=room.teachers,
        n=key.n,
        seed=seed,
        transcript=room.transcript,
        aggregator=aggregator,
        synthesis=settings,
        instruction_examples=config.instruction_examples,
        teachers_per_round=syn.teachers_per_round,
    )


def leakage_gate(config: ExperimentConfig, method: str) -> list[CandidateFilter]:
    if not config.gate.enabled or method not in ("synthetic_examples", "synthetic_instruction"):
        return []
    from sociallearn.privacy.gate import LeakageGate

    return [
        LeakageGate(
            min_distance=config.gate.min_distance,
            max_ngram=config.gate.max_ngram,
        )
    ]


def leakage_summary(stats: GenerationStats) -> dict[str, Any]:
    parsed = max(stats.parsed, 1)
    return {
        "n_sampled": stats.sampled,
        "n_examined": stats.examined,
        "n_parsed": stats.parsed,
        "parse_rate": (stats.examined - stats.malformed) / stats.examined
        if stats.examined
        else 0.0,
        "copy_rate": stats.silo_copies / parsed,
        "n_prompt_copies_dropped": stats.prompt_copies,
        "n_rejected": stats.rejected,
        "rejection_rate": stats.rejected / parsed,
        "n_shared": stats.shared,
        "distances": [round(d, 4) for d in stats.distances],
        "mean_distance": sum(stats.distances) / len(stats.distances) if stats.distances else None,
        "constrained": stats.constrained,
    }


def teach(
    config: ExperimentConfig, bench: Workbench, key: UnitKey, room: Classroom, seed: int
) -> Curriculum:
    method: TeachingMethod = methods.create(key.method)
    gate = leakage_gate(config, key.method)
    if gate:
        method = Gated(method, gate)
    return method.teach(teaching_context(config, bench, key, room, seed))


def run_unit(
    config: ExperimentConfig, bench: Workbench, key: UnitKey, progress: Progress | None = None
) -> UnitOutcome:
    """Teach, then evaluate the student on the (limited) test set."""
    started = time.perf_counter()
    room = build_classroom(config, bench, key)
    curriculum = teach(config, bench, key, room, key.teaching_seed())
    student = Student(bench.student_model(), room.task, calibrate=config.calibrate)
    prompt = student.learn(curriculum)
    room.transcript.record(0, STUDENT, STUDENT, "prompt", prompt)
    taught = time.perf_counter()
    items = bench.data(key.task).test[: config.limit] if config.limit else bench.data(key.task).test
    predictions = student.answer(items, mode=config.answer_mode, progress=progress)
    n_correct = sum(p.correct for p in predictions)
    stats = GenerationStats.merge(t.stats for t in room.teachers)
    syn = config.synthesis
    row: dict[str, Any] = {
        "unit": str(key),
        "task": room.task.name,  # a YAML task's own name, not its path
        "task_spec": key.task,
        "method": key.method,
        "n": key.n,
        "aggregator": key.aggregator,
        "seed": key.seed,
        "accuracy": n_correct / len(predictions) if predictions else 0.0,
        "n_items": len(predictions),
        "n_correct": n_correct,
        "answer_mode": config.answer_mode,
        "calibrated": config.calibrate and config.answer_mode == "score",
        "student_model": student.model.model_id,
        "teacher_model": room.teachers[0].model.model_id,
        "contains_private": curriculum.contains_private,
        "private_examples_to_student": room.private_blocks_to_student(),
        "n_examples_taught": len(curriculum.examples),
        "shortfall": curriculum.shortfall,
        "instruction": curriculum.instruction,
        "prompt_tokens_chars": len(prompt),
        "predictions": [
            {
                "uid": p.uid,
                "answer": p.answer,
                "gold": p.gold,
                "correct": p.correct,
                "completion": p.completion[:200],
            }
            for p in predictions
        ],
        "leakage": leakage_summary(stats) if key.method == "synthetic_examples" else None,
        "params": {
            "n_gen": syn.n_gen,
            "temperature": syn.temperature,
            "samples": syn.samples,
            "top_k": syn.top_k,
            "constrained": syn.constrained,
            "teachers": config.teachers,
            "gate": config.gate.model_dump() if key.method == "synthetic_examples" else None,
        },
        "timings": {
            "teach_s": round(taught - started, 3),
            "eval_s": round(time.perf_counter() - taught, 3),
        },
    }
    return UnitOutcome(row, room.transcript.rows())
