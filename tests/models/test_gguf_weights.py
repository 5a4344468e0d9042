"""Re-encoding the embedded GGUF's weights: made once, cached, loadable, same model to rounding."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sociallearn.errors import UserError
from sociallearn.models.base import ScoreRequest
from sociallearn.models.gguf_weights import CACHE_ENV, cache_dir, reencoded_gguf

pytestmark = pytest.mark.embedded


def test_unknown_weight_type_is_one_clear_error(embedded_gguf: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"option weights: expected one of f32, f16, bf16, q8_0"):
        reencoded_gguf(embedded_gguf, "q3_k", into=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("features", "warned"), [(["AVX2"], True), (["AVX512_BF16"], False)])
def test_bf16_without_native_kernels_warns(
    features: list[str], warned: bool, embedded_gguf: Path, monkeypatch: Any, capfd: Any
) -> None:
    from sociallearn.models import platform_info

    monkeypatch.setattr(platform_info, "llama_cpp_build", lambda: {"features": features})
    with pytest.raises(UserError):  # stops after the check: the target folder is a file
        reencoded_gguf(embedded_gguf, "bf16", into=embedded_gguf)
    assert ("no AVX512_BF16 kernels" in capfd.readouterr().err) is warned


def test_cache_dir_follows_the_environment(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert cache_dir() == tmp_path


@pytest.mark.parametrize("weights", ["q8_0", "bf16"])
def test_copy_is_made_once_and_scores_like_the_original(
    weights: str,
    embedded_gguf: Path,
    embedded_model: Any,
    tmp_path: Path,
    monkeypatch: Any,
    capfd: Any,
) -> None:
    from sociallearn.models.llamacpp import LlamaCppModel

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    first = reencoded_gguf(embedded_gguf, weights)
    # One line says what is made and where, not llama.cpp's line per tensor.
    err = capfd.readouterr().err
    assert err.count("converting") == 1 and str(first) in err
    assert "blk." not in err
    assert first.parent == tmp_path / "models" and first.stat().st_size > 0
    mtime = first.stat().st_mtime_ns
    assert reencoded_gguf(embedded_gguf, weights) == first  # reused, not converted again
    assert first.stat().st_mtime_ns == mtime
    assert not list(first.parent.glob("*.part"))

    model = LlamaCppModel.from_spec("smollm2", weights=weights, n_ctx=256, n_threads=1)
    try:
        assert model.model_id.endswith(f"@weights={weights}")
        request = ScoreRequest("The capital of France is", " Paris, a city on the Seine.")
        [copy] = model.score([request])
    finally:
        model.close()
    [original] = embedded_model.score([request])
    # Same weights to quantisation rounding: close per token, not identical.
    assert copy.n_tokens == original.n_tokens
    assert np.allclose(copy.token_logprobs, original.token_logprobs, atol=0.5)
    assert abs(copy.mean_logprob - original.mean_logprob) < 0.2


def test_a_source_copied_over_with_its_size_and_time_is_converted_again(
    tmp_path: Path, monkeypatch: Any
) -> None:
    import llama_cpp

    converted: list[str] = []

    def quantize(source: bytes, target: bytes, params: Any) -> int:
        converted.append(source.decode())
        Path(target.decode()).write_bytes(b"converted")
        return 0

    monkeypatch.setattr(llama_cpp, "llama_model_quantize", quantize)
    source = tmp_path / "m.gguf"
    source.write_bytes(b"GGUF first weights")
    first = reencoded_gguf(source, "f32", into=tmp_path / "out")
    assert reencoded_gguf(source, "f32", into=tmp_path / "out") == first and len(converted) == 1
    stat = source.stat()
    time.sleep(0.05)  # a tick of the kernel's coarse file clock, so the change time moves
    source.write_bytes(b"GGUF other weights")  # same size, and (as cp -p would) the same time
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = reencoded_gguf(source, "f32", into=tmp_path / "out")
    assert second != first and converted == [str(source)] * 2
