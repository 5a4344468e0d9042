"""Where jobs run: ``local`` (default), ``processes`` (``--workers N``) or ``ray`` (a cluster)."""

from __future__ import annotations

from dataclasses import dataclass

from sociallearn.errors import UserError
from sociallearn.experiment.config import ExperimentConfig
from sociallearn.experiment.executors.base import (
    Executor,
    Job,
    JobError,
    JobEvents,
    JobResult,
    Warn,
    WorkerLostError,
    usable_cores,
    uses_llamacpp,
    warn_on_stderr,
)

EXECUTORS = ("local", "processes", "ray")

__all__ = [
    "EXECUTORS",
    "Executor",
    "ExecutorSettings",
    "Job",
    "JobError",
    "JobEvents",
    "JobResult",
    "WorkerLostError",
    "make_executor",
]


@dataclass(frozen=True)
class ExecutorSettings:
    """The executor flags of ``run`` and ``audit``, as given."""

    executor: str | None = None
    workers: int | None = None
    address: str | None = None
    num_cpus: float | None = None
    memory_gb: float | None = None
    num_gpus: float | None = None


def make_executor(
    settings: ExecutorSettings, config: ExperimentConfig, warn: Warn = warn_on_stderr
) -> Executor:
    """Check the flags (one-line errors) and build the executor; nothing is started yet."""
    s = settings
    name = s.executor or ("processes" if s.workers is not None else "local")
    if name not in EXECUTORS:
        raise UserError(f"--executor: unknown executor {name!r} (known: {', '.join(EXECUTORS)})")
    if s.workers is not None and s.workers < 1:
        raise UserError(f"--workers: expected at least 1, got {s.workers}")
    for flag, value in (
        ("--num-cpus", s.num_cpus),
        ("--memory", s.memory_gb),
    ):
        if value is not None and value <= 0:
            raise UserError(f"{flag}: expected a positive number, got {value:g}")
    if s.num_gpus is not None and s.num_gpus < 0:
        raise UserError(f"--num-gpus: expected 0 or more, got {s.num_gpus:g}")
    if name != "ray":
        ray_only = {
            "--address": s.address,
            "--num-cpus": s.num_cpus,
            "--memory": s.memory_gb,
            "--num-gpus": s.num_gpus,
        }
        for flag, given in ray_only.items():
            if given is not None:
                raise UserError(f"{flag}: only used with --executor ray")
    if name == "local":
        if s.workers not in (None, 1):
            raise UserError(f"--workers {s.workers}: the local executor has one worker")
        from sociallearn.experiment.executors.local import LocalExecutor

        return LocalExecutor()
    if name == "processes":
        from sociallearn.experiment.executors.processes import ProcessExecutor

        cores = usable_cores()
        workers = s.workers or cores
        if workers > cores and uses_llamacpp(config):
            warn(
                f"--workers {workers} is more than the {cores} cores here: each worker gets one "
                "llama.cpp thread and they will share cores (slower per unit)"
            )
        # An explicit n_threads model option wins over the worker's share of the cores (the
        # workbench applies it), so the executor reports the threads the models really get.
        explicit = {
            o.get("n_threads") for o in (config.student_options(), config.teacher_options())
        }
        threads = explicit.pop() if len(explicit) == 1 and None not in explicit else None
        return ProcessExecutor(workers, threads=int(threads or max(1, cores // workers)))
    from sociallearn.experiment.executors.ray import RayExecutor

    return RayExecutor(
        address=s.address,
        workers=s.workers,
        num_cpus=s.num_cpus or 1.0,
        memory=int(s.memory_gb * 2**30) if s.memory_gb else None,
        num_gpus=s.num_gpus or 0.0,
    )
