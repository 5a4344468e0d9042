"""Re-encode a GGUF file's weights (e.g. Q4_1 -> f32) once, for faster batched scoring on CPU.

llama.cpp's CPU matrix kernels for f32 weights use the wide SIMD paths of a native build, while a
Q4_1 file dequantizes block by block. On this project's 2-core AVX-512 machine, prompt
evaluation of SmolLM2-135M ran 2.2x faster from f32 weights than from the shipped Q4_1 ones,
and token-by-token generation at about the same speed (see docs/design.md). The f32 file holds
the same weights as the Q4_1 file, only unpacked; scores still differ slightly because llama.cpp
rounds activations to 8 bits before a Q4_1 product, so it is a different model id.

``bf16`` (the precision SmolLM2 was trained in) is faster still where the CPU multiplies bf16
natively (AVX512_BF16): on the same machine, canary scoring ran 1.45x and generation 1.47x faster
than from f32 (``benchmarks/bench_weights.py``). It rounds weights and activations to 8 mantissa
bits, so scores move by a few thousandths of a nat per token against f32. Without AVX512_BF16,
llama.cpp widens bf16 to f32 in software and the f32 file is the faster one.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import tempfile
from pathlib import Path

from sociallearn.errors import UserError

CACHE_ENV = "SOCIALLEARN_CACHE_DIR"
# Option value -> the llama.cpp file-type constant it converts to.
_FILE_TYPES = {
    "f32": "LLAMA_FTYPE_ALL_F32",
    "f16": "LLAMA_FTYPE_MOSTLY_F16",
    "bf16": "LLAMA_FTYPE_MOSTLY_BF16",
    "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
}
WEIGHT_TYPES = tuple(_FILE_TYPES)


def cache_dir() -> Path:
    """Where derived model files live: ``$SOCIALLEARN_CACHE_DIR`` or ``~/.cache/sociallearn``."""
    root = os.environ.get(CACHE_ENV)
    return Path(root) if root else Path.home() / ".cache" / "sociallearn"


def _ftype(weights: str) -> int:
    if weights not in _FILE_TYPES:
        raise UserError(
            f"option weights: expected one of {', '.join(WEIGHT_TYPES)}, got {weights!r}"
        )
    import llama_cpp

    return int(getattr(llama_cpp, _FILE_TYPES[weights]))


def _warn_if_emulated(weights: str) -> None:
    """bf16 without AVX512_BF16 kernels is widened to f32 in software: slower than f32 itself."""
    if weights != "bf16":
        return
    from sociallearn.models.platform_info import llama_cpp_build

    build = llama_cpp_build()
    if build is not None and "AVX512_BF16" not in build["features"]:
        print(
            "warning: option weights bf16: this llama.cpp build has no AVX512_BF16 kernels, so "
            "bf16 is widened to f32 in software and runs slower than weights f32",
            file=sys.stderr,
        )


def reencoded_gguf(source: Path, weights: str, *, into: Path | None = None) -> Path:
    """``source`` with its weights stored as ``weights``: made on first use, then reused.

    The derived file is named after the source's bytes (:func:`.file_digest.file_digest`), so a
    changed source is converted again, even one copied over the old with its size and time. It
    is written under a temporary name and renamed into place, so an interrupted conversion never
    leaves a truncated model behind.
    """
    from sociallearn.models.file_digest import file_digest

    ftype = _ftype(weights)
    _warn_if_emulated(weights)
    tag = file_digest(source)
    folder = into or cache_dir() / "models"
    target = folder / f"{source.stem}.{weights}.{tag[:12]}.gguf"
    if target.is_file():
        return target
    import llama_cpp

    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=folder, suffix=".part")
    except OSError as exc:
        raise UserError(
            f"option weights: cannot write to {folder} ({exc}); set {CACHE_ENV}"
        ) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = True  # the source is already quantized
    params.nthread = max(1, (os.cpu_count() or 1))
    print(f"converting {source.name} to {weights} weights, once: {target}", file=sys.stderr)
    # llama.cpp logs a line per tensor through llama-cpp-python's logger; keep errors only.
    llama_logger = logging.getLogger("llama-cpp-python")
    level = llama_logger.level
    llama_logger.setLevel(logging.ERROR)
    try:
        code = llama_cpp.llama_model_quantize(
            str(source).encode(), str(tmp).encode(), ctypes.byref(params)
        )
        if code != 0:
            raise UserError(
                f"option weights: llama.cpp could not convert {source} to {weights} (code {code})"
            )
        tmp.replace(target)
    finally:
        llama_logger.setLevel(level)
        tmp.unlink(missing_ok=True)
    return target
