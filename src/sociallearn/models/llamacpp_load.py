"""Loading a GGUF file into ``llama_cpp.Llama``, and whether llama.cpp may move its weights
into its "extra" CPU buffer types.

A native llama.cpp build on a CPU that advertises AMX compiles ggml's AMX kernels and, at load,
moves supported weights (Q4_0, Q4_1, Q8_0, K-quants) into an AMX buffer; matrix products then
run on AMX tiles. On virtual machines that advertise AMX without keeping tile state working
(measured on a Firecracker VM, Intel Xeon, Linux 6.18: the kernel grants the AMX permission, yet
the first ``tilezero`` raises "illegal instruction"), the process dies with SIGILL on its first
decode — no error, no result. Loading with extra buffer types off keeps every weight in the
ordinary CPU buffer (AVX-512/AVX2 kernels), which runs everywhere the build runs. It also turns
off the weight repacking of K-quants (another extra buffer type), so a model runs other kernels
than with them on: numbers move as they do between builds (docs/backends.md).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sociallearn.errors import UserError
from sociallearn.models.platform_info import cpu_info

# CPU flags under which a native build carries AMX kernels that load may route weights to.
_AMX_FLAGS = ("amx_tile", "amx_int8", "amx_bf16")
# Held while the default-parameters function is swapped, so that two threads loading models at
# once cannot restore each other's wrapper.
_SWAP = threading.Lock()


def default_extra_buffers(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Extra buffer types stay on unless the CPU advertises AMX (see the module docstring).

    A CPU that advertises AMX may or may not run it; which one cannot be told without running a
    tile instruction, and a wrong guess kills the process. Off is the choice that cannot crash;
    ``extra_buffers: true`` turns them back on where AMX is known to work.
    """
    flags = cpu_info(cpuinfo)["simd"] or []
    return not any(flag in flags for flag in _AMX_FLAGS)


@contextlib.contextmanager
def extra_buffers_set(llama_cpp: Any, enabled: bool) -> Iterator[None]:
    """While a ``llama_cpp.Llama`` is constructed inside, its model loads with extra buffer
    types ``enabled`` or not.

    ``Llama`` takes no argument for llama.cpp's ``use_extra_bufts`` model parameter; it builds
    its parameters from ``llama_model_default_params()``, so that function is wrapped for the
    construction, under a lock.
    """
    module = llama_cpp.llama_cpp
    with _SWAP:
        default_params = module.llama_model_default_params

        def params() -> Any:
            made = default_params()
            made.use_extra_bufts = enabled
            return made

        module.llama_model_default_params = params
        try:
            yield
        finally:
            module.llama_model_default_params = default_params


def load_llama(
    llama_cpp: Any,
    path: Path,
    *,
    n_ctx: int,
    n_batch: int,
    threads: int,
    verbose: bool,
    add_bos: bool | None,
    extra_buffers: bool | None,
) -> Any:
    """The ``Llama`` holding ``path``'s model; a file llama.cpp cannot load is a ``UserError``.

    ``add_bos`` forces the file's "add BOS token" flag (``None`` keeps it); ``extra_buffers``
    ``None`` takes :func:`default_extra_buffers`.
    """
    if extra_buffers is not None and not isinstance(extra_buffers, bool):
        raise UserError(f"option extra_buffers: expected true or false, got {extra_buffers!r}")
    bos: dict[str, bool | int | float | str] | None = (
        None if add_bos is None else {"tokenizer.ggml.add_bos_token": add_bos}
    )
    enabled = default_extra_buffers() if extra_buffers is None else extra_buffers
    try:
        with extra_buffers_set(llama_cpp, enabled):
            return llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_batch=n_batch,
                n_threads=threads,
                n_threads_batch=threads,
                logits_all=False,
                verbose=verbose,
                kv_overrides=bos,
            )
    except (ValueError, RuntimeError) as exc:
        raise UserError(
            f"cannot load model file {path}: {exc} (expected a valid .gguf file)"
        ) from exc
