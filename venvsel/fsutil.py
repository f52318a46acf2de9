"""Small file-system helpers shared by the cache, repair and project pinning: atomic writes."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by venvsel.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new file, never half of one."""
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def ensure_cache_dir(path: str | os.PathLike[str]) -> Path:
    """Create a cache dir with a CACHEDIR.TAG so backup tools skip it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tag = path / "CACHEDIR.TAG"
    if not tag.exists():
        with contextlib.suppress(OSError):
            atomic_write_text(tag, CACHEDIR_TAG)
    return path
