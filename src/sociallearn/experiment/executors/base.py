"""The executor seam: the driver hands a list of jobs to an executor and receives results as events.

A job is a pure function of (resolved config, unit key[, canary template]): it can run in the
driver's process, in a local worker process or in a Ray actor on another machine and return the
same row and transcript. Executors never touch the results store; the driver is its only writer.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import traceback
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sociallearn.errors import SocialLearnError, UserError

if TYPE_CHECKING:
    from sociallearn.experiment.config import ExperimentConfig
    from sociallearn.experiment.units import UnitKey
    from sociallearn.experiment.workbench import Workbench

# Fault injection for testing recovery (tests and a cluster's dry run, see docs/cluster.md):
# ``exit-once:<path>`` makes the first worker that takes a job exit abruptly (the file marks that
# it happened, across processes); parallel executors pass the variable on to their workers.
FAULT_ENV = "SOCIALLEARN_FAULT"


@dataclass(frozen=True)
class Job:
    """One unit of work: a grid unit, or one audit run of one canary template."""

    unit: UnitKey
    template: str | None = None  # audit runs: the canary template's name
    cost: float = 1.0  # relative cost estimate; parallel executors deal the longest jobs first
    # The key of a job of the same run whose teaching this one repeats (a sibling unit that
    # differs only in the aggregator): started after it, it finds the candidates in the response
    # cache (see JobQueue).
    after: str | None = None

    @property
    def kind(self) -> str:
        return "result" if self.template is None else "audit"

    @property
    def key(self) -> str:
        """The job's key in the results store."""
        return str(self.unit) if self.template is None else f"audit/{self.unit}/{self.template}"

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True)
class JobResult:
    job: Job
    row: dict[str, Any]
    messages: list[dict[str, Any]]
    extra_rows: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


class JobEvents(Protocol):
    """What an executor reports to the driver (always from the driver's own thread)."""

    def started(self, job: Job) -> None: ...

    def items_done(self, job: Job, count: int) -> None: ...

    def finished(self, result: JobResult) -> None: ...


class Executor(Protocol):
    """Runs jobs and reports each result; raises on the first failed job."""

    @property
    def label(self) -> str:
        """Short description for logs, e.g. ``processes x2``."""
        ...

    def run(
        self,
        config: ExperimentConfig,
        jobs: Sequence[Job],
        events: JobEvents,
        local_bench: Workbench,
    ) -> None:
        """Run every job once (resubmitting after a lost worker); ``local_bench`` is the
        driver's own workbench, which in-process executors reuse."""
        ...


class PoolExecutor(ABC):
    """An executor with a pool of workers that each run one job at a time (processes, Ray)."""

    retries: int  # times a job (or a worker's start) may be lost before the run fails

    def run(
        self,
        config: ExperimentConfig,
        jobs: Sequence[Job],
        events: JobEvents,
        local_bench: Workbench,
    ) -> None:
        if not jobs:
            return  # start no workers for nothing
        self.run_queue(config, JobQueue(jobs, events, self.retries), local_bench)

    @abstractmethod
    def run_queue(self, config: ExperimentConfig, jobs: JobQueue, local_bench: Workbench) -> None:
        """Run every job of ``jobs`` (at least one) on a pool of workers."""


class JobQueue:
    """The jobs of a pool executor's run: dealt longest first, each result reported once, and a
    job whose worker died put back at the front a bounded number of times.

    A job that comes ``after`` another (it repeats that one's teaching) is held back while that
    one is unfinished and other jobs are waiting: started together, both would teach, and with
    the response cache the later one gets the candidates free. A worker is never left idle for
    it, though: with nothing else to deal, the job starts and teaches again (the same results;
    an idle worker would cost wall time for a saving in compute only)."""

    def __init__(self, jobs: Sequence[Job], events: JobEvents, retries: int) -> None:
        # Longest first: the last jobs to start are short, so workers finish close together.
        self.pending = deque(sorted(jobs, key=lambda j: -j.cost))
        self.total = len(jobs)
        self.events = events
        self.retries = retries
        self.finished: set[str] = set()
        self.lost: dict[str, int] = {}  # job key -> workers lost while running it
        self.start_deaths = 0  # workers lost before they could take a job
        keys = {job.key for job in jobs}
        # Only an unfinished job of this run is worth waiting for (an earlier run's is cached).
        self.waits_for = {job.key: job.after for job in jobs if job.after in keys}

    def all_finished(self) -> bool:
        return len(self.finished) >= self.total

    def take(self) -> Job | None:
        """The next job to deal (removed from ``pending``); ``None`` when none is left."""
        if not self.pending:
            return None
        # Held jobs are taken only when every pending job is held.
        job = next((j for j in self.pending if not self._held(j)), self.pending[0])
        self.pending.remove(job)
        return job

    def _held(self, job: Job) -> bool:
        waited = self.waits_for.get(job.key)
        return waited is not None and waited not in self.finished

    def finish(self, result: JobResult) -> None:
        # Once per job: a job resubmitted after its worker was given up for lost may finish twice.
        if result.job.key not in self.finished:
            self.finished.add(result.job.key)
            self.events.finished(result)

    def put_back(self, job: Job, lost: str, cause: str) -> None:
        """``job``'s worker died: run the job next on another, or fail once that has happened
        more than ``retries`` times ("its ``lost`` N times (``cause``)")."""
        times = self.lost[job.key] = self.lost.get(job.key, 0) + 1
        if times > self.retries:
            raise WorkerLostError(
                f"unit {job.key}: its {lost} {times} times ({cause}); not retried again"
            )
        self.pending.appendleft(job)

    def start_died(self, refusal: str) -> None:
        """A worker died while starting: raise ``refusal`` after more than ``retries`` such."""
        self.start_deaths += 1
        if self.start_deaths > self.retries:
            raise WorkerLostError(refusal)


class JobError(RuntimeError):
    """A job raised an unexpected exception (a bug, not bad input); names the job."""


class WorkerLostError(SocialLearnError):
    """Workers kept dying on a job (out of memory, a crash, a lost node)."""


def execute_job(
    config: ExperimentConfig,
    bench: Workbench,
    job: Job,
    progress: Callable[[int], None] | None = None,
) -> JobResult:
    """Run one job in this process with this workbench."""
    import time

    started = time.perf_counter()
    if job.template is None:
        from sociallearn.experiment.unit import run_unit

        outcome = run_unit(config, bench, job.unit, progress=progress)
        return JobResult(job, outcome.row, outcome.messages, [], time.perf_counter() - started)
    from sociallearn.experiment.audit import audit_unit

    task = bench.task(job.unit.task)
    by_name = {c.name: c for c in task.canaries}
    if job.template not in by_name:
        raise UserError(f"audit: task {task.name!r} has no canary template {job.template!r}")
    row, messages = audit_unit(config, bench, job.unit, by_name[job.template])
    # The privacy row goes in once, as the unit's extra row (privacy.jsonl); its reference
    # scores would otherwise be stored twice.
    return JobResult(job, {"unit": row["unit"]}, messages, [row], time.perf_counter() - started)


def job_failure(job: Job, error: BaseException, remote_traceback: str | None = None) -> Exception:
    """The exception the driver raises for a failed job: bad input keeps its type (one line in the
    CLI), anything else becomes a :class:`JobError`; both name the job."""
    if isinstance(error, SocialLearnError):
        try:
            named: Exception = type(error)(f"unit {job.key}: {error}")
        except TypeError:
            named = UserError(f"unit {job.key}: {error}")
        return named
    failure = JobError(f"unit {job.key} failed: {type(error).__name__}: {error}")
    if remote_traceback:
        failure.add_note(f"worker traceback:\n{remote_traceback}")
    return failure


def format_traceback(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))


def maybe_inject_fault() -> None:
    """Honour :data:`FAULT_ENV` inside a worker, before it runs a job."""
    spec = os.environ.get(FAULT_ENV, "")
    mode, _, arg = spec.partition(":")
    if mode != "exit-once" or not arg:
        return
    try:
        fd = os.open(arg, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    os._exit(70)  # abrupt, like a segfault or the OOM killer: no cleanup, no reply


def uses_llamacpp(config: ExperimentConfig) -> bool:
    from sociallearn.models.registry import split_spec

    return any(
        split_spec(spec)[0] == "llamacpp" for spec in (config.teacher_spec(), config.student_spec())
    )


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask, not the whole machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def prepare_workbench(
    config: ExperimentConfig, threads: int | None, cache_path: Path | None
) -> Workbench:
    """A worker's workbench: models built once (here, not per job) and every task's data."""
    from sociallearn.experiment.workbench import Workbench

    bench = Workbench(config, cache_path, threads=threads)
    bench.teacher_model()
    bench.student_model()
    for task in config.tasks:
        bench.data(task)
    return bench


@dataclass(frozen=True)
class Identity:
    """What a worker must share with the driver for its results to be the driver's results."""

    version: str
    fingerprint: str
    data_digest: str
    isa: str
    node: str

    def mismatch(self, driver: Identity) -> str | None:
        for name, label in (
            ("version", "sociallearn version"),
            ("fingerprint", "config fingerprint"),
            ("data_digest", "data digest"),
            ("isa", "CPU instruction set"),
        ):
            mine, theirs = getattr(self, name), getattr(driver, name)
            if mine != theirs:
                return f"{label} {mine} differs from the driver's {theirs}"
        return None


def identity(config: ExperimentConfig, bench: Workbench) -> Identity:
    from sociallearn import __version__

    return Identity(
        version=__version__,
        fingerprint=config.fingerprint(),
        data_digest=data_digest(config, bench),
        isa=instruction_set(config),
        node=platform.node(),
    )


def data_digest(config: ExperimentConfig, bench: Workbench) -> str:
    """Hash of the examples every task of the config draws from (pool and test set)."""
    from sociallearn.experiment.bindings import task_digest

    digest = hashlib.sha256()
    for name in config.tasks:
        digest.update(task_digest(bench.data(name)).encode())
    return digest.hexdigest()[:16]


def instruction_set(config: ExperimentConfig) -> str:
    """The CPU features llama.cpp uses (they can change its rounding); the machine type else."""
    machine = platform.machine()
    if not uses_llamacpp(config):
        return machine
    try:
        import llama_cpp

        info = llama_cpp.llama_print_system_info().decode()
    except Exception:  # no llama.cpp here: the worker will fail on its own when it loads a model
        return machine
    # Keep the features that are on ("AVX2 = 1"); thread counts and the like are not the ISA.
    # e.g. "CPU : SSE3 = 1 | AVX2 = 1 | ... |"
    features = sorted(
        name.split(":")[-1].strip()
        for name, _, value in (part.rpartition("=") for part in info.split("|"))
        if value.strip() == "1"
    )
    return f"{machine}:{','.join(features)}" if features else machine


def parse_positive(value: int | None, flag: str) -> int | None:
    if value is not None and value < 1:
        raise UserError(f"{flag}: expected at least 1, got {value}")
    return value


Warn = Callable[[str], None]


def warn_on_stderr(message: str) -> None:
    """The default :data:`Warn`: one ``warning:`` line on stderr (the CLI passes a styled one)."""
    print(f"warning: {message}", file=sys.stderr)
