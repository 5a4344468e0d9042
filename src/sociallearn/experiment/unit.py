"""One unit of work: a pure function of (resolved config, unit key) to a result row + transcript."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sociallearn.errors import ConfigError
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.results import RoundResult, UnitResult
from sociallearn.experiment.units import UnitKey, build_aggregator, build_method
from sociallearn.experiment.workbench import Workbench
from sociallearn.tasks.base import Example, Task
from sociallearn.teaching.boundary import Boundary
from sociallearn.teaching.components import capability
from sociallearn.teaching.curriculum import Curriculum
from sociallearn.teaching.filters import CandidateFilter
from sociallearn.teaching.rounds import MethodContext, RoundHook, TeachingResult, run_rounds
from sociallearn.teaching.silos import split_silos
from sociallearn.teaching.student import Prediction, Student
from sociallearn.teaching.teacher import GenerationStats, SynthesisSettings, Teacher
from sociallearn.teaching.transcript import Transcript

Progress = Callable[[int], None]


@dataclass(frozen=True)
class UnitOutcome:
    row: dict[str, Any]
    messages: list[dict[str, Any]]


@dataclass
class Classroom:
    """The boundary (with the teachers and their silos inside) for one unit or audit run."""

    task: Task
    boundary: Boundary
    transcript: Transcript
    method: Any  # the unit's method component


def build_classroom(config: ExperimentConfig, bench: Workbench, key: UnitKey) -> Classroom:
    """Deal the silos (same split for every method of a seed) and seat the teachers.

    Also the pre-flight check of a unit: it makes no model call, and fails on a method that
    cannot run here (n larger than a silo, an argument the classroom cannot satisfy).
    """
    task = bench.task(key.task)
    data = bench.data(key.task)
    method = build_method(config, key.method)
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
    needed = max(key.n if capability(method, "needs_n_private") else 0, 1)
    if needed > smallest:
        raise ConfigError(
            f"n: {key.n} examples requested but the smallest teacher silo has {smallest} "
            f"(pool {len(data.pool)} split among {config.teachers} teachers, "
            f"{config.heldout} held out); "
            "lower n or --teachers"
        )
    check = getattr(method, "check", None)
    if check is not None:
        check(task, len(teachers))
    check_models = getattr(method, "check_models", None)
    if check_models is not None:
        check_models(model, bench.student_model())
    boundary = Boundary(
        task,
        teachers,
        transcript,
        aggregation=config.aggregation,
        student_model=bench.student_model(),
    )
    if capability(method, "gated"):
        boundary.gate(leakage_gate(config))
    return Classroom(task, boundary, transcript, method)


def leakage_gate(config: ExperimentConfig) -> list[CandidateFilter]:
    if not config.gate.enabled:
        return []
    from sociallearn.privacy.gate import LeakageGate

    return [LeakageGate(min_distance=config.gate.min_distance, max_ngram=config.gate.max_ngram)]


def method_context(
    config: ExperimentConfig, bench: Workbench, key: UnitKey, room: Classroom, seed: int
) -> MethodContext:
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
    return MethodContext(
        task=room.task,
        n=key.n,
        seed=seed,
        boundary=room.boundary,
        aggregator=build_aggregator(config, key.aggregator),
        synthesis=settings,
        instruction_examples=config.instruction_examples,
        teachers_per_round=syn.teachers_per_round,
        answer_mode=config.answer_mode,
        calibrate=config.calibrate and config.answer_mode == "score",
    )


def teach(
    config: ExperimentConfig,
    bench: Workbench,
    key: UnitKey,
    room: Classroom,
    seed: int,
    hooks: Sequence[RoundHook] = (),
) -> TeachingResult:
    """Run the unit's method round by round through the classroom's boundary."""
    context = method_context(config, bench, key, room, seed)
    return run_rounds(room.method.plan, context, room.boundary, hooks)


def leakage_summary(stats: GenerationStats) -> dict[str, Any]:
    parsed = max(stats.parsed, 1)
    return {
        "n_sampled": stats.sampled,
        "n_examined": stats.examined,
        "n_parsed": stats.parsed,
        "n_malformed": stats.malformed,
        "n_truncated": stats.truncated,
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


def _accuracy(predictions: Sequence[Prediction]) -> float:
    return sum(p.correct for p in predictions) / len(predictions) if predictions else 0.0


def round_results(
    taught: TeachingResult, evaluate: Callable[[Curriculum], float]
) -> list[RoundResult]:
    """Per iteration of a multi-round method: test accuracy of its curriculum, and what the
    rounds that built it cost and leaked."""
    out: list[RoundResult] = []
    previous = 0
    for snap in taught.snapshots:
        rounds = [r for r in taught.rounds if previous < r.round <= snap.completed_round]
        previous = snap.completed_round
        parsed = sum(r.parsed for r in rounds)
        out.append(
            RoundResult(
                iteration=snap.iteration,
                test_accuracy=evaluate(snap.curriculum),
                heldout_accuracy=snap.metrics.get("heldout_accuracy"),
                released=sum(r.released for r in rounds),
                rejected=sum(r.rejected for r in rounds),
                copy_rate=sum(r.silo_copies for r in rounds) / parsed if parsed else 0.0,
                tokens=sum(r.tokens for r in rounds),
                chosen=snap.curriculum == taught.curriculum,
            )
        )
    return out


def run_unit(
    config: ExperimentConfig, bench: Workbench, key: UnitKey, progress: Progress | None = None
) -> UnitOutcome:
    """Teach, then evaluate the student on the (limited) test set."""
    started = time.perf_counter()
    room = build_classroom(config, bench, key)
    family = capability(room.method, "seed_family", None)
    taught = teach(config, bench, key, room, key.teaching_seed(family=family))
    curriculum = taught.curriculum
    student = Student(bench.student_model(), room.task, calibrate=config.calibrate)
    prompt = room.boundary.present(student, curriculum)
    released = room.boundary.audit(prompt)
    teach_done = time.perf_counter()
    items = bench.data(key.task).test[: config.limit] if config.limit else bench.data(key.task).test
    predictions = student.answer(items, mode=config.answer_mode, progress=progress)
    metrics = capability(room.method, "metrics", ())
    rounds: list[RoundResult] | None = None
    if "rounds" in metrics:

        def evaluate(snapshot: Curriculum) -> float:
            if snapshot == curriculum:
                return _accuracy(predictions)
            probe = Student(bench.student_model(), room.task, calibrate=config.calibrate)
            probe.learn(snapshot)
            return _accuracy(probe.answer(items, mode=config.answer_mode))

        rounds = round_results(taught, evaluate)
    stats = room.boundary.stats()
    syn = config.synthesis
    gated = capability(room.method, "gated") and config.gate.enabled
    result = UnitResult(
        unit=str(key),
        task=room.task.name,  # a YAML task's own name, not its path
        task_spec=key.task,
        method=key.method,
        method_name=room.method.name,
        method_args=_args(room.method),
        n=key.n,
        aggregator=key.aggregator,
        aggregation=config.aggregation,
        seed=key.seed,
        accuracy=_accuracy(predictions),
        n_items=len(predictions),
        n_correct=sum(p.correct for p in predictions),
        answer_mode=config.answer_mode,
        calibrated=config.calibrate and config.answer_mode == "score",
        student_model=student.model.model_id,
        teacher_model=bench.teacher_model().model_id,
        contains_private=curriculum.contains_private,
        private_examples_to_student=room.boundary.private_blocks_to_student(),
        private_examples_in_prompt=released.private_examples,
        near_copies_in_prompt=released.near_copies,
        canaries_in_prompt=released.canaries,
        n_examples_taught=len(curriculum.examples),
        shortfall=curriculum.shortfall,
        instruction=curriculum.instruction,
        prompt_tokens_chars=len(prompt),
        predictions=[
            {
                "uid": p.uid,
                "answer": p.answer,
                "gold": p.gold,
                "correct": p.correct,
                "completion": p.completion[:200],
            }
            for p in predictions
        ],
        leakage=leakage_summary(stats) if "leakage" in metrics else None,
        rounds=rounds,
        n_rounds=len(taught.rounds),
        privacy=taught.ledger.summary()
        if taught.ledger is not None and (taught.ledger.events or taught.ledger.budget)
        else None,
        params={
            "n_gen": syn.n_gen,
            "temperature": syn.temperature,
            "samples": syn.samples,
            "top_k": syn.top_k,
            "constrained": syn.constrained,
            "teachers": config.teachers,
            "gate": config.gate.model_dump() if gated else None,
        },
        timings={
            "teach_s": round(teach_done - started, 3),
            "eval_s": round(time.perf_counter() - teach_done, 3),
        },
    )
    return UnitOutcome(result.to_row(), room.transcript.rows())


def _args(component: Any) -> dict[str, Any]:
    args = getattr(component, "args", None)
    return dict(args()) if callable(args) else {}
