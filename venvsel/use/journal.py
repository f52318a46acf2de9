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

In memory the file is a :class:`State` of :class:`UndoEntry` records, each holding
:class:`FileAction` / :class:`LinkAction` objects; their ``to_json``/``from_json`` keep the
format above exactly (keys and their order), so a journal written by an older venvsel
still loads and undoes.
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
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union

from ..discover import looks_like_env
from ..errors import OperationFailed, UsageError
from ..fsutil import atomic_write_bytes, atomic_write_text
from ..paths import walk_up
from ..project import STATE_DIR, Settings, read_settings, settings_text

if TYPE_CHECKING:
    from ..project import SettingsKind

STATE_FILE = "state.json"
STATE_SCHEMA = 1
GITIGNORE = "# Machine-local state of `venvsel use` (undo journal); never commit it.\n*\n"
BACKUP_SUFFIX = ".venvsel-backup"


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


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class TomlEdit:
    """The ``[tool.venvsel]`` table of a pyproject.toml before and after `venvsel use`
    (TOML data), so an undo can put back only that table when the file was edited since."""

    kind: SettingsKind
    before: dict[str, Any] | None
    after: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "before": self.before, "after": self.after}

    @classmethod
    def from_json(cls, d: Any) -> TomlEdit:
        kind = d["kind"]
        if kind not in ("venvsel-toml", "pyproject"):
            raise ValueError(f"unknown settings kind {kind!r}")
        before, after = d["before"], d["after"]
        if not isinstance(before, (dict, type(None))) or not isinstance(after, dict):
            raise TypeError("toml before/after must be tables")
        return cls(kind, before, after)


@dataclass(frozen=True)
class FileAction:
    """A file `venvsel use` wrote: its bytes and mode before (None: it did not exist, and
    ``created_dirs`` were made for it, nearest first) and a hash of what was written."""

    path: str  # relative to the project root
    before: bytes | None
    mode: int | None
    after_sha256: str
    created_dirs: tuple[str, ...] = ()
    toml: TomlEdit | None = None  # pyproject.toml: the venvsel table before and after

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": "file",
            "path": self.path,
            "before": base64.b64encode(self.before).decode("ascii")
            if self.before is not None else None,
            "mode": self.mode,
            "after_sha256": self.after_sha256,
            "created_dirs": list(self.created_dirs),
        }
        if self.toml is not None:
            d["toml"] = self.toml.to_json()
        return d

    @classmethod
    def from_json(cls, d: Any) -> FileAction:
        before = d["before"]
        mode = d["mode"]
        if mode is not None and not isinstance(mode, int):
            raise TypeError("mode must be an integer")
        return cls(
            path=str(d["path"]),
            before=base64.b64decode(before, validate=True) if before is not None else None,
            mode=mode,
            after_sha256=str(d["after_sha256"]),
            created_dirs=tuple(str(x) for x in d.get("created_dirs", ())),
            toml=TomlEdit.from_json(d["toml"]) if d.get("toml") else None,
        )


@dataclass(frozen=True)
class LinkBefore:
    """What was at a link's place before `venvsel use --link`: nothing, another link (its
    target), or a real env or file renamed aside (its backup, relative to the root)."""

    kind: Literal["absent", "link", "moved"]
    target: str = ""  # kind "link"
    backup: str = ""  # kind "moved"

    def to_json(self) -> dict[str, Any]:
        if self.kind == "link":
            return {"kind": "link", "target": self.target}
        if self.kind == "moved":
            return {"kind": "moved", "backup": self.backup}
        return {"kind": "absent"}

    @classmethod
    def from_json(cls, d: Any) -> LinkBefore:
        kind = d["kind"]
        if kind == "link":
            return cls("link", target=str(d["target"]))
        if kind == "moved":
            return cls("moved", backup=str(d["backup"]))
        if kind == "absent":
            return cls("absent")
        raise ValueError(f"unknown link state {kind!r}")


@dataclass(frozen=True)
class LinkAction:
    """A link `venvsel use --link` made: where, the text it holds, and what was there."""

    path: str  # relative to the project root
    target: str  # the link's text (relative when both ends lie in the project)
    before: LinkBefore

    def to_json(self) -> dict[str, Any]:
        return {"type": "link", "path": self.path, "target": self.target,
                "before": self.before.to_json()}

    @classmethod
    def from_json(cls, d: Any) -> LinkAction:
        return cls(str(d["path"]), str(d["target"]), LinkBefore.from_json(d["before"]))


Action = Union[FileAction, LinkAction]


def action_from_json(d: Any) -> Action:
    """One recorded action; ValueError/KeyError/TypeError when it is not one."""
    if d["type"] == "file":
        return FileAction.from_json(d)
    if d["type"] == "link":
        return LinkAction.from_json(d)
    raise ValueError(f"unknown action type {d['type']!r}")


@dataclass
class UndoEntry:
    """One `venvsel use`: its changes (oldest first) and the choice it replaced. Mutable:
    an undo stopped half-way keeps only the actions not yet undone."""

    time: float
    chosen_before: Chosen | None
    actions: list[Action] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time, "chosen_before": chosen_json(self.chosen_before),
                "actions": [a.to_json() for a in self.actions]}

    @classmethod
    def from_json(cls, d: Any) -> UndoEntry:
        actions = d["actions"]
        if not isinstance(actions, list):
            raise TypeError("actions must be a list")
        return cls(float(d["time"]), Chosen.from_json(d.get("chosen_before")),
                   [action_from_json(a) for a in actions])


@dataclass
class State:
    """The whole ``.venvsel/state.json``: the current choice and the undo stack."""

    chosen: Chosen | None = None
    undo: list[UndoEntry] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"venvsel_state": STATE_SCHEMA, "chosen": chosen_json(self.chosen),
                "undo": [e.to_json() for e in self.undo]}

    @classmethod
    def from_json(cls, d: Any) -> State:
        return cls(Chosen.from_json(d.get("chosen")), [UndoEntry.from_json(e) for e in d["undo"]])


# --------------------------------------------------------------------------- state file


def state_path(root: str) -> str:
    return os.path.join(root, STATE_DIR, STATE_FILE)


def load_state(root: str) -> State:
    """The state (an empty one when there is none). A corrupt file is an error that names
    it: the journal is what makes undo possible, so it is never silently dropped."""
    path = state_path(root)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return State()
    except (OSError, ValueError) as e:
        raise OperationFailed(
            f"{path} cannot be read ({e}).",
            hint="It holds the undo journal of `venvsel use`; fix it, or remove it to forget "
            "the recorded changes (backups such as .venv.venvsel-backup stay on disk).",
        ) from None
    not_understood = OperationFailed(
        f"{path} is not a venvsel state file this version understands.",
        hint="Move it away to start afresh; it is only the undo journal.")
    if not isinstance(data, dict) or data.get("venvsel_state") != STATE_SCHEMA \
            or not isinstance(data.get("undo"), list):
        raise not_understood
    try:
        return State.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise not_understood from None


def load_chosen(root: str) -> Chosen | None:
    """The recorded choice for ``status``: tolerant, a missing or odd file is just None."""
    try:
        with open(state_path(root), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return Chosen.from_json(data.get("chosen")) if isinstance(data, dict) else None


def save_state(root: str, state: State) -> None:
    """Write the state; removes the state dir when there is nothing left to remember."""
    if not state.undo and state.chosen is None:
        remove_state(root)
        return
    d = os.path.join(root, STATE_DIR)
    os.makedirs(d, exist_ok=True)
    ignore = os.path.join(d, ".gitignore")
    if not os.path.exists(ignore):
        atomic_write_text(ignore, GITIGNORE)
    atomic_write_text(state_path(root), json.dumps(state.to_json(), indent=1) + "\n")


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


def write_file(root: str, rel: str, data: bytes, toml: TomlEdit | None = None) -> FileAction | None:
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
    return FileAction(rel, before, mode, _sha(data), tuple(created), toml)


def _file_conflict(root: str, a: FileAction) -> str | None:
    path = _abs(root, a.path)
    if os.path.islink(path):
        return f"{a.path} is now a symbolic link"
    now = _read_bytes(path) if os.path.isfile(path) else None
    if now is None:
        return f"{a.path} was removed since"
    if _sha(now) == a.after_sha256:
        return None
    toml = a.toml
    if toml:  # pyproject.toml: other edits since are fine while our table is as we left it
        current = read_settings(path, toml.kind)
        if current is not None and current.as_toml_data() == toml.after:
            return None
    return f"{a.path} was edited since `venvsel use` wrote it"


def _undo_file(root: str, a: FileAction) -> str:
    path = _abs(root, a.path)
    before = a.before
    now = _read_bytes(path)
    if now is not None and _sha(now) != a.after_sha256 and a.toml:
        # Edited elsewhere since: put back only our table, keep the rest of the edits.
        toml = a.toml
        old = toml.before
        settings = Settings(tuple(old.get("needs", ())), old.get("python"), old.get("env")) \
            if old is not None else None
        text = settings_text(toml.kind, now.decode("utf-8"), settings)
        atomic_write_bytes(path, text.encode("utf-8"))
        os.chmod(path, a.mode if a.mode is not None else _default_mode())
        return f"{a.path}: restored the venvsel settings (your other edits kept)"
    if before is None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        for d in a.created_dirs:
            with contextlib.suppress(OSError):  # only when empty: never remove others' files
                os.rmdir(_abs(root, d))
        return f"{a.path}: removed (it did not exist before)"
    atomic_write_bytes(path, before)
    assert a.mode is not None  # recorded for every file that existed
    os.chmod(path, a.mode)
    return f"{a.path}: restored byte for byte"


# --------------------------------------------------------------------------- links


def _is_link(path: str) -> bool:
    isjunction = getattr(os.path, "isjunction", None)  # Python 3.12+, Windows junctions
    return os.path.islink(path) or bool(isjunction and isjunction(path))


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
        if not looks_like_env(path):
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


def make_link(root: str, rel: str, target: str) -> LinkAction | None:
    """Make ``root/rel`` a link to the env at ``target``: an old link is replaced (its target
    recorded), an existing real env or file is renamed aside first, never deleted."""
    if check_link(root, rel, target) is None:
        return None
    path = _abs(root, rel)
    if _is_link(path):
        before = LinkBefore("link", target=os.readlink(path))
        _remove_link(path)
    elif os.path.lexists(path):
        backup = _backup_name(path)
        os.rename(path, backup)
        before = LinkBefore("moved", backup=rel_to(root, backup))
    else:
        before = LinkBefore("absent")
    text = _link_text(path, target, root)
    try:
        _symlink(text, path)
    except OSError:
        _restore_link_before(root, path, before)
        raise
    return LinkAction(rel, text, before)


def _remove_link(path: str) -> None:
    if os.path.islink(path):
        os.unlink(path)
    else:
        os.rmdir(path)  # a Windows junction is removed like an empty directory


def _restore_link_before(root: str, path: str, before: LinkBefore) -> None:
    if before.kind == "link":
        _symlink(before.target, path)
    elif before.kind == "moved":
        os.rename(_abs(root, before.backup), path)


def _link_conflict(root: str, a: LinkAction) -> str | None:
    path = _abs(root, a.path)
    if not _is_link(path):
        return f"{a.path} is no longer the link venvsel made"
    if os.readlink(path) != a.target and os.path.realpath(path) != os.path.realpath(
        os.path.join(os.path.dirname(path), a.target)
    ):
        return f"{a.path} now points elsewhere ({os.readlink(path)})"
    before = a.before
    if before.kind == "moved" and not os.path.lexists(_abs(root, before.backup)):
        return f"the backup {before.backup} of {a.path} is gone"
    return None


def _undo_link(root: str, a: LinkAction) -> str:
    path = _abs(root, a.path)
    _remove_link(path)
    before = a.before
    _restore_link_before(root, path, before)
    if before.kind == "moved":
        return f"{a.path}: the link removed, {before.backup} moved back to {a.path}"
    if before.kind == "link":
        return f"{a.path}: points to {before.target} again"
    return f"{a.path}: the link removed (nothing was there before)"


# --------------------------------------------------------------------------- undo


def conflict(root: str, a: Action) -> str | None:
    """Why undoing ``a`` would lose something (None: it can be undone exactly)."""
    return _file_conflict(root, a) if isinstance(a, FileAction) else _link_conflict(root, a)


def undo_action(root: str, a: Action) -> str:
    """Undo one recorded change; what was done, in words."""
    return _undo_file(root, a) if isinstance(a, FileAction) else _undo_link(root, a)


def push(root: str, actions: list[Action], chosen: Chosen) -> None:
    """Record one `venvsel use` (its changes and the choice it replaced) as one undo step;
    a run that changed nothing and kept the same env only refreshes the fingerprint."""
    state = load_state(root)
    before = state.chosen
    if actions or (before.env if before is not None else None) != chosen.env:
        state.undo.append(UndoEntry(time.time(), before, list(actions)))
    state.chosen = chosen
    save_state(root, state)


def find_state_root(start: str) -> str | None:
    """The nearest directory (walking up, bounded by the repository root) with a journal."""
    return next((d for d in walk_up(start) if os.path.isfile(state_path(d))), None)
