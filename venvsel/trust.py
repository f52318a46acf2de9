"""Trust: an env that was found is not an env that may be run.

THE RULE (written here once; README "Trust" says the same in prose). Before venvsel starts
any process of an env on its own — a live probe, the bench worker, ``venvsel run`` — and
before it chooses an env for ``pick``/``activate``/``use``, the env must be *trusted*: each
path below must be owned by an allowed owner and must not be writable by group or others.

Allowed owners: the effective user, root, and — when running as root through sudo — the
invoking user (``SUDO_UID``), as git's ``safe.directory`` check does.

Checked paths, all of them the env's own:

1. the env dir;
2. the dir that holds the interpreter (``bin/``: activation and ``venvsel run`` put it first
   on PATH, so whoever can write there chooses what a command name runs);
3. the interpreter: every symlink on its way (a link's owner counts; its own mode means
   nothing) and the file it finally names;
4. each of the env's site-packages dirs;
5. every file Python runs from them at start-up: ``*.pth`` (their ``import`` lines run),
   ``sitecustomize.py`` and ``usercustomize.py`` (or such a package and its
   ``__init__.py``), links followed as in 3.

"Writable by group" has one exception, the one Debian's OpenSSH makes for StrictModes: a
group whose only member is the path's owner (a user-private group, which umask 002 on
Debian/Ubuntu gives every file a user makes) cannot let anyone else write.

How: ``os.lstat`` (plus ``os.readlink`` along links) and one directory listing per
site-packages — no process is started and no file is read. Paths above the env dir
(``/tmp``, ``$HOME``) are not checked: they are where envs live, not part of one.

What it leaves out, on purpose (each check is a stat call on every env of every scan): the
other dirs between the env dir and the checked paths (``lib/``, ``lib/pythonX.Y/``; someone who
owned one could swap a checked file between the check and the start, but only a trusted
owner can have given it to them, since the env dir is not writable by others), and modules
that a trusted ``.pth`` imports (they sit in a site-packages that only its owner can write).

An env the rule rejects is still discovered and inspected from its files (reading is
safe); it is shown with the reason, never probed, never chosen. ``venvsel trust PATH``
makes an exception: it records the env's owner and a fingerprint of every checked path's
stats (uid, gid, mode, device, inode); the exception lapses as soon as any of them changes
(a new ``.pth`` file, a chown, a chmod), as ``direnv allow`` lapses when ``.envrc`` changes.

venvsel's own state dirs (cache, config, log) obey the same owner/mode rule, or are not read:
see :func:`state_dir_ok`.

On Windows there are no POSIX owners and modes; every env passes the rule there.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .discover import env_from_path
from .errors import UsageError
from .fsutil import atomic_write_text
from .model import Env, Trust
from .owners import (
    _POSIX,
    Problem,
    _problem,
    allowed_owners,
    owner_words,
    private_group,
    state_dir_ok,
    state_dir_problem,
)
from .paths import config_dir
from .record import frozen

STORE_FILE = "trusted.json"
STORE_SCHEMA = 1
START_UP_FILES = ("sitecustomize.py", "usercustomize.py")
START_UP_PACKAGES = ("sitecustomize", "usercustomize")
_MAX_HOPS = 40  # symlinks followed before calling it a loop



# --------------------------------------------------------------------------- the checked paths


# A visitor sees each checked path with its lstat result (None: it could not be stat'ed,
# ``error`` says why) and returns True to stop the walk (the first problem ends a check).
_Visit = Callable[[str, "os.stat_result | None", "str | None"], bool]
_Listings = Mapping[str, "list[os.DirEntry[str]]"]

# lstat/readlink answers for paths outside the env (the base interpreter that every venv
# links to), kept for this process: a scan of 1,000 envs asks for the same file 1,000 times.
_outside: dict[str, tuple[os.stat_result | None, str | None]] = {}


def _lstat(path: str, inside: bool) -> tuple[os.stat_result | None, str | None]:
    """(stat, None), or (None, why) when it cannot be checked, or (None, None) if absent."""
    if not inside and path in _outside:
        return _outside[path]
    try:
        answer: tuple[os.stat_result | None, str | None] = (os.lstat(path), None)
    except FileNotFoundError:
        answer = (None, None)
    except OSError as exc:
        answer = (None, f"cannot check {path}: {exc.strerror or exc}")
    if not inside:
        _outside[path] = answer
    return answer


def _readlink(path: str, inside: bool) -> str | None:
    key = "->" + path
    if not inside and key in _outside:
        return _outside[key][1]
    try:
        target: str | None = os.readlink(path)
    except OSError:
        target = None
    if not inside:
        _outside[key] = (None, target)
    return target


def _chain(path: str, prefix: str, visit: _Visit) -> bool:
    """Visit ``path`` and, when it is a symlink, every hop to the file it finally names."""
    cur = path
    for _ in range(_MAX_HOPS):
        inside = cur.startswith(prefix)
        st, error = _lstat(cur, inside)
        if st is None:
            return error is not None and visit(cur, None, error)
        if visit(cur, st, None):
            return True
        if not stat.S_ISLNK(st.st_mode):
            return False
        target = _readlink(cur, inside)
        if target is None:
            return False
        cur = os.path.normpath(os.path.join(os.path.dirname(cur), target))
    return visit(path, None, f"{path} is a symlink loop")


def _walk(env: Env, visit: _Visit, listings: _Listings | None = None) -> bool:
    """Every path the rule looks at, in order; True when ``visit`` stopped the walk.
    ``listings``: site-packages listings already taken (fsutil.list_dirs), reused."""
    root = env.path
    prefix = root + os.sep
    st, error = _lstat(root, True)
    if (st is not None or error is not None) and visit(root, st, error):
        return True
    interpreter = env.interpreter
    if interpreter and interpreter.startswith(prefix):
        bin_dir = os.path.dirname(interpreter)  # activation and `run` put it first on PATH
        if bin_dir != root and _chain(bin_dir, prefix, visit):
            return True
    if interpreter and _chain(interpreter, prefix, visit):
        return True
    for sp in env.site_packages:
        if _chain(sp, prefix, visit):
            return True
        if listings is not None:
            if sp not in listings:
                continue  # it could not be listed
            entries: Iterable[os.DirEntry[str]] = listings[sp]
        else:
            try:
                with os.scandir(sp) as it:
                    entries = list(it)
            except OSError:
                continue
        names = [e.name for e in entries if e.name.endswith(".pth")
                 or e.name in START_UP_FILES or e.name in START_UP_PACKAGES]
        for name in sorted(names):
            path = os.path.join(sp, name)
            if _chain(path, prefix, visit):
                return True
            if name in START_UP_PACKAGES and _chain(os.path.join(path, "__init__.py"), prefix,
                                                     visit):
                return True
    return False


def _label_for(path: str, env: Env) -> str:
    """How a reason names a path: "" (the env dir), "bin/python", "site-packages/x.pth"."""
    sps = env.site_packages
    if len(sps) == 1:
        sp = sps[0]
        if path == sp:
            return "site-packages"
        if path.startswith(sp + os.sep):
            return "site-packages" + path[len(sp):]
    if path == env.path:
        return ""
    if path.startswith(env.path + os.sep):
        return path[len(env.path) + 1:]
    return f"{path} (a link's target)"


def rule_problem(env: Env) -> Problem | None:
    """The first way ``env`` breaks the rule; None when it passes."""
    return _judge(env)[0]


def _judge(env: Env, listings: _Listings | None = None) -> tuple[Problem | None, int | None]:
    """(the first problem or None, the env dir's owner) in one walk."""
    if not _POSIX:
        return None, None
    owners = allowed_owners()
    found: list[Problem] = []
    owner: list[int] = []

    def visit(path: str, st: os.stat_result | None, error: str | None) -> bool:
        if st is None:
            found.append(Problem(error or f"cannot check {path}", path))
            return True
        if not owner:
            owner.append(st.st_uid)  # the env dir comes first
        mode = st.st_mode
        if st.st_uid in owners and (
            stat.S_ISLNK(mode) or not (mode & 0o002 or (
                mode & 0o020 and not private_group(st.st_gid, st.st_uid)))):
            return False  # the common case, decided without building any words
        problem = _problem(_label_for(path, env), path, st, owners,
                           link=stat.S_ISLNK(mode))
        if problem is None:
            return False
        found.append(problem)
        return True

    _walk(env, visit, listings)
    return (found[0] if found else None), (owner[0] if owner else None)


def fingerprint(env: Env) -> str:
    """A digest of every checked path's uid, gid, mode, device and inode."""
    import hashlib  # only for a trust record's fingerprint: hashlib ~5 ms, off the warm path

    parts = [f"env={env.path}"]

    def visit(path: str, st: os.stat_result | None, error: str | None) -> bool:
        if st is None:
            parts.append(f"{path}=?")
        else:
            parts.append(f"{path}={st.st_uid}:{st.st_gid}:{st.st_mode:o}:{st.st_dev}:"
                         f"{st.st_ino}")
        return False

    _walk(env, visit)
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def env_owner(env: Env) -> int | None:
    try:
        return os.lstat(env.path).st_uid if _POSIX else None
    except OSError:
        return None


# --------------------------------------------------------------------------- verdicts


def shell_quote(value: str) -> str:
    """One single-quoted POSIX shell word (the rule of shells.sh.quote)."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


def trust_command(env: Env) -> str:
    return f"venvsel trust {shell_quote(env.path)}"


def check(env: Env, listings: _Listings | None = None) -> Trust:
    """The env's trust verdict: the rule, then an explicit ``venvsel trust`` that still holds.
    ``listings``: site-packages listings already taken (fsutil.list_dirs), reused."""
    problem, owner = _judge(env, listings)
    if problem is None:
        return Trust(True, "trusted", owner_uid=owner)
    record = _store_lookup(env.path)
    if record is not None and record.get("fingerprint") == fingerprint(env):
        return Trust(True, f"trusted by `venvsel trust` ({problem.text})", owner_uid=owner,
                     explicit=True)
    command = trust_command(env)
    lapsed = " (an earlier `venvsel trust` lapsed: ownership or modes changed)" if record else ""
    if problem.owner_uid is not None:
        fix = f"if you trust {owner_words(problem.owner_uid)}: {command}"
    else:
        fix = (f"chmod go-w {shell_quote(problem.path)}, or if you trust it as it is: "
               f"{command}")
    return Trust(False, f"untrusted: {problem.text}{lapsed}", fix, command, owner)


class Untrusted(UsageError):
    """An env named explicitly that may not be run (exit 2)."""


def require_trusted(env: Env, verdict: Trust | None = None) -> Trust:
    """The verdict when ``env`` is trusted; else Untrusted (exit 2) with the trust command."""
    verdict = verdict or check(env)
    if not verdict.trusted:
        label = env.shown_path or env.path
        raise Untrusted(
            f"refusing to use {label}: {verdict.reason}. venvsel runs nothing of an env "
            "that someone else could have changed.",
            hint=f"Fix: {verdict.fix}" if verdict.fix else None,
        )
    return verdict


# --------------------------------------------------------------------------- explicit trust


def store_path() -> Path:
    return config_dir() / STORE_FILE


_store_cache: dict[str, Any] | None = None


def _load_store() -> dict[str, Any]:
    global _store_cache
    if _store_cache is not None:
        return _store_cache
    # Lazy: only an env that fails the rule is looked up here, and `activate ENV` of a
    # passing env must not pay for json (~1 ms, `python -X importtime`).
    import json

    data: dict[str, Any] = {}
    file = store_path()
    if state_dir_ok(file.parent, "config"):
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
            if isinstance(raw, dict) and raw.get("schema") == STORE_SCHEMA and isinstance(
                    raw.get("envs"), dict):
                data = raw["envs"]
        except (OSError, ValueError):
            data = {}
    _store_cache = data
    return data


def _store_lookup(path: str) -> dict[str, Any] | None:
    entry = _load_store().get(path)
    return entry if isinstance(entry, dict) else None


def _save_store(envs: dict[str, Any]) -> None:
    import json  # see _load_store
    global _store_cache
    file = store_path()
    if not state_dir_ok(file.parent, "config"):
        raise UsageError(f"cannot record trust: the config dir {file.parent} is not safe to use.")
    atomic_write_text(file, json.dumps({"schema": STORE_SCHEMA, "envs": envs}, indent=1,
                                       sort_keys=True))
    _store_cache = envs


@frozen
class TrustRecord:
    path: str
    owner_uid: int | None
    owner: str
    trusted_at: float
    state: str  # "holds" · "lapsed" (ownership or modes changed) · "gone" (no longer an env)
    rule: str | None = None  # what the rule says of the env now (None: it passes)


def _locked() -> Any:
    # third-party, slow to import (filelock 4 imports asyncio): only while `venvsel trust` writes
    from filelock import FileLock

    file = store_path()
    file.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(file) + ".lock", timeout=10)


def trust_env(env: Env) -> TrustRecord:
    """Record an explicit trust for ``env`` as it is now."""
    global _store_cache
    owner = env_owner(env)
    with _locked():
        _store_cache = None
        envs = dict(_load_store())
        now = time.time()
        envs[env.path] = {"owner_uid": owner, "fingerprint": fingerprint(env), "trusted_at": now}
        _save_store(envs)
    problem = rule_problem(env)
    return TrustRecord(env.path, owner, owner_words(owner) if owner is not None else "?", now,
                       "holds", problem.text if problem else None)


def untrust(path: str) -> bool:
    """Forget the explicit trust of the env at ``path`` (its real path); False if none."""
    global _store_cache
    real = os.path.realpath(os.path.expanduser(path))
    with _locked():
        _store_cache = None
        envs = dict(_load_store())
        if envs.pop(real, None) is None:
            return False
        _save_store(envs)
    return True


def trusted_list() -> list[TrustRecord]:
    """Every recorded trust, and whether it still holds."""

    out = []
    for path, rec in sorted(_load_store().items()):
        if not isinstance(rec, dict):
            continue
        owner = rec.get("owner_uid")
        try:
            env = env_from_path(path)
        except UsageError:
            state, rule = "gone", None
        else:
            problem = rule_problem(env)
            rule = problem.text if problem else None
            state = "holds" if rec.get("fingerprint") == fingerprint(env) else "lapsed"
        out.append(TrustRecord(path, owner, owner_words(owner) if isinstance(owner, int) else "?",
                               float(rec.get("trusted_at") or 0), state, rule))
    return out


__all__ = [
    "TrustRecord",
    "Untrusted",
    "allowed_owners",
    "check",
    "fingerprint",
    "require_trusted",
    "rule_problem",
    "state_dir_ok",
    "state_dir_problem",
    "trust_command",
    "trust_env",
    "trusted_list",
    "untrust",
]
