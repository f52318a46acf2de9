"""The repair journal and recovery: what a repair in progress has done to the user's env, so
that a repair killed at any point (even by SIGKILL) can be undone by the next
``venvsel repair ENV`` or ``venvsel repair --recover``.

A journal is a small JSON file written atomically in two places: the cache dir
(``repair/journals/<id>.json``) and next to the backup (``<backup>.journal.json``), so it is
found from either side. Recovery looks at the disk as much as at the recorded state: a
rename either happened or it did not, and the backup (the original files, moved or copied)
is what gets put back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from ..errors import OperationFailed, UsageError
from ..fsutil import atomic_write_text, ensure_cache_dir
from ..owners import state_dir_ok
from ..paths import cache_dir
from .plan import BACKUP_TAG, JOURNAL_SUFFIX, Mode, RepairState

FINISHED: tuple[RepairState, ...] = ("done", "restored")
_STATES: frozenset[str] = frozenset(get_args(RepairState))
ID_VAR = "VENVSEL_REPAIR_ID"  # set in every child of a repair, so stragglers can be found


def journal_dir() -> Path:
    return cache_dir() / "repair" / "journals"


def real_env_path(path: str) -> str:
    """The env's real path, as ``Env.path`` records it, even when the env dir is missing."""
    p = os.path.abspath(os.path.expanduser(path))
    return os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))


@dataclass
class Journal:
    id: str
    original: str
    backup: str
    mode: Mode  # "rebuild" | "in-place"
    state: RepairState = "started"
    pid: int = field(default_factory=os.getpid)
    started: float = field(default_factory=time.time)
    updated: float = 0.0
    log: str = ""
    reason: str = ""
    history: list[tuple[RepairState, float]] = field(default_factory=list)
    where: list[str] = field(default_factory=list)  # files it was read from / written to

    def to_json(self) -> dict[str, Any]:
        """The file's form (``where`` is not saved: it is where the file was found)."""
        return {"id": self.id, "original": self.original, "backup": self.backup,
                "mode": self.mode, "state": self.state, "pid": self.pid,
                "started": self.started, "updated": self.updated, "log": self.log,
                "reason": self.reason, "history": [[s, t] for s, t in self.history]}

    @classmethod
    def from_json(cls, d: Any) -> Journal:
        """A journal as saved (by this version or an older one); ValueError/TypeError/KeyError
        when it is not one."""
        mode, state = d["mode"], d.get("state", "started")
        if mode not in ("rebuild", "in-place"):
            raise ValueError(f"unknown repair mode {mode!r}")
        history: list[tuple[RepairState, float]] = []
        for s, t in d.get("history", ()):
            history.append((_state(s), float(t)))
        j = cls(str(d["id"]), str(d["original"]), str(d["backup"]), mode, _state(state),
                log=str(d.get("log", "")), reason=str(d.get("reason", "")), history=history)
        for key in ("pid", "started", "updated"):
            if key in d:
                value = d[key]
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise TypeError(f"{key} must be a number")
                setattr(j, key, int(value) if key == "pid" else float(value))
        return j

    @property
    def cache_file(self) -> Path:
        return journal_dir() / f"{self.id}.json"

    @property
    def sibling_file(self) -> str:
        return self.backup + JOURNAL_SUFFIX

    @property
    def trash(self) -> str:
        """Where a half-built env goes while the original is put back."""
        return f"{self.original}.venvsel-failed-{self.id}"

    def save(self) -> None:
        self.updated = time.time()
        text = json.dumps(self.to_json(), indent=1, sort_keys=True)
        ensure_cache_dir(journal_dir().parent.parent)
        atomic_write_text(self.cache_file, text)
        atomic_write_text(self.sibling_file, text)

    def set(self, state: RepairState, reason: str = "") -> None:
        self.state = state
        if reason:
            self.reason = reason
        self.history.append((state, time.time()))
        self.save()

    def forget_sibling(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.sibling_file)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Journal | None:
        try:
            with open(path, encoding="utf-8") as f:
                j = cls.from_json(json.load(f))
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None
        j.where = [str(path)]
        return j


def _state(value: Any) -> RepairState:
    if value not in _STATES:
        raise ValueError(f"unknown repair state {value!r}")
    state: RepairState = value
    return state


def _candidates(env_path: str | None) -> Iterator[Path]:
    if all(state_dir_ok(d, "cache") for d in (cache_dir(), journal_dir())):
        with contextlib.suppress(OSError):
            yield from sorted(journal_dir().glob("*.json"))
    if env_path:
        parent, name = os.path.split(env_path)
        with contextlib.suppress(OSError):
            for entry in sorted(os.listdir(parent)):
                if entry.startswith(name + BACKUP_TAG) and entry.endswith(JOURNAL_SUFFIX):
                    yield Path(parent, entry)


def pending(env_path: str | None = None) -> list[Journal]:
    """Unfinished repairs (of ``env_path``, or of any env), oldest first."""
    found: dict[str, Journal] = {}
    for path in _candidates(env_path):
        j = Journal.load(path)
        if j is None or j.state in FINISHED:
            continue
        if env_path and j.original != env_path:
            continue
        if j.id in found:
            found[j.id].where.append(str(path))
            # the newer of two copies wins (a kill between the two writes)
            if j.updated > found[j.id].updated:
                j.where = found[j.id].where
                found[j.id] = j
        else:
            found[j.id] = j
    return sorted(found.values(), key=lambda j: j.started)


# --------------------------------------------------------------------------- locking


@contextlib.contextmanager
def env_lock(env_path: str) -> Iterator[None]:
    """One repair per env at a time; a SIGKILLed holder releases it (flock)."""
    # third-party, slow to import (filelock 4 imports asyncio): only while a repair holds its lock
    from filelock import FileLock, Timeout

    locks = cache_dir() / "repair" / "locks"
    ensure_cache_dir(cache_dir())
    locks.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(env_path.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    lock = FileLock(str(locks / f"{key}.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise UsageError(f"another venvsel repair of {env_path} is running.",
                         hint="Wait for it to finish (or stop it), then run this again.") from None
    try:
        yield
    finally:
        lock.release()


# --------------------------------------------------------------------------- stragglers


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    # the state letter follows the ")" that closes the command name
    rest = stat.rsplit(b")", 1)[-1].split()
    return bool(rest) and rest[0] not in (b"Z", b"X")


def _carrying(needle: bytes, me: int) -> list[int]:
    """Live processes (not zombies) whose environment holds ``needle``."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    environ = f.read()
            except OSError:
                continue
            if needle in environ.split(b"\0") and _alive(int(entry)):
                found.append(int(entry))
    return found


def kill_stragglers(repair_id: str, wait: float = 15.0) -> int:
    """Kill the process groups of a repair's children that outlived it (a pip still writing
    into the env after venvsel was SIGKILLed), found by ``VENVSEL_REPAIR_ID`` in their
    environment. Linux only (/proc); elsewhere the children die with their parent's group.

    The scan is repeated until nothing carrying the id is left: a build tool such as ninja
    starts every compiler in a process group of its own, and can start new ones between a
    scan and the kill of its own group (seen on the H200: nvcc processes outlived one pass).
    Returns how many processes were killed.
    """
    if not repair_id or not os.path.isdir("/proc"):
        return 0
    needle = f"{ID_VAR}={repair_id}".encode()
    me, my_group = os.getpid(), os.getpgrp()
    killed: set[int] = set()
    deadline = time.monotonic() + wait
    while True:
        victims = _carrying(needle, me)
        if not victims:
            break
        for pid in victims:
            try:
                group = os.getpgid(pid)
                if group != my_group:
                    os.killpg(group, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        killed.update(victims)
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return len(killed)


# --------------------------------------------------------------------------- restore


def _rmtree(path: str) -> None:
    if os.path.islink(path) or os.path.isfile(path):
        with contextlib.suppress(OSError):
            os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)


def restore(j: Journal) -> str:
    """Put the original env back where it was; what was done, in words. Idempotent: running
    it again after a kill in the middle finishes the job."""
    kill_stragglers(j.id)
    orig, backup = j.original, j.backup
    if j.mode == "in-place" and j.state in ("started", "snapshotting"):
        # The env itself was not touched yet; a partial snapshot is just thrown away.
        _rmtree(backup)
        j.set("restored", j.reason)
        j.forget_sibling()
        return f"{orig} had not been changed yet; nothing to restore."
    if not os.path.lexists(backup):
        _rmtree(j.trash)
        if os.path.lexists(orig):
            j.set("restored", j.reason)
            j.forget_sibling()
            return f"{orig} is in place (it had not been moved, or was already put back)."
        j.set("restore-failed", "neither the env nor its backup exists")
        raise OperationFailed(
            f"cannot restore {orig}: neither it nor its backup {backup} exists.",
            hint=f"The journal is in {j.cache_file}.",
        )
    j.set("restoring", j.reason)
    if os.path.lexists(orig):
        _rmtree(j.trash)
        os.rename(orig, j.trash)
    os.rename(backup, orig)
    _rmtree(j.trash)
    j.set("restored", j.reason)
    j.forget_sibling()
    return f"restored {orig} from {backup}, exactly as it was."


def recover_pending(env_path: str | None, say: Callable[[str], None]) -> list[str]:
    """Restore every env an interrupted repair left in pieces (of ``env_path``, or all)."""
    messages: list[str] = []
    for j in pending(env_path):
        alive = j.pid != os.getpid() and _pid_alive(j.pid)
        state = j.state
        if env_path is None:
            # Without ENV the caller holds no lock: take this env's, or leave it alone.
            try:
                with env_lock(j.original):
                    msg = restore(j)
            except UsageError:
                messages.append(f"{j.original}: a repair is still running (pid {j.pid}); "
                                "left alone.")
                continue
        else:
            msg = restore(j)
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(j.started))
        text = (f"An interrupted repair of {j.original} (started {when}, "
                f"{'pid ' + str(j.pid) + ' still alive, ' if alive else ''}"
                f"stopped while {state}): {msg}")
        say(text)
        messages.append(text)
    return messages


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return _alive(pid) if os.path.isdir("/proc") else True


__all__ = [
    "ID_VAR",
    "Journal",
    "env_lock",
    "journal_dir",
    "kill_stragglers",
    "pending",
    "real_env_path",
    "recover_pending",
    "restore",
]
