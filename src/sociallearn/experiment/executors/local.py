"""``local``: every job in the driver's process, one after another, in the order given (today's
behaviour, and the default)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sociallearn.experiment.executors.base import Job, JobEvents, execute_job, job_failure

if TYPE_CHECKING:
    from sociallearn.experiment.config import ExperimentConfig
    from sociallearn.experiment.workbench import Workbench


class LocalExecutor:
    @property
    def label(self) -> str:
        return "local"

    def run(
        self,
        config: ExperimentConfig,
        jobs: Sequence[Job],
        events: JobEvents,
        local_bench: Workbench,
    ) -> None:
        for job in jobs:
            events.started(job)

            def progress(count: int, job: Job = job) -> None:
                events.items_done(job, count)

            try:
                result = execute_job(config, local_bench, job, progress)
            except Exception as error:
                raise job_failure(job, error) from error
            events.finished(result)
