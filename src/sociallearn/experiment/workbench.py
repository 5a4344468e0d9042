"""Per-process resources a unit needs: models built from their spec strings, task data.

Nothing here is shared across processes; a worker rebuilds what it needs from the config, so a
unit can run in-process, in a pool or on a cluster without changing its result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sociallearn.experiment.config import ExperimentConfig
from sociallearn.models.base import LanguageModel
from sociallearn.models.registry import create_model
from sociallearn.tasks.base import Task, TaskData


class Workbench:
    """Caches models and task data for the units of one process."""

    def __init__(
        self, config: ExperimentConfig, cache_path: Path | None = None, threads: int | None = None
    ) -> None:
        self.config = config
        self.cache_path = cache_path
        # llama.cpp threads of a parallel worker (its share of the cores); an explicit
        # ``n_threads`` model option wins. Threads do not change results (see fingerprint).
        self.threads = threads
        self._models: dict[str, LanguageModel] = {}
        self._tasks: dict[str, Task] = {}
        self._data: dict[str, TaskData] = {}
        self._grammars: dict[str, str | None] = {}

    def teacher_model(self) -> LanguageModel:
        return self._model(self.config.teacher_spec(), self.config.teacher_options())

    def student_model(self) -> LanguageModel:
        return self._model(self.config.student_spec(), self.config.student_options())

    def _model(self, spec: str, options: dict[str, Any]) -> LanguageModel:
        if self.threads is not None and spec.split(":")[0].strip() == "llamacpp":
            options = {"n_threads": self.threads, **options}
        # Roles with the same spec and options share one model (and its KV cache).
        key = json.dumps([spec, options], sort_keys=True, default=str)
        if key not in self._models:
            model = create_model(spec, **options)
            if self.cache_path is not None and not spec.startswith("fake"):
                from sociallearn.models.cache import CachedModel

                model = CachedModel(model, self.cache_path)
            self._models[key] = model
        return self._models[key]

    def task(self, name: str) -> Task:
        if name not in self._tasks:
            from sociallearn.tasks import get_task

            self._tasks[name] = get_task(name)
        return self._tasks[name]

    def data(self, name: str) -> TaskData:
        if name not in self._data:
            from sociallearn.tasks import load_task_data

            cfg = self.config
            self._data[name] = load_task_data(
                self.task(name),
                data_dir=cfg.data_dir,
                data_file=cfg.data_file,
                test_size=cfg.test_size,
                seed=cfg.data_seed,
            )
        return self._data[name]

    def grammar(self, name: str) -> str | None:
        if name not in self._grammars:
            from sociallearn.tasks.grammar import task_grammar

            self._grammars[name] = task_grammar(self.task(name))
        return self._grammars[name]
