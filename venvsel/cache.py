"""The capability cache: one SQLite database of entries, one per env, each valid while the
env's and the machine's fingerprints are unchanged, so a warm ``pick``/``activate`` spawns
nothing.

The store is ``paths.cache_dir()/envs-<host>.sqlite3`` (stdlib ``sqlite3``, WAL journal): one
file, and one transaction per scan however many envs it writes. One file per host because
the entries are keyed by the host's driver fingerprint anyway, and SQLite's WAL must not be
shared by processes of two machines (a cluster's NFS home). Guarantees:

- Readers take no lock and never wait for a writer (WAL); a reader sees a whole transaction
  or none of it. A warm read imports nothing but ``sqlite3`` (no lock library).
- Writers wait for each other (``busy_timeout``); a process killed mid-write leaves the last
  committed state (SQLite rolls the torn transaction back on the next open).
- A corrupt or truncated database is one warning, then deleted and rebuilt (under a lock, so
  that concurrent processes rebuild it once); a corrupt entry is one warning and dropped.
- ``PRAGMA user_version`` is the schema version: a database of another version is a miss
  for readers and is rebuilt, quietly, by the next writer.
- An unwritable or unreadable cache is one warning, never a crash; ``sqlite3`` missing from
  the interpreter (some source builds) turns the cache off with one warning.

Entries are stored as their JSON (:meth:`CacheEntry.to_json`) beside the columns that are
looked up, so a field added to :class:`CacheEntry` needs no change to the table.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import paths, render
from .discover import find_site_packages
from .fsutil import ensure_cache_dir
from .model import Env, ProbeResult, StaticInfo, to_json
from .owners import state_dir_ok
from .record import frozen

try:
    import sqlite3
except ImportError:  # a Python built without it: venvsel runs and remembers nothing (_run)
    sqlite3 = None  # type: ignore[assignment]

try:  # the builtin sha256: `import hashlib` loads OpenSSL (~2 ms of a warm pick)
    from _sha2 import sha256 as _sha256  # type: ignore[import-not-found, unused-ignore]
except ImportError:
    try:
        from _sha256 import sha256 as _sha256  # type: ignore[import-not-found, no-redef, unused-ignore]
    except ImportError:
        from hashlib import sha256 as _sha256  # type: ignore[assignment, unused-ignore]

SCHEMA = 2  # 1 was one JSON file per env
BUSY_TIMEOUT = 10.0  # seconds a writer waits for another writer's transaction
LEGACY_DIR = "envs"  # schema 1's directory of JSON files, removed by `cache clear`

# Dist-info dirs whose change (install, upgrade, reinstall) can change what a probe says.
_WATCHED_PREFIXES = ("torch", "llama_cpp", "nvidia")

_TABLE = (
    "CREATE TABLE entries (path BLOB PRIMARY KEY, env_fp TEXT NOT NULL, "
    "machine_fp TEXT NOT NULL, written REAL NOT NULL, data TEXT NOT NULL)"
)

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
    # The locator's list; when it left them out, discovery's rule for finding them.
    return list(env.site_packages or find_site_packages(env.path, env.layout))


def env_fingerprint(env: Env, realpath: Any = os.path.realpath,
                    listings: Mapping[str, list[os.DirEntry[str]]] | None = None) -> str:
    """A cheap, stat-only digest that changes when anything a probe depends on changes.

    Interpreter (real path, mtime, size), pyvenv.cfg, conda-meta, every site-packages dir's
    mtime (pip install/uninstall changes it) and the torch*/llama_cpp*/nvidia* dist-info dirs
    (an in-place reinstall of the same names). No file contents read, nothing spawned.
    ``realpath`` may be a memoised resolver (see :class:`venvsel.discover.RealPaths`);
    ``listings``: site-packages listings already taken (fsutil.list_dirs), reused.
    """
    parts = [f"path={env.path}"]
    if env.interpreter:
        real = realpath(env.interpreter)
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
            if listings is not None and sp in listings:
                entries: Iterable[os.DirEntry[str]] = listings[sp]
            else:
                with os.scandir(sp) as it:
                    entries = list(it)
            watched = sorted(
                (e.name, e.stat(follow_symlinks=False).st_mtime_ns) for e in entries
                if e.name.endswith((".dist-info", ".egg-info"))
                and e.name.lower().startswith(_WATCHED_PREFIXES)
            )
        except OSError:
            continue
        parts += [f"di:{name}={mtime}" for name, mtime in watched]
    digest: str = _sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()
    return digest


# --------------------------------------------------------------------------- entries


@frozen
class CacheEntry:
    """What is remembered of one env, valid while both fingerprints hold."""

    path: str  # the env's real path
    env_fingerprint: str
    machine_fingerprint: str
    static: StaticInfo
    probe: ProbeResult | None
    written: float  # time.time() when written
    owner_uid: int | None = None  # the env dir's owner when written (trust: a chown is a miss)

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
            owner_uid=d["owner_uid"] if isinstance(d.get("owner_uid"), int) else None,
        )


def _key(path: str) -> bytes:
    """The row key: the env's real path as the bytes the file system holds."""
    return os.fsencode(path)


def _parse(raw: object) -> CacheEntry:
    """The entry a row's ``data`` holds; ValueError (and friends) when it is not one."""
    data = json.loads(raw if isinstance(raw, (str, bytes)) else "")
    if not isinstance(data, dict):
        raise TypeError("not a JSON object")
    return CacheEntry.from_json(data)


def _db_name() -> str:
    host = os.uname().nodename if hasattr(os, "uname") else os.environ.get("COMPUTERNAME", "")
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in host)
    return f"envs-{safe or 'local'}.sqlite3"


class _Unusable(Exception):
    """The database cannot be opened or used right now (reason in the message)."""


def _corrupt(exc: BaseException) -> bool:
    """A DatabaseError that says the file is damaged (not locked, not unwritable)."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
    if isinstance(code, int):
        return code & 0xFF in (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


class Cache:
    """The on-disk store. Cheap to create: nothing touches the disk until it is used."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self._root = os.fspath(root) if root is not None else paths.cache_dir_str()
        self._file = os.path.join(self._root, _db_name())
        self._conn: sqlite3.Connection | None = None
        self._ready = False  # this connection saw the table of this SCHEMA
        self._writer = False  # ... and is set up for writing
        self._off = False  # sqlite3 is missing: no cache in this process

    @property
    def root(self) -> Path:
        """The cache dir that holds the database."""
        return Path(self._root)

    @property
    def file(self) -> Path:
        """The database file."""
        return Path(self._file)

    # -- the connection

    def _connect(self, *, create: bool) -> sqlite3.Connection | None:
        """The open connection; None when there is no database and ``create`` is False."""
        if self._conn is not None:
            return self._conn

        if not create and not os.path.exists(self._file):
            return None
        if create:
            try:
                ensure_cache_dir(self._root)
            except OSError as exc:
                raise _Unusable(exc.strerror or str(exc)) from exc
        try:
            conn = sqlite3.connect(self._file, timeout=BUSY_TIMEOUT, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise _Unusable(str(exc)) from exc
        self._conn = conn
        return conn

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn, self._ready, self._writer = None, False, False

    def close(self) -> None:
        """Close the database (also done when the process exits)."""
        self._close()

    def _version(self, conn: sqlite3.Connection) -> int:
        version = int(conn.execute("PRAGMA user_version").fetchall()[0][0])
        if version == 0:
            # SQLite reads a file too short to hold its first page as an empty database:
            # that is a new one only when it is empty, else what is left of a damaged one.
            # (Never open() the file here: closing any descriptor of it drops every lock
            # SQLite holds on it in this process.)
            try:
                size = os.stat(self._file).st_size
            except OSError:
                size = 0
            if 0 < size < 512:
                raise sqlite3.DatabaseError("file is not a database (too short)")
        return version

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """WAL journal and the table of this SCHEMA; another version's table is replaced."""
        if self._writer:
            return
        if not self._ready and self._version(conn) != SCHEMA:
            if conn.execute("PRAGMA journal_mode").fetchall()[0][0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                if self._version(conn) != SCHEMA:  # another process may have done it
                    conn.execute("DROP TABLE IF EXISTS entries")
                    conn.execute(_TABLE)
                    conn.execute(f"PRAGMA user_version = {SCHEMA}")
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.execute("ROLLBACK")
                raise
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL: durable across crashes, fewer fsyncs
        self._ready = self._writer = True

    def _rebuild(self, exc: BaseException) -> None:
        """Delete the damaged database (once, whoever sees it first) so it is made anew."""
        _warn_once("corrupt", f"the cache database {self.file} is damaged ({exc}); "
                   "deleted it, it will be rebuilt")
        self._close()
        try:
            # third-party, slow to import (filelock 4 imports asyncio): only to migrate an old cache
            from filelock import FileLock

            seen = os.stat(self.file)
            with FileLock(str(self.root / f".{self.file.name}.lock"), timeout=BUSY_TIMEOUT):
                now = os.stat(self.file)
                if (now.st_ino, now.st_dev) != (seen.st_ino, seen.st_dev):
                    return  # another process rebuilt it meanwhile
                try:
                    conn = sqlite3.connect(self._file, timeout=BUSY_TIMEOUT)
                    try:
                        conn.execute("PRAGMA user_version").fetchone()
                        ok = conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
                    finally:
                        conn.close()
                except sqlite3.DatabaseError:
                    ok = False
                if ok:
                    return
                for suffix in ("", "-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(str(self.file) + suffix)
        except Exception:  # the cache must never break the command
            pass

    def _run(self, what: str, op: Any, *, create: bool, default: Any) -> Any:
        """Run ``op(conn)``; a damaged database is rebuilt and ``op`` tried once more; other
        failures are one warning and ``default``. A cache dir that someone else owns or
        group/others can write is neither read nor written (trust.py; one warning says why):
        a poisoned cache must not steer ``pick``."""

        if not state_dir_ok(self._root, "cache"):
            return default
        if sqlite3 is None:
            self._off = True
            _warn_once("nosqlite", "this Python has no sqlite3 module; results will not be "
                       "remembered between runs")
            return default
        for attempt in (1, 2):
            try:
                conn = self._connect(create=create)
                if conn is None:
                    return default
                if create:
                    self._prepare(conn)
                elif not self._ready:
                    if self._version(conn) != SCHEMA:
                        return default  # empty, or another version's: nothing to read
                    self._ready = True
                return op(conn)
            except _Unusable as exc:
                self._warn_unusable(what, str(exc))
                return default
            except sqlite3.DatabaseError as exc:
                if _corrupt(exc) and attempt == 1:
                    self._rebuild(exc)
                    continue
                self._close()
                self._warn_unusable(what, str(exc))
                return default
        return default  # pragma: no cover - the loop always returns

    def _warn_unusable(self, what: str, detail: str) -> None:
        if what == "write":
            _warn_once("unwritable", f"cannot write the cache {self.file}: {detail}; "
                       "results will not be remembered")
        else:
            _warn_once("unreadable", f"cannot read the cache {self.file}: {detail}; "
                       "ignoring it")

    # -- reading

    def _load(self, conn: sqlite3.Connection, path: str) -> CacheEntry | None:
        rows = conn.execute("SELECT data FROM entries WHERE path = ?", (_key(path),)).fetchall()
        if not rows:
            return None
        try:
            return _parse(rows[0][0])
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self._drop(path, exc)
            return None

    def _drop(self, path: str, exc: BaseException) -> None:
        _warn_once("corrupt-entry", f"the cache entry for {path} is corrupt ({exc}); "
                   "dropped it (it will be rebuilt)")

        def op(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM entries WHERE path = ?", (_key(path),))

        self._run("write", op, create=True, default=None)

    def get(self, env: Env, *, env_fp: str, machine_fp: str,
            owner_uid: int | None = None) -> CacheEntry | None:
        """The entry for ``env`` if it is still valid for these fingerprints (and, when
        ``owner_uid`` is given, was written while the env had that owner), else None."""
        entry: CacheEntry | None = self._run(
            "read", lambda conn: self._load(conn, env.path), create=False, default=None
        )
        if entry is None:
            return None
        if (entry.path != env.path or entry.env_fingerprint != env_fp
                or entry.machine_fingerprint != machine_fp):
            return None
        if owner_uid is not None and entry.owner_uid != owner_uid:
            return None
        return entry

    def entries(self) -> list[CacheEntry]:
        """Every readable entry, whatever its fingerprints (the caller judges freshness)."""

        def op(conn: sqlite3.Connection) -> list[tuple[bytes, str]]:
            return conn.execute("SELECT path, data FROM entries ORDER BY path").fetchall()

        out = []
        rows: list[tuple[bytes, str]] = self._run("read", op, create=False, default=[])
        for path, raw in rows:
            try:
                out.append(_parse(raw))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                self._drop(os.fsdecode(path), exc)
        return out

    # -- writing

    def put(self, entry: CacheEntry) -> None:
        """Store ``entry``. A cache that cannot be written is warned about once."""
        self.put_many([entry])

    def put_many(self, entries: Iterable[CacheEntry]) -> None:
        """Store every entry in one transaction (a scan writes all it learnt at once)."""
        rows = [(_key(e.path), e.env_fingerprint, e.machine_fingerprint, e.written,
                 json.dumps(e.to_json(), sort_keys=True)) for e in entries]
        if not rows:
            return

        def op(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?)", rows)
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.execute("ROLLBACK")
                raise

        self._run("write", op, create=True, default=None)

    # -- housekeeping

    def _bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                total += os.stat(str(self.file) + suffix).st_size
        return total

    def info(self) -> dict[str, Any]:
        """dir, file, count, bytes, oldest/newest (epoch seconds, None when empty), schema."""

        def op(conn: sqlite3.Connection) -> tuple[int, float | None, float | None]:
            row = conn.execute("SELECT COUNT(*), MIN(written), MAX(written) FROM entries")
            count, oldest, newest = row.fetchall()[0]
            return int(count), oldest, newest

        count, oldest, newest = self._run("read", op, create=False, default=(0, None, None))
        return {
            "dir": str(self.root),
            "file": str(self.file),
            "schema": SCHEMA,
            "count": count,
            "bytes": self._bytes() if count else 0,
            "oldest": oldest,
            "newest": newest,
        }

    def clear(self) -> int:
        """Delete every entry (and the JSON files of schema 1); returns the entries deleted."""

        def op(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            try:
                removed = conn.execute("DELETE FROM entries").rowcount
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.execute("ROLLBACK")
                raise
            with contextlib.suppress(Exception):
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return int(removed)

        exists = self.file.exists()
        removed: int = self._run("write", op, create=True, default=0) if exists else 0
        legacy = self.root / LEGACY_DIR
        if legacy.is_dir():
            import shutil  # only for clearing the cache; a warm pick never loads shutil

            shutil.rmtree(legacy, ignore_errors=True)
        return removed


def new_entry(env: Env, *, env_fp: str, machine_fp: str, static: StaticInfo,
              probe: ProbeResult | None, owner_uid: int | None = None) -> CacheEntry:
    """A CacheEntry stamped with the current time (the one way entries are made)."""
    return CacheEntry(path=env.path, env_fingerprint=env_fp, machine_fingerprint=machine_fp,
                      static=static, probe=probe, written=time.time(), owner_uid=owner_uid)


__all__ = ["SCHEMA", "Cache", "CacheEntry", "env_fingerprint", "new_entry"]
