"""Built-in teaching methods; importing this package registers them."""

from sociallearn.teaching import aggregators_dp  # registers the dp_voting aggregator
from sociallearn.teaching.methods import (
    baselines,
    feedback,
    private_generation,
    private_labels,
    synthetic_examples,
    synthetic_instruction,
)
from sociallearn.teaching.methods.base import Method, TeachingMethod, methods

__all__ = [
    "Method",
    "TeachingMethod",
    "aggregators_dp",
    "baselines",
    "feedback",
    "methods",
    "private_generation",
    "private_labels",
    "synthetic_examples",
    "synthetic_instruction",
]
