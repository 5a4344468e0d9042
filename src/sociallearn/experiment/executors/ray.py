"""``ray``: a pool of long-lived Ray actors, on one machine or a cluster (extra ``[ray]``).

Each actor builds its workbench (models, task data) once, proves in a start-up handshake that it
would compute what the driver would (sociallearn version, config fingerprint, data digest, CPU
instruction set) and then runs one job at a time. The driver deals the longest jobs first and is
the only writer of the results store. A job whose actor dies (out of memory, a crash, a lost
node) is resubmitted to a fresh actor a bounded number of times, never endlessly: Ray's own actor
restarts are off, because a restarted actor with no free CPU pends forever.

Response cache: node-local. Each actor caches model responses in an SQLite file in its node's
temp folder (one file per config fingerprint, shared by the actors of that node); the run
directory's cache is not used, because SQLite must not be shared over a network filesystem.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sociallearn.errors import UserError
from sociallearn.experiment.executors.base import (
    FAULT_ENV,
    Identity,
    Job,
    JobQueue,
    JobResult,
    PoolExecutor,
    WorkerLostError,
    execute_job,
    identity,
    job_failure,
    maybe_inject_fault,
    prepare_workbench,
)

if TYPE_CHECKING:
    from sociallearn.experiment.config import ExperimentConfig
    from sociallearn.experiment.workbench import Workbench


def node_cache_path(config: ExperimentConfig) -> Path | None:
    if not config.cache:
        return None
    return Path(tempfile.gettempdir()) / "sociallearn-cache" / f"{config.fingerprint()}.sqlite"


class RayWorker:
    """The actor's class (wrapped with ``ray.remote`` at run time, so Ray stays optional)."""

    def __init__(self, config: ExperimentConfig, threads: int) -> None:
        self.config = config
        self.threads = threads
        self.bench: Workbench | None = None

    def setup(self) -> Identity:
        self.bench = prepare_workbench(self.config, self.threads, node_cache_path(self.config))
        return identity(self.config, self.bench)

    def run(self, job: Job) -> JobResult:
        assert self.bench is not None, "setup() runs first"
        maybe_inject_fault()
        return execute_job(self.config, self.bench, job)

    def pid(self) -> int:
        return os.getpid()


@dataclass
class _Actor:
    handle: Any
    ready_ref: Any  # setup() until it resolves, then None
    started: float
    job: Job | None = None
    job_ref: Any = None


class RayExecutor(PoolExecutor):
    """``workers`` actors (default: as many as the cluster's CPUs allow), each with ``num_cpus``
    CPUs (llama.cpp threads), ``memory`` bytes and ``num_gpus`` GPUs reserved."""

    def __init__(
        self,
        address: str | None,
        workers: int | None = None,
        num_cpus: float = 1.0,
        memory: int | None = None,
        num_gpus: float = 0.0,
        retries: int = 1,
        start_timeout: float = 300.0,
    ) -> None:
        self.address = address
        self.workers = workers
        self.num_cpus = num_cpus
        self.memory = memory
        self.num_gpus = num_gpus
        self.retries = retries
        self.start_timeout = start_timeout
        self._used = 0

    @property
    def label(self) -> str:
        where = self.address or "a local Ray"
        n = self._used or self.workers
        actors = f"x{n} actors" if n else "actors for every free CPU"
        return f"ray {actors} at {where} ({self.num_cpus:g} CPU each)"

    def run_queue(self, config: ExperimentConfig, jobs: JobQueue, local_bench: Workbench) -> None:
        ray = _import_ray()
        started_here = False
        if not ray.is_initialized():
            _connect(ray, self.address)
            started_here = True
        try:
            driver = identity(config, local_bench)
            _RayPool(self, ray, config, driver, jobs).run()
        finally:
            if started_here:
                ray.shutdown()


def _import_ray() -> Any:
    import importlib

    try:
        # Through importlib: Ray is an optional extra, and the type checker need not see it.
        ray = importlib.import_module("ray")
    except ImportError:
        raise UserError(
            "--executor ray: Ray is not installed; pip install 'sociallearn[ray]'"
        ) from None
    return ray


def _connect(ray: Any, address: str | None) -> None:
    import warnings

    kwargs: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
    try:
        with warnings.catch_warnings():
            # Ray's client warns about the failed connection too: the error below says it once.
            warnings.simplefilter("ignore")
            ray.init(address=address, **kwargs)
    except Exception as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UserError(
            f"--address {address or '(local)'}: no Ray cluster reachable ({first[:200]})"
        ) from None


class _RayPool:
    def __init__(
        self,
        spec: RayExecutor,
        ray: Any,
        config: ExperimentConfig,
        driver: Identity,
        jobs: JobQueue,
    ) -> None:
        self.spec = spec
        self.ray = ray
        self.config = config
        self.driver = driver
        self.jobs = jobs
        self.actors: list[_Actor] = []
        threads = max(1, math.ceil(spec.num_cpus))
        options: dict[str, Any] = {
            "num_cpus": spec.num_cpus,
            "num_gpus": spec.num_gpus,
            "max_restarts": 0,  # the driver replaces dead actors itself (bounded)
            "max_task_retries": 0,
        }
        if spec.memory:
            options["memory"] = spec.memory
        if os.environ.get(FAULT_ENV):
            options["runtime_env"] = {"env_vars": {FAULT_ENV: os.environ[FAULT_ENV]}}
        self.actor_class = ray.remote(**options)(RayWorker)
        self.threads = threads

    def _pool_size(self, n_jobs: int) -> int:
        nodes = [n for n in self.ray.nodes() if n.get("Alive")]
        largest = max((n.get("Resources", {}).get("CPU", 0.0) for n in nodes), default=0.0)
        if self.spec.num_cpus > largest:
            raise UserError(
                f"--num-cpus {self.spec.num_cpus:g}: no Ray node has that many CPUs "
                f"(largest: {largest:g})"
            )
        fits = sum(int(n.get("Resources", {}).get("CPU", 0.0) // self.spec.num_cpus) for n in nodes)
        wanted = self.spec.workers or fits
        return max(1, min(wanted, n_jobs))

    def _start_actor(self) -> None:
        handle = self.actor_class.remote(self.config, self.threads)
        self.actors.append(_Actor(handle, handle.setup.remote(), time.monotonic()))

    def run(self) -> None:
        pending = self.jobs.pending
        size = self._pool_size(self.jobs.total)
        self.spec._used = size
        try:
            for _ in range(size):
                self._start_actor()
            while not self.jobs.all_finished():
                for actor in self.actors:
                    if actor.ready_ref is None and actor.job is None:
                        actor.job = self.jobs.take()
                        if actor.job is None:
                            break  # none left
                        actor.job_ref = actor.handle.run.remote(actor.job)
                        self.jobs.events.started(actor.job)
                refs = [
                    a.ready_ref if a.ready_ref is not None else a.job_ref
                    for a in self.actors
                    if a.ready_ref is not None or a.job_ref is not None
                ]
                if not refs:
                    raise WorkerLostError(
                        f"no Ray worker left to run unit {pending[0].key}"
                        if pending
                        else "no Ray worker left"
                    )
                done, _ = self.ray.wait(refs, num_returns=1, timeout=1.0)
                if not done:
                    self._check_start_timeouts()
                    continue
                ref = done[0]
                # ray.wait may hand back equal refs, not the same objects: compare by value.
                actor = next(a for a in self.actors if ref in _refs(a))
                if actor.ready_ref is not None and ref == actor.ready_ref:
                    self._on_ready(actor, ref)
                else:
                    result = self._on_result(actor, ref)
                    if result is not None:
                        self.jobs.finish(result)
        finally:
            for actor in self.actors:
                self.ray.kill(actor.handle, no_restart=True)

    def _on_ready(self, actor: _Actor, ref: Any) -> None:
        ray = self.ray
        try:
            worker: Identity = ray.get(ref)
        except ray.exceptions.RayTaskError as error:
            cause = error.cause if isinstance(error.cause, BaseException) else error
            raise UserError(
                f"a Ray worker could not start: {type(cause).__name__}: {cause}"
            ) from None
        except ray.exceptions.RayError:
            self._replace(actor, None, "died while starting")
            return
        problem = worker.mismatch(self.driver)
        if problem:
            raise UserError(f"Ray worker on node {worker.node} refused: {problem}")
        actor.ready_ref = None

    def _on_result(self, actor: _Actor, ref: Any) -> JobResult | None:
        ray = self.ray
        job = actor.job
        assert job is not None
        try:
            result: JobResult = ray.get(ref)
        except ray.exceptions.RayTaskError as error:
            cause = error.cause if isinstance(error.cause, BaseException) else error
            raise job_failure(job, cause, str(error)) from None
        except ray.exceptions.RayError as error:
            self._replace(actor, job, type(error).__name__)
            return None
        actor.job, actor.job_ref = None, None
        return result

    def _replace(self, actor: _Actor, job: Job | None, why: str) -> None:
        """Write off a dead actor, put its job back (bounded) and start a fresh actor."""
        self.actors.remove(actor)
        self.ray.kill(actor.handle, no_restart=True)
        if job is not None:
            self.jobs.put_back(
                job, "Ray worker was lost", f"{why}: out of memory, a crash or a lost node"
            )
        else:
            self.jobs.start_died(f"Ray workers keep dying while starting ({why})")
        self._start_actor()

    def _check_start_timeouts(self) -> None:
        """Actors that cannot be placed (no free CPU, a lost node) pend forever: give up on them
        after ``start_timeout``, and fail when no actor is left to run the queue."""
        pending = self.jobs.pending
        now = time.monotonic()
        for actor in list(self.actors):
            if actor.ready_ref is not None and now - actor.started > self.spec.start_timeout:
                self.actors.remove(actor)
                self.ray.kill(actor.handle, no_restart=True)
        if not self.actors and pending:
            raise WorkerLostError(
                f"unit {pending[0].key}: no Ray worker could be placed within "
                f"{self.spec.start_timeout:.0f}s (num_cpus={self.spec.num_cpus:g}, "
                f"memory={self.spec.memory}); check the cluster's free resources"
            )


def _refs(actor: _Actor) -> list[Any]:
    return [r for r in (actor.ready_ref, actor.job_ref) if r is not None]
