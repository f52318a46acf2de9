"""The project a directory belongs to, what `venvsel use` recorded in it, and its status.

A project's settings are ``.venvsel.toml`` (top-level keys) or the ``[tool.venvsel]`` table
of ``pyproject.toml``; they are shared and meant to be committed::

    [tool.venvsel]
    needs = ["torch"]      # what any env for this project must satisfy (as --need)
    python = ">=3.10"      # optional, as --python
    env = ".venv310"       # the env `venvsel use` chose: relative to the project root
                           # when inside it, else absolute

Finding: walk up from the current directory; the first directory whose ``.venvsel.toml`` or
``pyproject.toml`` carries settings wins (``.venvsel.toml`` first, as ruff prefers its own
file); the walk stops after the directory that holds ``.git`` (a repository's root bounds
its projects). Where to *write* when nothing is recorded yet: the nearest directory with a
``pyproject.toml`` or ``.git``, else the current directory.

Reading uses the stdlib TOML parser only: ``venvsel status`` and the warm ``activate`` read
settings on every call. Writing uses tomlkit and keeps every byte outside the changed table:
a new ``[tool.venvsel]`` table is appended to the file, an existing one is edited key by key,
and the result is parsed again and compared with what was meant before anything is written.

Machine-local state (the chosen env's fingerprint, the undo journal) is not here: it lives in
the project's ``.venvsel/`` directory, owned by :mod:`venvsel.use.journal`.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from . import tomlfile
from .errors import OperationFailed, UsageError
from .paths import walk_up
from .record import frozen

SETTINGS_FILE = ".venvsel.toml"
PYPROJECT = "pyproject.toml"
STATE_DIR = ".venvsel"  # machine-local state; ignores itself for git
KEYS = ("needs", "python", "env")

SettingsKind = Literal["venvsel-toml", "pyproject"]


@frozen
class Settings:
    """What a project records: its needs, python specifier and chosen env (as written)."""

    needs: tuple[str, ...] = ()
    python: str | None = None
    env: str | None = None

    def as_toml_data(self) -> dict[str, Any]:
        """The table's keys as TOML data, empty values left out."""
        data: dict[str, Any] = {}
        if self.needs:
            data["needs"] = list(self.needs)
        if self.python:
            data["python"] = self.python
        if self.env:
            data["env"] = self.env
        return data


@frozen
class Project:
    """A project root and its settings file (which may not exist yet when about to write)."""

    root: str  # absolute
    file: str  # absolute path of the settings file
    kind: SettingsKind
    settings: Settings | None  # None: nothing recorded in ``file`` yet

    @property
    def label(self) -> str:
        """How the settings are named in messages: "pyproject.toml [tool.venvsel]"."""
        return f"{PYPROJECT} [tool.venvsel]" if self.kind == "pyproject" else SETTINGS_FILE

    @property
    def state_dir(self) -> str:
        return os.path.join(self.root, STATE_DIR)

    def env_path(self) -> str | None:
        """The recorded env as an absolute path (``~`` expanded), None when none is recorded."""
        if self.settings is None or not self.settings.env:
            return None
        return os.path.normpath(os.path.join(self.root, os.path.expanduser(self.settings.env)))


# --------------------------------------------------------------------------- reading


def _read_toml(path: str) -> dict[str, Any] | None:
    """The parsed file; None when it does not exist; UsageError naming it when malformed."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a TOML file.") from None
    except OSError as e:
        raise UsageError(f"{path} cannot be read: {e.strerror or e}") from None
    try:
        return tomlfile.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise UsageError(f"{path} is not UTF-8 text ({e}).",
                         hint="TOML files must be UTF-8.") from None
    except Exception as e:  # tomllib.TOMLDecodeError or tomli's: the message is what matters
        raise UsageError(f"{path} is not valid TOML: {e}",
                         hint="Fix the file and run again.") from None


def _settings_from(data: Any, where: str) -> Settings:
    """Validate a settings table; a wrong type is a usage error naming the file and key."""
    if not isinstance(data, dict):
        raise UsageError(f"{where} must be a table of settings, not {type(data).__name__}.")
    needs_raw = data.get("needs", [])
    if isinstance(needs_raw, str):
        needs_raw = [needs_raw]
    if not isinstance(needs_raw, list) or not all(isinstance(n, str) for n in needs_raw):
        raise UsageError(f'{where}: needs must be a list of strings, e.g. needs = ["torch"].')
    python = data.get("python")
    if python is not None and not isinstance(python, str):
        raise UsageError(f'{where}: python must be a string, e.g. python = ">=3.10".')
    env = data.get("env")
    if env is not None and not isinstance(env, str):
        raise UsageError(f'{where}: env must be a path string, e.g. env = ".venv".')
    return Settings(tuple(needs_raw), python or None, env or None)


def read_settings(path: str, kind: SettingsKind) -> Settings | None:
    """The settings recorded in one file; None when the file or its table is absent."""
    data = _read_toml(path)
    if data is None:
        return None
    if kind == "venvsel-toml":
        return _settings_from({k: v for k, v in data.items() if k in KEYS}, path)
    tool = data.get("tool")
    if not isinstance(tool, dict) or "venvsel" not in tool:
        return None
    return _settings_from(tool["venvsel"], f"{path} [tool.venvsel]")


def find_project(start: str | None = None) -> Project | None:
    """The nearest project (walking up from ``start``, default cwd) that has settings."""
    for d in walk_up(start or os.getcwd()):
        own = os.path.join(d, SETTINGS_FILE)
        settings = read_settings(own, "venvsel-toml")
        if settings is not None:
            return Project(d, own, "venvsel-toml", settings)
        pyproject = os.path.join(d, PYPROJECT)
        settings = read_settings(pyproject, "pyproject")
        if settings is not None:
            return Project(d, pyproject, "pyproject", settings)
    return None


def project_for_writing(start: str | None = None) -> Project:
    """Where `venvsel use` records: the existing project, else the nearest dir that has a
    pyproject.toml or .git (pyproject.toml's table when it has one), else cwd."""
    start = os.path.abspath(start or os.getcwd())
    found = find_project(start)
    if found is not None:
        return found
    chain = walk_up(start)
    root = next(
        (d for d in chain if os.path.exists(os.path.join(d, PYPROJECT))
         or os.path.lexists(os.path.join(d, ".git"))),
        start,
    )
    if os.path.isfile(os.path.join(root, PYPROJECT)):
        return Project(root, os.path.join(root, PYPROJECT), "pyproject", None)
    return Project(root, os.path.join(root, SETTINGS_FILE), "venvsel-toml", None)


def recorded_needs(start: str | None = None) -> tuple[list[str], str | None]:
    """(needs, python spec) recorded for the project containing ``start`` (default cwd);
    ``([], None)`` when no project records any."""
    project = find_project(start)
    if project is None or project.settings is None:
        return [], None
    return list(project.settings.needs), project.settings.python


def recorded_env(start: str | None = None) -> str | None:
    """The absolute path of the env `venvsel use` recorded for this project, if any (it may
    no longer exist: callers check)."""
    project = find_project(start)
    return project.env_path() if project is not None else None


# --------------------------------------------------------------------------- writing


def _toml_body(data: dict[str, Any]) -> str:
    import tomlkit  # third-party, only when `venvsel use` writes settings

    return tomlkit.dumps(data)


def _normalise(data: dict[str, Any]) -> dict[str, Any]:
    """Drop an empty ``tool`` table so "no tool table" and "an empty one" compare equal."""
    out = dict(data)
    if out.get("tool") == {}:
        del out["tool"]
    return out


def _set_keys(table: Any, values: dict[str, Any]) -> None:
    """Edit a tomlkit table in place: keys we own set or removed, comments and others kept."""
    for key in KEYS:
        if key in values:
            if key not in table or table[key] != values[key]:
                table[key] = values[key]
        elif key in table:
            del table[key]


def settings_text(kind: SettingsKind, old_text: str | None, settings: Settings | None) -> str:
    """The settings file's new text with ``settings`` recorded (None: the record removed),
    every byte outside the venvsel table kept. OperationFailed when that cannot be done
    without changing anything else (checked by parsing the result)."""
    import tomlkit  # third-party, only when `venvsel use` writes settings

    where = SETTINGS_FILE if kind == "venvsel-toml" else f"{PYPROJECT} [tool.venvsel]"
    values = settings.as_toml_data() if settings is not None else None
    old_data: dict[str, Any] = tomlfile.loads(old_text) if old_text is not None else {}
    expected = dict(old_data)

    if kind == "venvsel-toml":
        for key in KEYS:
            expected.pop(key, None)
        expected.update(values or {})
        if old_text is None:
            text = ("# The env this project runs in; written by `venvsel use`, "
                    "see `venvsel status`.\n" + _toml_body(values or {}))
        else:
            doc = tomlkit.parse(old_text)
            _set_keys(doc, values or {})
            text = tomlkit.dumps(doc)
    else:
        tool = old_data.get("tool")
        tool_copy = dict(tool) if isinstance(tool, dict) else {}
        had_table = "venvsel" in tool_copy
        tool_copy.pop("venvsel", None)
        if values is not None:
            tool_copy["venvsel"] = values
        expected["tool"] = tool_copy
        base = old_text or ""
        if values is not None and not had_table:
            # Append: the only edit that provably leaves every existing byte where it was.
            if not base or base.endswith("\n\n"):
                sep = ""
            else:
                sep = "\n" if base.endswith("\n") else "\n\n"
            text = base + sep + "[tool.venvsel]\n" + _toml_body(values)
        else:
            doc = tomlkit.parse(base)
            tbl = doc["tool"]["venvsel"] if had_table else None
            if tbl is None:
                text = base
            elif values is None:
                del doc["tool"]["venvsel"]
                if not doc["tool"]:
                    del doc["tool"]
                text = tomlkit.dumps(doc)
            else:
                _set_keys(tbl, values)
                text = tomlkit.dumps(doc)
    try:
        got = tomlfile.loads(text)
    except Exception as e:  # any parse failure means we must not write
        raise OperationFailed(f"could not record the settings in {where} safely ({e}); "
                              "nothing was changed.") from None
    if _normalise(got) != _normalise(expected):
        raise OperationFailed(
            f"could not record the settings in {where} without changing other settings "
            "(an unusual layout, e.g. `tool` as an inline table); nothing was changed.",
            hint=f"Add them by hand: {_toml_body(values or {}).strip()}",
        )
    return text


# --------------------------------------------------------------------------- status


EnvState = Literal["ok", "changed", "unverified", "missing", "broken", "untrusted", "not-recorded",
                   "no-project", "tool", "no-env"]


@frozen
class Status:
    """Which env this directory resolves to, and why — from files and stat() alone."""

    cwd: str
    root: str | None  # project root, None outside any project
    settings_file: str | None
    needs: tuple[str, ...]
    python: str | None
    env: str | None  # the recorded env, absolute
    state: EnvState
    detail: str  # the state in words
    chosen_at: float | None  # when `venvsel use` chose it (this machine)
    active: str | None  # $VIRTUAL_ENV or $CONDA_PREFIX
    active_is_env: bool | None  # the active env is the recorded one (None: nothing active)
    resolves_to: str | None  # what `venvsel activate` with no --need will use, when known
    message: str  # one line: what `venvsel activate` here will do

    @property
    def ok(self) -> bool:
        return self.state not in ("missing", "broken", "untrusted", "no-env")

    def short(self) -> str:
        """For a shell prompt: the env's name, marked when it is not as chosen; "" when none."""
        if self.env is None:
            return ""
        name = os.path.basename(self.env)
        return name if self.state in ("ok", "unverified", "tool") else f"{name} ({self.state})"


__all__ = [
    "Project",
    "Settings",
    "Status",
    "find_project",
    "project_for_writing",
    "read_settings",
    "recorded_env",
    "recorded_needs",
    "settings_text",
]
