"""The capability cache: one JSON entry per env, valid while the env's and the machine's
fingerprints are unchanged, so a warm ``pick``/``activate`` spawns nothing.

Entries live in ``paths.cache_dir()/envs/<sha256 of the env's real path>.json`` with a schema
version. Writes are atomic (temp file + ``os.replace``) under a per-entry file lock; reads
take no lock (a reader sees the old or the new file, never half of one). A corrupt entry is
a miss with one warning and is deleted; an unwritable cache dir is one warning, never a crash.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import paths, render
from .model import Env, ProbeResult, StaticInfo, to_json

SCHEMA = 1
LOCK_TIMEOUT = 10.0  # seconds; a writer holds the lock for one small write
ENTRY_SUFFIX = ".json"

# Dist-info dirs whose change (install, upgrade, reinstall) can change what a probe says.
_WATCHED_PREFIXES = ("torch", "llama_cpp", "nvidia")

_warned: set[str] = set()  # kinds of warning already given by this process


def _warn_once(kind: str, message: str) -> None:
    if kind not in _warned:
        _warned.add(kind)
        render.warn(message)


# --------------------------------------------------------------------------- fingerprints


def _stat_part(label: str, path: str | os.PathLike[str]) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return f"{label}=missing"
    return f"{label}={st.st_mtime_ns}:{st.st_size}"


def _site_packages(env: Env) -> list[str]:
    if env.site_packages:
        return list(env.site_packages)
    # The locator left them out: the usual places, found with one listdir.
    found = [os.path.join(env.path, "Lib", "site-packages")]
    lib = os.path.join(env.path, "lib")
    with contextlib.suppress(OSError):
        found += [os.path.join(lib, d, "site-packages") for d in sorted(os.listdir(lib))
                  if d.startswith(("python", "pypy"))]
    return [p for p in found if os.path.isdir(p)]


def env_fingerprint(env: Env) -> str:
    """A cheap, stat-only digest that changes when anything a probe depends on changes.

    Interpreter (real path, mtime, size), pyvenv.cfg, conda-meta, every site-packages dir's
    mtime (pip install/uninstall changes it) and the torch*/llama_cpp*/nvidia* dist-info dirs
    (an in-place reinstall of the same names). No file contents read, nothing spawned.
    """
    parts = [f"path={env.path}"]
    if env.interpreter:
        real = os.path.realpath(env.interpreter)
        parts += [f"exe={real}", _stat_part("exe", real)]
    else:
        parts.append("exe=none")
    parts.append(_stat_part("cfg", os.path.join(env.path, "pyvenv.cfg")))
    conda_meta = os.path.join(env.path, "conda-meta")
    if os.path.isdir(conda_meta):
        parts.append(_stat_part("conda", conda_meta))
    for sp in _site_packages(env):
        parts.append(_stat_part(f"sp:{sp}", sp))
        try:
            with os.scandir(sp) as it:
                watched = sorted(
                    (e.name, e.stat(follow_symlinks=False).st_mtime_ns) for e in it
                    if e.name.endswith((".dist-info", ".egg-info"))
                    and e.name.lower().startswith(_WATCHED_PREFIXES)
                )
        except OSError:
            continue
        parts += [f"di:{name}={mtime}" for name, mtime in watched]
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def entry_key(env_path: str) -> str:
    """The entry's file stem: sha256 of the env's real path."""
    return hashlib.sha256(
        os.path.realpath(env_path).encode("utf-8", "surrogateescape")
    ).hexdigest()


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class CacheEntry:
    path: str  # the env's real path
    env_fingerprint: str
    machine_fingerprint: str
    static: StaticInfo
    probe: ProbeResult | None
    written: float  # time.time() when written

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, **to_json(self)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CacheEntry:
        return cls(
            path=str(d["path"]),
            env_fingerprint=str(d["env_fingerprint"]),
            machine_fingerprint=str(d["machine_fingerprint"]),
            static=StaticInfo.from_json(d["static"]),
            probe=ProbeResult.from_json(d["probe"]) if d.get("probe") else None,
            written=float(d["written"]),
        )


class _Corrupt(Exception):
    pass


class Cache:
    """The on-disk store. Cheap to create: nothing touches the disk until it is used."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else paths.cache_dir() / "envs"

    # -- paths

    def file_for(self, env_path: str) -> Path:
        return self.root / (entry_key(env_path) + ENTRY_SUFFIX)

    def _lock_for(self, file: Path) -> Path:
        return self.root / "locks" / (file.stem + ".lock")

    def _entry_files(self) -> list[Path]:
        try:
            with os.scandir(self.root) as it:
                return sorted(Path(e.path) for e in it
                              if e.name.endswith(ENTRY_SUFFIX) and not e.name.startswith("."))
        except OSError:
            return []

    # -- reading

    def _load(self, file: Path) -> CacheEntry | None:
        """The entry in ``file``; None when missing or of another schema; _Corrupt if bad."""
        try:
            raw = file.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            _warn_once("unreadable", f"cannot read cache entry {file}: {exc.strerror or exc}; "
                       "ignoring the cache for it")
            return None
        try:
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            if data.get("schema") != SCHEMA:
                return None  # another venvsel version's entry: a miss, overwritten on put
            return CacheEntry.from_json(data)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise _Corrupt(str(exc)) from exc

    def _read(self, file: Path) -> CacheEntry | None:
        try:
            return self._load(file)
        except _Corrupt:
            self._drop_corrupt(file)
            return None

    def _drop_corrupt(self, file: Path) -> None:
        _warn_once("corrupt", f"cache entry {file} is corrupt; deleted it (it will be rebuilt)")
        try:
            from filelock import FileLock

            lock = self._lock_for(file)
            lock.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(str(lock), timeout=LOCK_TIMEOUT):
                # A writer may have replaced it with a good entry meanwhile: keep that one.
                try:
                    self._load(file)
                except _Corrupt:
                    file.unlink()
        except Exception:  # the cache must never break the command
            pass

    def get(self, env: Env, *, env_fp: str, machine_fp: str) -> CacheEntry | None:
        """The entry for ``env`` if it is still valid for these fingerprints, else None."""
        entry = self._read(self.file_for(env.path))
        if entry is None:
            return None
        if (entry.path != env.path or entry.env_fingerprint != env_fp
                or entry.machine_fingerprint != machine_fp):
            return None
        return entry

    def entries(self) -> list[CacheEntry]:
        """Every readable entry, whatever its fingerprints (the caller judges freshness)."""
        out = []
        for file in self._entry_files():
            entry = self._read(file)
            if entry is not None:
                out.append(entry)
        return out

    # -- writing

    def put(self, entry: CacheEntry) -> None:
        """Store ``entry`` atomically. A cache that cannot be written is warned about once."""
        from filelock import FileLock, Timeout

        from .fsutil import atomic_write_text, ensure_cache_dir

        file = self.file_for(entry.path)
        try:
            ensure_cache_dir(self.root)
            lock = self._lock_for(file)
            lock.parent.mkdir(exist_ok=True)
            with FileLock(str(lock), timeout=LOCK_TIMEOUT):
                atomic_write_text(file, json.dumps(entry.to_json(), indent=1, sort_keys=True))
        except (OSError, Timeout) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            _warn_once("unwritable", f"cannot write the cache in {self.root}: {detail}; "
                       "results will not be remembered")

    # -- housekeeping

    def info(self) -> dict[str, Any]:
        """dir, count, bytes, oldest/newest (epoch seconds, None when empty), schema."""
        sizes: list[int] = []
        times: list[float] = []
        for file in self._entry_files():
            try:
                st = file.stat()
            except OSError:
                continue
            sizes.append(st.st_size)
            times.append(st.st_mtime)
        return {
            "dir": str(self.root),
            "schema": SCHEMA,
            "count": len(sizes),
            "bytes": sum(sizes),
            "oldest": min(times) if times else None,
            "newest": max(times) if times else None,
        }

    def clear(self) -> int:
        """Delete every entry (and stray temp and lock files); returns the entries deleted."""
        removed = 0
        for file in self._entry_files():
            try:
                file.unlink()
                removed += 1
            except FileNotFoundError:
                pass
        with contextlib.suppress(OSError), os.scandir(self.root) as it:
            for e in it:
                if e.name.startswith(".") and e.name.endswith(".tmp"):
                    with contextlib.suppress(OSError):
                        os.unlink(e.path)
        locks = self.root / "locks"
        with contextlib.suppress(OSError), os.scandir(locks) as it:
            for e in it:
                with contextlib.suppress(OSError):
                    os.unlink(e.path)
        return removed


def new_entry(env: Env, *, env_fp: str, machine_fp: str, static: StaticInfo,
              probe: ProbeResult | None) -> CacheEntry:
    """A CacheEntry stamped with the current time."""
    return CacheEntry(path=env.path, env_fingerprint=env_fp, machine_fingerprint=machine_fp,
                      static=static, probe=probe, written=time.time())


__all__ = ["SCHEMA", "Cache", "CacheEntry", "entry_key", "env_fingerprint", "new_entry"]
