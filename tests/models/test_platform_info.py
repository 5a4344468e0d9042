"""run.json records the CPU's instruction sets and the llama.cpp build behind a run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from sociallearn.models.llamacpp_load import default_extra_buffers
from sociallearn.models.platform_info import _enabled_features, cpu_info, gpu_info, platform_info


def test_cpu_info_reads_model_and_simd_flags(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC 9R14\n"
        "stepping\t: 1\n"
        "flags\t\t: fpu sse sse2 ssse3 avx avx2 fma avx512f avx512bw avx512_vnni\n\n"
        "processor\t: 1\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse\n"
    )
    info = cpu_info(cpuinfo)
    assert info["model"] == "AMD EPYC 9R14"
    assert info["family_model_stepping"] == "25/17/1"
    # The first processor's flags, in a fixed order; non-SIMD flags are left out.
    assert info["simd"] == ["ssse3", "avx", "fma", "avx2", "avx512f", "avx512bw", "avx512_vnni"]


def test_cpu_info_without_cpuinfo_says_unknown(tmp_path: Path) -> None:
    info = cpu_info(tmp_path / "missing")
    assert info["simd"] is None
    assert "machine" in info


def fake_nvidia_smi(tmp_path: Path, body: str) -> str:
    """An executable standing in for nvidia-smi: it runs ``body`` as a shell script."""
    script = tmp_path / "nvidia-smi"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_gpu_info_records_each_card(tmp_path: Path) -> None:
    smi = fake_nvidia_smi(
        tmp_path,
        'case "$1" in --query-gpu=name,memory.total,driver_version) ;; *) exit 9;; esac\n'
        "echo 'NVIDIA H200, 143771 MiB, 580.95.05'\necho 'NVIDIA H200, 143771 MiB, 580.95.05'",
    )
    card = {"name": "NVIDIA H200", "memory": "143771 MiB", "driver": "580.95.05"}
    assert gpu_info(smi) == [card, card]


def test_gpu_info_is_none_without_a_working_nvidia_smi(tmp_path: Path) -> None:
    assert gpu_info(str(tmp_path / "absent")) is None
    # Installed but no driver loaded: nvidia-smi fails, the record says unknown, the run goes on.
    assert gpu_info(fake_nvidia_smi(tmp_path, "echo 'NVIDIA-SMI has failed' >&2; exit 9")) is None


def test_enabled_features_parse_llama_system_info() -> None:
    text = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 0 | AVX512 = 1 | OPENMP = 1 | REPACK = 1 |"
    assert _enabled_features(text) == ["SSE3", "AVX", "AVX2", "AVX512", "OPENMP", "REPACK"]


def test_platform_info_is_json_and_names_the_llama_cpp_build() -> None:
    info = json.loads(json.dumps(platform_info()))
    assert set(info) == {"os", "cpu", "gpus", "libraries", "llama_cpp"}
    assert "llama-cpp-python" in info["libraries"]
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    build = info["llama_cpp"]
    assert build["version"] == info["libraries"]["llama-cpp-python"]
    assert "CPU" in build["system_info"] and build["features"]
    assert build["extra_buffers_default"] is default_extra_buffers()
    assert {"ggml_version", "ggml_commit"} <= set(build)
