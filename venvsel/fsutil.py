"""Small file-system helpers shared by the cache, repair and project pinning: atomic writes."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by venvsel.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)


def current_umask() -> int:
    """The process umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode(path: str | os.PathLike[str]) -> int:
    """The mode a file written at ``path`` should get: an existing file keeps its own, a new
    one gets what ``open()`` would give it (0666 less the umask)."""

    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new file, never half of one.

    The file gets the mode a plain ``open(path, "w")`` would give it (mkstemp's 0600 is for
    the temp name only): a new file follows the umask, a replaced file keeps its mode.
    """
    # only for writes: tempfile imports random and shutil, which a warm read never needs
    import tempfile

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = new_file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            else:  # pragma: no cover - Windows
                os.chmod(tmp, mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def list_dirs(paths: Iterable[str]) -> dict[str, list[os.DirEntry[str]]]:
    """One ``os.scandir`` per dir, for callers that each need the same listing (the trust
    rule and the cache fingerprint both look through every site-packages); a dir that
    cannot be listed is left out."""
    out: dict[str, list[os.DirEntry[str]]] = {}
    for path in paths:
        try:
            with os.scandir(path) as it:
                out[path] = list(it)
        except OSError:
            continue
    return out


def ensure_cache_dir(path: str | os.PathLike[str]) -> Path:
    """Create a cache dir with a CACHEDIR.TAG so backup tools skip it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tag = path / "CACHEDIR.TAG"
    if not tag.exists():
        with contextlib.suppress(OSError):
            atomic_write_text(tag, CACHEDIR_TAG)
    return path
