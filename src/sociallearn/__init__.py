"""sociallearn: social learning among LLMs, with privacy measured by canaries."""

from sociallearn.export.results import load_predictions, load_results
from sociallearn.models.base import (
    Completion,
    GenerationParams,
    LanguageModel,
    Score,
    ScoreRequest,
)
from sociallearn.models.registry import create_model
from sociallearn.tasks.base import AnswerParser, Example, Task

__version__ = "0.1.0"

__all__ = [
    "AnswerParser",
    "Completion",
    "Example",
    "GenerationParams",
    "LanguageModel",
    "Score",
    "ScoreRequest",
    "Task",
    "__version__",
    "create_model",
    "load_predictions",
    "load_results",
]
