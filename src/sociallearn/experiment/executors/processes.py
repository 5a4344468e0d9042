"""``processes``: N worker processes on this machine, each holding its own models.

Workers are started with the ``spawn`` method (llama.cpp is not fork-safe), build their
workbench once and run one job at a time; the driver deals the longest jobs first, keeps one job
in flight per worker, resubmits a job whose worker died (a bounded number of times, with a fresh
worker) and fails fast on the first job that raises.
"""

from __future__ import annotations

import contextlib
import pickle
import queue
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sociallearn.experiment.executors.base import (
    Job,
    JobQueue,
    JobResult,
    PoolExecutor,
    execute_job,
    format_traceback,
    job_failure,
    maybe_inject_fault,
    prepare_workbench,
)

if TYPE_CHECKING:
    from multiprocessing.context import SpawnProcess
    from multiprocessing.queues import Queue

    from sociallearn.experiment.config import ExperimentConfig
    from sociallearn.experiment.workbench import Workbench

# How often the driver looks for dead workers while it waits for messages.
_POLL_S = 0.2


def _exit_with_parent() -> None:
    """End this worker when the driver is gone (killed by SIGTERM, SIGKILL or the OOM killer):
    daemon processes are only stopped by a driver that exits normally, and an orphaned worker
    would go on computing units nobody stores."""
    import os
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="sociallearn-parent-watch", daemon=True).start()


def _worker_main(
    wid: int,
    config: ExperimentConfig,
    threads: int,
    inbox: Queue[Job | None],
    outbox: Queue[tuple[str, int, Any]],
) -> None:
    """A worker process: build the workbench, then run jobs until told to stop."""
    import faulthandler
    import signal

    faulthandler.enable()  # a native crash prints its signal and stack, as in the driver
    # Ctrl-C reaches the whole process group; the driver alone decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    try:
        cache = config.run_dir / "cache.sqlite" if config.cache else None
        bench = prepare_workbench(config, threads, cache)
    except BaseException as error:
        outbox.put(("setup_failed", wid, _pack(error)))
        return
    outbox.put(("ready", wid, None))
    while (job := inbox.get()) is not None:
        maybe_inject_fault()

        def progress(count: int) -> None:
            outbox.put(("items", wid, count))

        try:
            result = execute_job(config, bench, job, progress)
        except BaseException as error:
            outbox.put(("failed", wid, _pack(error)))
            return
        outbox.put(("done", wid, result))


def _pack(error: BaseException) -> tuple[bytes | None, str, str]:
    """An exception for the driver: pickled when it can be, with its text and traceback."""
    try:
        data: bytes | None = pickle.dumps(error)
    except Exception:
        data = None
    return data, f"{type(error).__name__}: {error}", format_traceback(error)


def _unpack(packed: tuple[bytes | None, str, str]) -> tuple[BaseException, str]:
    data, text, trace = packed
    if data is not None:
        with contextlib.suppress(Exception):
            error = pickle.loads(data)
            if isinstance(error, BaseException):
                return error, trace
    return RuntimeError(text), trace


@dataclass
class _Worker:
    wid: int
    process: SpawnProcess
    inbox: Queue[Job | None]
    ready: bool = False
    job: Job | None = None


class ProcessExecutor(PoolExecutor):
    """``workers`` processes with ``threads`` llama.cpp threads each."""

    def __init__(self, workers: int, threads: int, retries: int = 1) -> None:
        self.workers = workers
        self.threads = threads
        self.retries = retries

    @property
    def label(self) -> str:
        return f"processes x{self.workers} ({self.threads} thread(s) each)"

    def run_queue(self, config: ExperimentConfig, jobs: JobQueue, local_bench: Workbench) -> None:
        _Pool(self, config, jobs).run()


class _Pool:
    def __init__(self, spec: ProcessExecutor, config: ExperimentConfig, jobs: JobQueue) -> None:
        import multiprocessing

        self.spec = spec
        self.config = config
        self.jobs = jobs
        self.ctx = multiprocessing.get_context("spawn")
        self.outbox: Queue[tuple[str, int, Any]] = self.ctx.Queue()
        self.workers: dict[int, _Worker] = {}
        self.next_wid = 0

    def _start_worker(self) -> None:
        wid, self.next_wid = self.next_wid, self.next_wid + 1
        inbox: Queue[Job | None] = self.ctx.Queue()
        process = self.ctx.Process(
            target=_worker_main,
            args=(wid, self.config, self.spec.threads, inbox, self.outbox),
            name=f"sociallearn-worker-{wid}",
            daemon=True,
        )
        process.start()
        self.workers[wid] = _Worker(wid, process, inbox)

    def run(self) -> None:
        last_reap = time.monotonic()
        try:
            for _ in range(min(self.spec.workers, len(self.jobs.pending))):
                self._start_worker()
            while not self.jobs.all_finished():
                for worker in self.workers.values():
                    if worker.ready and worker.job is None:
                        worker.job = self.jobs.take()
                        if worker.job is None:
                            break  # none left
                        worker.inbox.put(worker.job)
                        self.jobs.events.started(worker.job)
                if time.monotonic() - last_reap >= _POLL_S:
                    # Also while messages keep coming (progress from busy workers).
                    self._reap()
                    last_reap = time.monotonic()
                try:
                    kind, wid, payload = self.outbox.get(timeout=_POLL_S)
                except queue.Empty:
                    continue
                sender = self.workers.get(wid)
                if sender is None:
                    continue  # a message from a worker already written off
                self._handle(sender, kind, payload)
        finally:
            self._stop()

    def _handle(self, worker: _Worker, kind: str, payload: Any) -> None:
        if kind == "ready":
            worker.ready = True
        elif kind == "items" and worker.job is not None:
            self.jobs.events.items_done(worker.job, int(payload))
        elif kind == "done":
            result: JobResult = payload
            worker.job = None
            self.jobs.finish(result)
        elif kind == "failed" and worker.job is not None:
            error, trace = _unpack(payload)
            raise job_failure(worker.job, error, trace)
        elif kind == "setup_failed":
            error, trace = _unpack(payload)
            raise _setup_failure(error, trace)

    def _reap(self) -> None:
        """Replace dead workers; their job goes back to the front of the queue, a bounded number
        of times."""
        for wid, worker in list(self.workers.items()):
            code = worker.process.exitcode
            if code is None or code == 0:
                # Alive, or returned on purpose after reporting a failure (its message is
                # in the queue: a clean exit flushes it first).
                continue
            del self.workers[wid]
            job = worker.job
            if job is None:
                # Died while building its models (e.g. out of memory loading a model).
                self.jobs.start_died(
                    f"worker processes died while loading models (exit code {code}); "
                    "check memory, or lower --workers"
                )
            else:
                self.jobs.put_back(
                    job, "worker died", f"last exit code {code}: out of memory or a crash"
                )
            self._start_worker()

    def _stop(self) -> None:
        for worker in self.workers.values():
            with contextlib.suppress(Exception):
                worker.inbox.put(None)
        deadline = time.monotonic() + 5.0
        for worker in self.workers.values():
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                # Busy with a job that will not be saved (fail fast, or the driver stopping).
                worker.process.kill()
                worker.process.join(timeout=5.0)
        for worker in self.workers.values():
            worker.inbox.close()
            worker.inbox.cancel_join_thread()
        self.outbox.close()
        self.outbox.cancel_join_thread()


def _setup_failure(error: BaseException, trace: str) -> Exception:
    from sociallearn.errors import SocialLearnError
    from sociallearn.experiment.executors.base import JobError

    if isinstance(error, SocialLearnError):
        return error
    failure = JobError(f"a worker failed to start: {type(error).__name__}: {error}")
    failure.add_note(f"worker traceback:\n{trace}")
    return failure
