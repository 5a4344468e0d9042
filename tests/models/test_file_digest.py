"""The content digest of a local model file: the bytes, not the path or the name."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from sociallearn.errors import UserError
from sociallearn.models.file_digest import file_digest, model_digest


def test_the_digest_is_the_files_sha256_and_follows_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF" + bytes(range(256)) * 5000)
    assert file_digest(path) == hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    before = file_digest(path)
    stat = path.stat()
    # Replaced by a file of the same size (and, with cp -p, the same time): the inode differs.
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF" + bytes(reversed(range(256))) * 5000)
    os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    other.replace(path)
    assert file_digest(path) != before
    assert file_digest(path) == hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    # Written over in place, its size and modification time kept: the change time moves (after
    # a clock tick: the kernel's file times are coarse, a few milliseconds).
    time.sleep(0.05)
    stat = path.stat()
    path.write_bytes(b"GGUF" + bytes(range(256)) * 5000)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert file_digest(path) == before


def test_an_unreadable_model_file_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"missing.gguf: cannot read the model file"):
        file_digest(tmp_path / "missing.gguf")


def test_a_directory_is_hashed_by_its_top_level_files(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"weights")
    before = model_digest(model)
    assert model_digest(model / "config.json") == file_digest(model / "config.json")
    (model / "nested").mkdir()
    (model / "nested" / "extra.bin").write_bytes(b"not read by from_pretrained")
    (model / ".cache").mkdir()
    (model / ".hidden").write_text("x")
    assert model_digest(model) == before
    # A file renamed (the same bytes under another name) is another model directory.
    (model / "model.safetensors").rename(model / "pytorch_model.safetensors")
    assert model_digest(model) != before
    (model / "pytorch_model.safetensors").rename(model / "model.safetensors")
    assert model_digest(model) == before
    # A link to the same bytes (how the hub cache lays out a snapshot) hashes the same.
    linked = tmp_path / "snapshot"
    linked.mkdir()
    for name in ("config.json", "model.safetensors"):
        (linked / name).symlink_to(model / name)
    assert model_digest(linked) == before


def test_an_empty_model_directory_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"the model directory holds no files"):
        model_digest(tmp_path)
