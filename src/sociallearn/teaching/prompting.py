"""The text a student model sees for one query: the single definition of the student's prompt.

:class:`~sociallearn.teaching.student.Student` and the exporters (``sociallearn export``) both
render through these functions, so an exported prompt is the one that was evaluated.
"""

from __future__ import annotations

from sociallearn.tasks.base import Example, Task


def query_prompt(learned: str, task: Task, example: Example) -> str:
    """The learned prompt followed by the query; the student continues from its end."""
    return learned + task.render_query(example)


def label_continuation(task: Task, label: str) -> str:
    """The continuation whose log-probability is the score of ``label`` (answer mode ``score``)."""
    return task.target_template.format(target=label)


def content_free_example(task: Task) -> Example:
    """The content-free input of contextual calibration: every field ``"N/A"``."""
    return Example(dict.fromkeys(task.field_names, "N/A"), "")
