"""The content of a local model file, as a short digest: part of what a cached answer is for.

A model is named by its path, and results and cache keys by its file name; a file replaced at
the same path (another quantisation, a fine-tune, an updated package) would otherwise be served
the old file's cached answers and resume the old file's run. Hashing reads the whole file
(about 1 GB/s here: half a second for a 0.5B Q4 model); a process hashes each file once while
its size, inode and times stay the same.
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
