"""Who may own what venvsel reads or runs: the owner/mode rule, and venvsel's own state dirs.

A path passes when it is owned by an allowed owner (the effective user, root, and under sudo
the invoking user) and is writable by neither group nor others; a group whose only member is
the owner (a user-private group) does not count as "group". :mod:`venvsel.trust` applies the
rule to every checked path of an env; :func:`state_dir_ok` applies it to venvsel's cache,
config and log dirs, which are not read when they fail it.

On Windows there are no POSIX owners and modes; everything passes.
"""

from __future__ import annotations

import os
import stat
from functools import cache

from .record import frozen
from .render import warn

_POSIX = hasattr(os, "geteuid")


# --------------------------------------------------------------------------- owners and modes


def allowed_owners() -> frozenset[int]:
    """The uids that may own an env's paths: euid, root, and SUDO_UID under sudo."""
    if not _POSIX:
        return frozenset()
    euid = os.geteuid()
    owners = {euid, 0}
    if euid == 0:
        sudo = os.environ.get("SUDO_UID", "").strip()
        if sudo.isdigit():
            owners.add(int(sudo))
    return frozenset(owners)


@cache
def user_name(uid: int) -> str:
    try:
        import pwd  # POSIX only: ImportError on Windows

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return "no such user"


@cache
def _group_name(gid: int) -> str:
    try:
        import grp  # POSIX only: ImportError on Windows

        return grp.getgrgid(gid).gr_name
    except (ImportError, KeyError):
        return str(gid)


@cache
def private_group(gid: int, owner: int) -> bool:
    """Whether ``owner`` is the only member of group ``gid`` (primary or supplementary)."""
    try:
        import grp  # POSIX only: ImportError on Windows
        import pwd  # POSIX only: ImportError on Windows

        group = grp.getgrgid(gid)
        name = pwd.getpwuid(owner).pw_name
    except (ImportError, KeyError):
        return False
    if any(m != name for m in group.gr_mem):
        return False
    primary = [p.pw_uid for p in pwd.getpwall() if p.pw_gid == gid]
    if any(uid != owner for uid in primary):
        return False
    return bool(primary or group.gr_mem)


def owner_words(uid: int) -> str:
    return f"uid {uid} ({user_name(uid)})"


@frozen
class Problem:
    """One way a path breaks the rule: the words, the path, and the owner when that is it."""

    text: str  # "owned by uid 65534 (nobody)", "site-packages is group-writable (group users)"
    path: str
    owner_uid: int | None = None  # set when the owner is the problem


def _fault(st: os.stat_result, owners: frozenset[int], *, link: bool) -> str | None:
    """What is wrong with one stat result, as a bare phrase ("owned by uid 65534 (nobody)",
    "writable by others", "group-writable (group users)"), or None."""
    if st.st_uid not in owners:
        return f"owned by {owner_words(st.st_uid)}"
    if link:
        return None  # a symlink's own mode means nothing; its target is checked next
    if st.st_mode & stat.S_IWOTH:
        return "writable by others"
    if st.st_mode & stat.S_IWGRP and not private_group(st.st_gid, st.st_uid):
        return f"group-writable (group {_group_name(st.st_gid)})"
    return None


def _problem(label: str, path: str, st: os.stat_result, owners: frozenset[int], *,
             link: bool, whole: str = "the env dir") -> Problem | None:
    """What is wrong with one checked path, or None. An empty ``label`` is the whole thing
    (the env dir): "owned by uid 65534 (nobody)", "the env dir is writable by others"."""
    fault = _fault(st, owners, link=link)
    if fault is None:
        return None
    if st.st_uid not in owners:
        return Problem(f"{label} is {fault}" if label else fault, path, st.st_uid)
    return Problem(f"{label or whole} is {fault}", path)


# --------------------------------------------------------------------------- venvsel's own dirs

_refused: dict[str, str | None] = {}


def _stat(path: str | os.PathLike[str]) -> os.stat_result | None:
    """``os.stat`` (following links), or None when absent or where there are no owners."""
    if not _POSIX:
        return None
    try:
        return os.stat(path)
    except OSError:
        return None


def state_dir_problem(path: str | os.PathLike[str]) -> str | None:
    """Why venvsel must not read its own state dir ``path``; None when it may (or is absent)."""
    st = _stat(path)
    if st is None:
        return None
    problem = _problem("", os.fspath(path), st, allowed_owners(), link=False, whole="it")
    return problem.text if problem is not None else None


def path_problem(path: str | os.PathLike[str]) -> str | None:
    """Why venvsel must not run or load the file ``path`` resolves to, as a phrase ("owned by
    uid 65534 (nobody)", "writable by others"); None when it may (or it is absent)."""
    st = _stat(path)
    return None if st is None else _fault(st, allowed_owners(), link=False)


def state_dir_ok(path: str | os.PathLike[str], what: str) -> bool:
    """True when venvsel may read ``path``; else one warning per dir, naming it and why."""
    key = os.fspath(path)
    if key not in _refused:
        problem = state_dir_problem(key)
        _refused[key] = problem
        if problem is not None:
            warn(f"not reading the {what} dir {key}: {problem}, so someone else could have "
                 f"written it. Fix: chown it to yourself and chmod go-w it.")
    return _refused[key] is None



__all__ = [
    "Problem",
    "allowed_owners",
    "owner_words",
    "path_problem",
    "private_group",
    "state_dir_ok",
    "state_dir_problem",
    "user_name",
]
