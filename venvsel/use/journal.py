"""The undo journal and machine-local state of `venvsel use`, kept in the project's `.venvsel/`.

Every change `venvsel use` makes goes through the two primitives here, :func:`write_file`
and :func:`make_link`. Each records exactly what was there before — a file's bytes and
mode (or that it did not exist, and which directories were created for it), a link's old
target, the backup name an existing real ``.venv`` was renamed to — so that
:func:`undo_action` puts it back byte for byte. Nothing that venvsel did not create is ever
deleted: an existing env is renamed aside, never removed. Before undoing, :func:`conflict`
checks that each thing is still what venvsel left, so a later hand edit is never overwritten.

``.venvsel/state.json`` (written atomically; the directory holds a ``.gitignore`` of ``*``
so it never shows up in git, and is removed when the last change is undone)::

    {"venvsel_state": 1,
     "chosen": {"env": "/real/path", "fingerprint": "...", "time": 1764444444.0} | null,
     "undo": [{"time": ..., "chosen_before": {...} | null, "actions": [...]}, ...]}
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import stat
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import OperationFailed, UsageError
from ..fsutil import atomic_write_bytes, atomic_write_text
from ..paths import walk_up

STATE_DIR = ".venvsel"
STATE_FILE = "state.json"
STATE_SCHEMA = 1
GITIGNORE = "# Machine-local state of `venvsel use` (undo journal); never commit it.\n*\n"
BACKUP_SUFFIX = ".venvsel-backup"

Action = dict[str, Any]


@dataclass(frozen=True)
class Chosen:
    """The env `venvsel use` chose on this machine, and its fingerprint at that moment."""

    env: str  # real path
    fingerprint: str
    time: float

    @classmethod
    def from_json(cls, d: Any) -> Chosen | None:
        if not isinstance(d, dict):
            return None
        try:
            return cls(str(d["env"]), str(d["fingerprint"]), float(d["time"]))
        except (KeyError, TypeError, ValueError):
            return None


# --------------------------------------------------------------------------- state file


def state_path(root: str) -> str:
    return os.path.join(root, STATE_DIR, STATE_FILE)


def load_state(root: str) -> dict[str, Any]:
    """The state (an empty one when there is none). A corrupt file is an error that names
    it: the journal is what makes undo possible, so it is never silently dropped."""
    path = state_path(root)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {"venvsel_state": STATE_SCHEMA, "chosen": None, "undo": []}
    except (OSError, ValueError) as e:
        raise OperationFailed(
            f"{path} cannot be read ({e}).",
            hint="It holds the undo journal of `venvsel use`; fix it, or remove it to forget "
            "the recorded changes (backups such as .venv.venvsel-backup stay on disk).",
        ) from None
    if not isinstance(data, dict) or data.get("venvsel_state") != STATE_SCHEMA \
            or not isinstance(data.get("undo"), list):
        raise OperationFailed(f"{path} is not a venvsel state file this version understands.",
                              hint="Move it away to start afresh; it is only the undo journal.")
    return data


def load_chosen(root: str) -> Chosen | None:
    """The recorded choice for ``status``: tolerant, a missing or odd file is just None."""
    try:
        with open(state_path(root), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return Chosen.from_json(data.get("chosen")) if isinstance(data, dict) else None


def save_state(root: str, state: dict[str, Any]) -> None:
    """Write the state; removes the state dir when there is nothing left to remember."""
    if not state.get("undo") and not state.get("chosen"):
        remove_state(root)
        return
    d = os.path.join(root, STATE_DIR)
    os.makedirs(d, exist_ok=True)
    ignore = os.path.join(d, ".gitignore")
    if not os.path.exists(ignore):
        atomic_write_text(ignore, GITIGNORE)
    atomic_write_text(state_path(root), json.dumps(state, indent=1) + "\n")


def remove_state(root: str) -> None:
    """Remove the files venvsel keeps in ``.venvsel/``, and the dir when nothing else is in it."""
    d = os.path.join(root, STATE_DIR)
    for name in (STATE_FILE, ".gitignore"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(d, name))
    with contextlib.suppress(OSError):  # not empty (someone put a file there) or absent
        os.rmdir(d)


def chosen_json(chosen: Chosen | None) -> dict[str, Any] | None:
    return asdict(chosen) if chosen is not None else None


# --------------------------------------------------------------------------- paths


def _abs(root: str, rel: str) -> str:
    return os.path.normpath(os.path.join(root, rel))


def rel_to(root: str, path: str) -> str:
    """``path`` relative to ``root`` when inside it (how the journal names things), else
    absolute."""
    ap = os.path.normpath(os.path.abspath(path))
    r = os.path.normpath(root)
    if ap == r:
        return "."
    prefix = r.rstrip(os.sep) + os.sep
    return ap[len(prefix):] if ap.startswith(prefix) else ap


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _default_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


# --------------------------------------------------------------------------- files


def check_writable(root: str, rel: str) -> None:
    """Refuse what cannot be edited and restored exactly: links and non-regular files."""
    path = _abs(root, rel)
    if os.path.islink(path):
        raise UsageError(f"{rel} is a symbolic link; venvsel edits only regular files.",
                         hint="Edit the file it points to by hand, or replace the link.")
    if os.path.lexists(path) and not os.path.isfile(path):
        raise UsageError(f"{rel} exists and is not a regular file; venvsel will not replace it.")


def write_file(root: str, rel: str, data: bytes, **extra: Any) -> Action | None:
    """Write ``data`` to ``root/rel`` atomically, keeping its mode; the action to undo it
    (None when the file already holds exactly ``data``)."""
    check_writable(root, rel)
    path = _abs(root, rel)
    before = _read_bytes(path)
    if before == data:
        return None
    mode = stat.S_IMODE(os.stat(path).st_mode) if before is not None else None
    created: list[str] = []
    d = os.path.dirname(path)
    while not os.path.isdir(d):
        created.append(rel_to(root, d))
        d = os.path.dirname(d)
    atomic_write_bytes(path, data)
    # mkstemp made the temp file 0600: give the file back its mode (or the umask default).
    os.chmod(path, mode if mode is not None else _default_mode())
    return {
        "type": "file",
        "path": rel,
        "before": base64.b64encode(before).decode("ascii") if before is not None else None,
        "mode": mode,
        "after_sha256": _sha(data),
        "created_dirs": created,  # nearest first
        **extra,
    }


def _file_conflict(root: str, a: Action) -> str | None:
    path = _abs(root, a["path"])
    if os.path.islink(path):
        return f"{a['path']} is now a symbolic link"
    now = _read_bytes(path) if os.path.isfile(path) else None
    if now is None:
        return f"{a['path']} was removed since"
    if _sha(now) == a["after_sha256"]:
        return None
    toml = a.get("toml")
    if toml:  # pyproject.toml: other edits since are fine while our table is as we left it
        from ..project import read_settings

        current = read_settings(path, toml["kind"])
        if current is not None and current.as_toml_data() == toml["after"]:
            return None
    return f"{a['path']} was edited since `venvsel use` wrote it"


def _undo_file(root: str, a: Action) -> str:
    path = _abs(root, a["path"])
    before = base64.b64decode(a["before"]) if a["before"] is not None else None
    now = _read_bytes(path)
    if now is not None and _sha(now) != a["after_sha256"] and a.get("toml"):
        # Edited elsewhere since: put back only our table, keep the rest of the edits.
        from ..project import Settings, settings_text

        toml = a["toml"]
        old = toml["before"]
        settings = Settings(tuple(old.get("needs", ())), old.get("python"), old.get("env")) \
            if old is not None else None
        text = settings_text(toml["kind"], now.decode("utf-8"), settings)
        atomic_write_bytes(path, text.encode("utf-8"))
        os.chmod(path, a["mode"] if a["mode"] is not None else _default_mode())
        return f"{a['path']}: restored the venvsel settings (your other edits kept)"
    if before is None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        for d in a.get("created_dirs", []):
            with contextlib.suppress(OSError):  # only when empty: never remove others' files
                os.rmdir(_abs(root, d))
        return f"{a['path']}: removed (it did not exist before)"
    atomic_write_bytes(path, before)
    os.chmod(path, a["mode"])
    return f"{a['path']}: restored byte for byte"


# --------------------------------------------------------------------------- links


def _is_link(path: str) -> bool:
    isjunction = getattr(os.path, "isjunction", None)  # Python 3.12+, Windows junctions
    return os.path.islink(path) or bool(isjunction and isjunction(path))


def _looks_like_env(path: str) -> bool:
    marks = (("pyvenv.cfg",), ("conda-meta",), ("bin", "python"), ("bin", "python3"),
             ("Scripts", "python.exe"), ("python.exe",))
    return any(os.path.lexists(os.path.join(path, *m)) for m in marks)


def _link_text(link: str, target: str, root: str) -> str:
    """Relative when both lie in the project (the project can move), else absolute."""
    prefix = os.path.normpath(root).rstrip(os.sep) + os.sep
    if sys.platform != "win32" and target.startswith(prefix) and link.startswith(prefix):
        return os.path.relpath(target, os.path.dirname(link))
    return target


def check_link(root: str, rel: str, target: str) -> str | None:
    """Refuse a link that could hurt (over the project, over the env itself, over a
    directory that is not an env); the plan in words, or None when it already points there."""
    path = _abs(root, rel)
    root_n = os.path.normpath(root)
    if path == root_n or root_n.startswith(path.rstrip(os.sep) + os.sep):
        raise UsageError(f"--link {rel}: that is the project itself or one of its parents.")
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        raise UsageError(f"--link {rel}: the directory {parent} does not exist.")
    real_target = os.path.realpath(target)
    if os.path.realpath(path) == real_target:
        return None
    if not _is_link(path) and (real_target == path or real_target.startswith(path + os.sep)):
        raise UsageError(f"--link {rel}: the chosen env is {rel} itself (or inside it).")
    shown = rel_to(root, target)
    if _is_link(path):
        return f"{rel}: was a link to {os.readlink(path)}, now links to {shown}"
    if os.path.isdir(path):
        if not _looks_like_env(path):
            raise UsageError(
                f"--link {rel}: {path} is a directory that is not a Python env; "
                "venvsel moves only envs aside.", hint="Choose another link name.")
        return (f"{rel}: the env that was there moved aside to "
                f"{rel_to(root, _backup_name(path))}; {rel} now links to {shown}")
    if os.path.lexists(path):
        if not os.path.isfile(path):
            raise UsageError(f"--link {rel}: {path} exists and is not a file or a directory.")
        return (f"{rel}: the file that was there moved aside to "
                f"{rel_to(root, _backup_name(path))}; {rel} now links to {shown}")
    return f"{rel}: now links to {shown}"


def _backup_name(path: str) -> str:
    base = path + BACKUP_SUFFIX
    if not os.path.lexists(base):
        return base
    n = 2
    while os.path.lexists(f"{base}-{n}"):
        n += 1
    return f"{base}-{n}"


def _symlink(text: str, path: str) -> None:
    if sys.platform == "win32":
        # A junction needs no privilege (a directory symlink needs developer mode).
        import _winapi

        _winapi.CreateJunction(text, path)
    else:
        os.symlink(text, path, target_is_directory=True)


def make_link(root: str, rel: str, target: str) -> Action | None:
    """Make ``root/rel`` a link to the env at ``target``: an old link is replaced (its target
    recorded), an existing real env or file is renamed aside first, never deleted."""
    if check_link(root, rel, target) is None:
        return None
    path = _abs(root, rel)
    before: dict[str, Any]
    if _is_link(path):
        before = {"kind": "link", "target": os.readlink(path)}
        _remove_link(path)
    elif os.path.lexists(path):
        backup = _backup_name(path)
        os.rename(path, backup)
        before = {"kind": "moved", "backup": rel_to(root, backup)}
    else:
        before = {"kind": "absent"}
    text = _link_text(path, target, root)
    try:
        _symlink(text, path)
    except OSError:
        _restore_link_before(root, path, before)
        raise
    return {"type": "link", "path": rel, "target": text, "before": before}


def _remove_link(path: str) -> None:
    if os.path.islink(path):
        os.unlink(path)
    else:
        os.rmdir(path)  # a Windows junction is removed like an empty directory


def _restore_link_before(root: str, path: str, before: dict[str, Any]) -> None:
    if before["kind"] == "link":
        _symlink(before["target"], path)
    elif before["kind"] == "moved":
        os.rename(_abs(root, before["backup"]), path)


def _link_conflict(root: str, a: Action) -> str | None:
    path = _abs(root, a["path"])
    if not _is_link(path):
        return f"{a['path']} is no longer the link venvsel made"
    if os.readlink(path) != a["target"] and os.path.realpath(path) != os.path.realpath(
        os.path.join(os.path.dirname(path), a["target"])
    ):
        return f"{a['path']} now points elsewhere ({os.readlink(path)})"
    before = a["before"]
    if before["kind"] == "moved" and not os.path.lexists(_abs(root, before["backup"])):
        return f"the backup {before['backup']} of {a['path']} is gone"
    return None


def _undo_link(root: str, a: Action) -> str:
    path = _abs(root, a["path"])
    _remove_link(path)
    before = a["before"]
    _restore_link_before(root, path, before)
    if before["kind"] == "moved":
        return f"{a['path']}: the link removed, {before['backup']} moved back to {a['path']}"
    if before["kind"] == "link":
        return f"{a['path']}: points to {before['target']} again"
    return f"{a['path']}: the link removed (nothing was there before)"


# --------------------------------------------------------------------------- undo


def conflict(root: str, a: Action) -> str | None:
    """Why undoing ``a`` would lose something (None: it can be undone exactly)."""
    return _file_conflict(root, a) if a["type"] == "file" else _link_conflict(root, a)


def undo_action(root: str, a: Action) -> str:
    """Undo one recorded change; what was done, in words."""
    return _undo_file(root, a) if a["type"] == "file" else _undo_link(root, a)


def push(root: str, actions: list[Action], chosen: Chosen) -> None:
    """Record one `venvsel use` (its changes and the choice it replaced) as one undo step;
    a run that changed nothing and kept the same env only refreshes the fingerprint."""
    state = load_state(root)
    before = state.get("chosen")
    if actions or (before or {}).get("env") != chosen.env:
        state["undo"].append({"time": time.time(), "chosen_before": before, "actions": actions})
    state["chosen"] = chosen_json(chosen)
    save_state(root, state)


def find_state_root(start: str) -> str | None:
    """The nearest directory (walking up, bounded by the repository root) with a journal."""
    return next((d for d in walk_up(start) if os.path.isfile(state_path(d))), None)
