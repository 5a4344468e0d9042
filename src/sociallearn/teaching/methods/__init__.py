"""Built-in teaching methods; importing this package registers them."""

from sociallearn.teaching.methods import (
    baselines,
    feedback,
    synthetic_examples,
    synthetic_instruction,
)
from sociallearn.teaching.methods.base import Method, TeachingMethod, methods

__all__ = [
    "Method",
    "TeachingMethod",
    "baselines",
    "feedback",
    "methods",
    "synthetic_examples",
    "synthetic_instruction",
]
