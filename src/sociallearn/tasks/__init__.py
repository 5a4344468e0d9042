"""Tasks: formats, answer parsing, built-in tasks, user tasks in YAML, data sources and splits."""

from sociallearn.tasks.base import (
    AnswerParser,
    CanaryTemplate,
    DataSource,
    Example,
    Task,
    TaskData,
)
from sociallearn.tasks.grammar import task_grammar
from sociallearn.tasks.random_insertion import generate_random_insertion
from sociallearn.tasks.registry import (
    DATA_DIR_ENV,
    TaskInfo,
    describe_tasks,
    format_example,
    get_task,
    load_task_data,
    task_names,
)
from sociallearn.tasks.sources import GeneratedSource, HubSource, LocalFileSource, PackageSource
from sociallearn.tasks.user_task import UserTaskConfig, load_user_task

__all__ = [
    "DATA_DIR_ENV",
    "AnswerParser",
    "CanaryTemplate",
    "DataSource",
    "Example",
    "GeneratedSource",
    "HubSource",
    "LocalFileSource",
    "PackageSource",
    "Task",
    "TaskData",
    "TaskInfo",
    "UserTaskConfig",
    "describe_tasks",
    "format_example",
    "generate_random_insertion",
    "get_task",
    "load_task_data",
    "load_user_task",
    "task_grammar",
    "task_names",
]
