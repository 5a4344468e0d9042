"""Built-in teaching methods; importing this package registers them."""

from sociallearn.teaching.methods import baselines, synthetic_examples, synthetic_instruction
from sociallearn.teaching.methods.base import TeachingContext, TeachingMethod, deliver, methods

__all__ = [
    "TeachingContext",
    "TeachingMethod",
    "baselines",
    "deliver",
    "methods",
    "synthetic_examples",
    "synthetic_instruction",
]
