"""When llama.cpp may use its extra CPU buffer types (AMX, repacked weights): the default read
from the CPU's flags, and the wrapper that hands the choice to ``llama_cpp.Llama``."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sociallearn.models.llamacpp_load import default_extra_buffers, extra_buffers_set

_CPUINFO = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu {}\n"


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("sse3 avx2 avx512f avx512_vnni", True),
        ("sse3 avx2 avx512f amx_bf16 amx_tile amx_int8", False),  # AMX advertised: off
        ("neon asimd", True),
    ],
)
def test_extra_buffers_are_off_where_the_cpu_advertises_amx(
    tmp_path: Path, flags: str, expected: bool
) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(_CPUINFO.format(flags))
    assert default_extra_buffers(cpuinfo) is expected


def test_no_cpuinfo_keeps_llama_cpp_s_default(tmp_path: Path) -> None:
    assert default_extra_buffers(tmp_path / "missing") is True


def _fake_llama_cpp() -> Any:
    def default_params() -> Any:
        return SimpleNamespace(use_extra_bufts=True, n_gpu_layers=0)

    return SimpleNamespace(llama_cpp=SimpleNamespace(llama_model_default_params=default_params))


@pytest.mark.parametrize("enabled", [False, True])
def test_the_wrapper_sets_the_parameter_while_the_model_is_built(enabled: bool) -> None:
    fake = _fake_llama_cpp()
    original = fake.llama_cpp.llama_model_default_params
    with extra_buffers_set(fake, enabled):
        params = fake.llama_cpp.llama_model_default_params()
        assert params.use_extra_bufts is enabled and params.n_gpu_layers == 0
    assert fake.llama_cpp.llama_model_default_params is original


def test_the_wrapper_is_undone_when_loading_fails() -> None:
    fake = _fake_llama_cpp()
    original = fake.llama_cpp.llama_model_default_params
    with pytest.raises(ValueError, match="bad file"), extra_buffers_set(fake, False):
        raise ValueError("bad file")
    assert fake.llama_cpp.llama_model_default_params is original
