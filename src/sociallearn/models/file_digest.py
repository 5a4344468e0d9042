"""The content of a local model file or directory, as a short digest: part of what a cached
answer is for.

A model is named by its path, and results and cache keys by its file name; a file replaced at
the same path (another quantisation, a fine-tune, an updated package) would otherwise be served
the old file's cached answers and resume the old file's run. Hashing reads the whole file
(about 1 GB/s here: half a second for a 0.5B Q4 model); a process hashes each file once while
its size, inode and times stay the same. A transformers model directory is hashed by its
top-level files (their names and digests): what ``from_pretrained`` reads.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from sociallearn.errors import UserError

_CHUNK = 1 << 20
_known: dict[tuple[str, int, int, int, int], str] = {}
_lock = threading.Lock()


def file_digest(path: Path) -> str:
    """The first 16 hex digits of the SHA-256 of ``path``'s bytes."""
    try:
        stat = path.stat()
        # The change time too: a copy over the file that keeps its size and sets its old
        # modification time (cp -p) still moves it.
        memo = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        with _lock:
            if memo in _known:
                return _known[memo]
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise UserError(f"{path}: cannot read the model file ({exc.strerror or exc})") from exc
    value = digest.hexdigest()[:16]
    with _lock:
        _known[memo] = value
    return value


def model_digest(path: Path) -> str:
    """The content digest of a model file, or of a model directory's top-level files.

    A directory's digest covers each regular top-level file's name and bytes (config, tokenizer,
    weights); subfolders and hidden files are left out, as ``from_pretrained`` does not read
    them (a checkpoint's ``original/`` copy of the weights, ``.git``, ``.cache``).
    """
    if not path.is_dir():
        return file_digest(path)
    try:
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError as exc:
        raise UserError(f"{path}: cannot read the model directory ({exc.strerror or exc})") from exc
    if not files:
        raise UserError(f"{path}: the model directory holds no files")
    digest = hashlib.sha256()
    for file in files:
        digest.update(f"{file.name}\0{file_digest(file)}\n".encode())
    return digest.hexdigest()[:16]
