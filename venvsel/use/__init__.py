"""`venvsel use`: pin a project to the env that fits, for shells, editors and scripts.

:func:`use_env` records the project's needs and chosen env (:mod:`venvsel.project`), then, as
asked, points the tools that look at one path only at that env: VS Code's
``python.defaultInterpreterPath`` (:mod:`.vscode`), a ``.venv`` link, direnv's ``.envrc``
(:mod:`.direnv`). Every edit is prepared and checked before the first one is made; the changes
then go through :mod:`.journal`, so a failure midway rolls back what was done and
:func:`undo` restores exactly what was there.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..cache import env_fingerprint
from ..discover import env_from_path
from ..errors import OperationFailed, UnmetError, UsageError, VenvselError
from ..model import needs_text
from ..project import Settings, project_for_writing, settings_text
from ..resolve import require_satisfied
from ..selection import pick
from ..trust import require_trusted
from . import journal
from . import vscode as vs
from .direnv import ENVRC, envrc_text

if TYPE_CHECKING:
    from .journal import Action


@dataclass(frozen=True)
class UseResult:
    root: str
    settings_file: str
    needs: tuple[str, ...]
    python: str | None
    env: str  # real path of the chosen env
    env_recorded: str  # as written into the settings (relative to root when inside)
    why: str  # how it was chosen
    changes: tuple[str, ...]  # one line per change made (empty: all already in place)
    notes: tuple[str, ...]  # things the user should do or know
    undo_command: str | None


@dataclass(frozen=True)
class UndoResult:
    root: str
    restored: tuple[str, ...]
    remaining: int  # earlier `venvsel use` runs that can still be undone


def _interpreter_setting(root: str, env_path: str, layout: str) -> str:
    """VS Code's value: ``${workspaceFolder}/...`` inside the project (it can move, and the
    file can be committed), else the absolute path."""
    rel = ("Scripts", "python.exe") if layout == "windows" else ("bin", "python")
    prefix = os.path.normpath(root).rstrip(os.sep) + os.sep
    if env_path.startswith(prefix):
        inner = env_path[len(prefix):].replace(os.sep, "/")
        return "${workspaceFolder}/" + inner + "/" + "/".join(rel)
    return os.path.join(env_path, *rel)


def _read_text(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise UsageError(f"{path} cannot be read: {e.strerror or e}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text; venvsel will not edit it.") from None


def use_env(
    env_arg: str | None,
    needs: Sequence[str],
    python_spec: str | None,
    *,
    vscode: bool = False,
    link: str | None = None,
    direnv: bool = False,
    timeout: float | None = None,
    start: str | None = None,
) -> UseResult:
    """Choose the env (ENV, or the best pick for the needs), record it in the project, point
    the requested tools at it; every change recorded for :func:`undo`."""

    project = project_for_writing(start)
    root = project.root
    needs = list(needs)
    if not needs and python_spec is None and project.settings is not None:
        needs, python_spec = list(project.settings.needs), project.settings.python
    if not needs and python_spec is None and env_arg is None:
        raise UsageError(
            "Say what this project needs, or which env it uses.",
            hint="e.g. venvsel use --need torch   or   venvsel use .venv310",
        )

    # 1. The env.
    if env_arg is not None:
        env = env_from_path(env_arg)
        require_trusted(env)  # untrusted: exit 2 with the `venvsel trust ...` line
        require_satisfied(env, needs, python_spec, timeout=timeout)
        why = "given on the command line" + (
            f"; it satisfies {needs_text(needs, python_spec)}" if needs or python_spec else "")
    else:
        result = pick(needs, python_spec, roots=[root], timeout=timeout)
        if result.chosen is None:
            raise UnmetError(result.explain())
        env = result.chosen.env
        ev = next(e for e in result.evaluations if e.record.env.path == env.path)
        why = "the best env for " + needs_text(needs, python_spec) + ": " + \
            "; ".join(v.reason for _, v in ev.checks)
    if env.broken:
        raise UnmetError(f"{env.path} is broken: {env.broken}",
                         hint=f"venvsel repair {env.path}")
    recorded = journal.rel_to(root, env.path)
    settings = Settings(tuple(needs), python_spec, recorded)

    # 2. Prepare every edit; a refusal here leaves the project untouched.
    settings_rel = journal.rel_to(root, project.file)
    journal.check_writable(root, settings_rel)
    new_settings = settings_text(project.kind, _read_text(project.file), settings)
    toml = None
    if project.kind == "pyproject":
        toml = journal.TomlEdit(
            "pyproject", project.settings.as_toml_data() if project.settings else None,
            settings.as_toml_data())
    table = " [tool.venvsel]" if project.kind == "pyproject" else ""
    recorded_text = ", ".join(f"{k} = {json.dumps(v)}" for k, v in settings.as_toml_data().items())
    steps: list[tuple[str, Callable[[], journal.Action | None]]] = [(
        f"{settings_rel}{table}: {recorded_text}",
        lambda: journal.write_file(root, settings_rel, new_settings.encode("utf-8"), toml),
    )]
    notes: list[str] = []
    if vscode:
        journal.check_writable(root, vs.SETTINGS)
        value = _interpreter_setting(root, env.path, env.layout)
        try:
            new_vs = vs.set_key(_read_text(os.path.join(root, vs.SETTINGS)),
                                vs.INTERPRETER_KEY, value)
        except vs.Refusal as e:
            raise UsageError(
                f"{vs.SETTINGS} cannot be edited safely: {e}.",
                hint=f'Add "{vs.INTERPRETER_KEY}": "{value}" by hand, or fix the file.',
            ) from None
        steps.append((f"{vs.SETTINGS}: {vs.INTERPRETER_KEY} = {value}",
                      lambda: journal.write_file(root, vs.SETTINGS, new_vs.encode("utf-8"))))
        notes.append("VS Code reads python.defaultInterpreterPath only until an interpreter "
                     "is selected for the workspace; if one was, run \"Python: Clear "
                     "Workspace Interpreter Setting\" once.")
    if link is not None:
        link_rel = journal.rel_to(root, os.path.join(root, os.path.expanduser(link)))
        link_plan = journal.check_link(root, link_rel, env.path)
        if link_plan is not None:
            steps.append((link_plan, lambda: journal.make_link(root, link_rel, env.path)))
    if direnv:
        journal.check_writable(root, ENVRC)
        new_envrc = envrc_text(_read_text(os.path.join(root, ENVRC)))
        steps.append((f"{ENVRC}: activates the project's env through venvsel",
                      lambda: journal.write_file(root, ENVRC, new_envrc.encode("utf-8"))))
        notes.append("run `direnv allow` once to let direnv load the new .envrc.")

    # 3. Apply; on any failure undo what was done, newest first.
    done: list[journal.Action] = []
    changes: list[str] = []
    try:
        for desc, step in steps:
            action = step()
            if action is not None:
                done.append(action)
                changes.append(desc)

        journal.push(root, done, journal.Chosen(env.path, env_fingerprint(env), time.time()))
    except BaseException as exc:
        failed_undo = _roll_back(root, done)
        if isinstance(exc, (KeyboardInterrupt, VenvselError)) and not failed_undo:
            raise
        tail = (f" Could not roll back: {'; '.join(failed_undo)}." if failed_undo
                else " Everything it had changed was put back.")
        raise OperationFailed(f"venvsel use failed: {exc}.{tail}") from exc
    return UseResult(root, project.file, tuple(needs), python_spec, env.path, recorded, why,
                     tuple(changes), tuple(notes),
                     "venvsel use --undo" if done else None)


def _roll_back(root: str, done: list[Action]) -> list[str]:
    failed = []
    for a in reversed(done):
        try:
            journal.undo_action(root, a)
        except Exception as e:  # report every leftover, keep undoing the rest
            failed.append(f"{a.path}: {e}")
    return failed


def undo(start: str | None = None) -> UndoResult:
    """Undo the last `venvsel use` in this project: every change back exactly as it was.
    Refuses, changing nothing, when something it would restore was changed by hand since."""

    cwd = os.path.abspath(start or os.getcwd())
    root = journal.find_state_root(cwd)
    if root is None:
        raise UnmetError(
            "Nothing to undo: `venvsel use` has made no changes in this project "
            "(or they were all undone already).")
    state = journal.load_state(root)
    if not state.undo:
        raise UnmetError("Nothing to undo: every `venvsel use` here was undone already.")
    entry = state.undo[-1]
    actions = entry.actions
    conflicts = [c for c in (journal.conflict(root, a) for a in actions) if c]
    if conflicts:
        raise OperationFailed(
            "Cannot undo without losing changes made since `venvsel use`: "
            + "; ".join(conflicts) + ". Nothing was changed.",
            hint="Put those back as venvsel left them (or keep them and edit by hand).")
    restored = []
    while actions:
        a = actions[-1]
        try:
            restored.append(journal.undo_action(root, a))
        except OSError as e:
            journal.save_state(root, state)  # what is undone stays undone; the rest stays listed
            raise OperationFailed(f"undo stopped at {a.path}: {e.strerror or e}",
                                  hint="Fix that and run `venvsel use --undo` again.") from None
        actions.pop()
    state.undo.pop()
    state.chosen = entry.chosen_before
    journal.save_state(root, state)
    return UndoResult(root, tuple(restored), len(state.undo))


__all__ = ["UndoResult", "UseResult", "undo", "use_env"]
