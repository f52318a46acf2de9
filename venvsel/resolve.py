"""The env a command acts on when nothing is asked for: the project's own, or none.

With no ENV, no ``--need`` and no recorded choice, ``pick``/``activate``/``run`` take the
first env the project's files name (:func:`venvsel.projectenv.project_envs`) that exists
and can run. When the project names envs that are gone, or names none, nothing is guessed:
:class:`~venvsel.errors.UnmetError` (exit 1) says so, lists the nearest candidates and the
commands that choose one.
"""

from __future__ import annotations

import os
from typing import Literal

from .errors import UnmetError, UsageError
from .model import Env
from .projectenv import LOCAL_NAMES, Ownership, ProjectEnv, ownership
from .ranking import MIN_PYTHON

_CHOOSE = ("Choose one: `venvsel activate PATH` for this shell, or `venvsel use PATH` to record "
           "it for this project; or give --need (e.g. --need torch) to pick by what it must do.")


def _python_too_old(env: Env) -> str | None:
    from .discover import read_pyvenv_cfg

    cfg = read_pyvenv_cfg(env.path) or {}
    version = cfg.get("version_info") or cfg.get("version") or ""
    if not version and env.kind == "pyenv":
        version = os.path.basename(env.path)
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if len(parts) == 2 and parts < MIN_PYTHON:
        return f"Python {version} is too old to probe"
    return None


def _usable(pe: ProjectEnv) -> tuple[Env | None, str | None]:
    """The env behind ``pe`` when it can run, else (None, why not)."""
    from .discover import env_from_path

    try:
        env = env_from_path(pe.path)
    except UsageError as e:
        return None, e.message
    if env.broken:
        return None, f"it is broken: {env.broken}"
    from .trust import check as trust_check

    trust = trust_check(env)
    if not trust.trusted:
        return None, f"it is {trust.reason} (fix: {trust.fix})"
    old = _python_too_old(env)
    if old:
        return None, old
    return env, None


def _short(path: str) -> str:
    home = os.path.expanduser("~")
    return "~" + path[len(home):] if path.startswith(home + os.sep) else path


def candidates(limit: int = 5) -> list[str]:
    """The nearest envs by the ranking (stat and static reads only), one line each."""
    from .config import load_config
    from .discover import discover
    from .ranking import rank
    from .scan import Scanner

    try:
        envs = discover(None, config=load_config())
    except UsageError:
        return []
    scanner = Scanner()
    ranked = [r for r in rank(scanner.records(envs)) if r.usable]  # one cache transaction
    lines = []
    for r in ranked[:limit]:
        env = r.record.env
        py = r.record.static.python_version
        lines.append(f"  {env.shown_path or _short(env.path)}  ({env.kind}"
                     f"{', Python ' + py if py else ''}{', active' if env.active else ''})")
    return lines


def no_env_message(owned: Ownership, problems: list[str]) -> str:
    where = owned.root or os.getcwd()
    if problems:
        lines = [f"The env of the project at {_short(where)} cannot be used, and venvsel "
                 "will not guess another:"]
        lines += [f"  {p}" for p in problems]
        fixes = [pe.recreate for pe in owned.envs if pe.recreate and pe.tool != "venvsel"]
        if fixes:
            lines.append(f"Recreate it with `{fixes[0]}`, or choose another env with "
                         "`venvsel use PATH` (or `venvsel activate PATH` for this shell).")
        else:
            lines.append("Choose another env with `venvsel use PATH` (or `venvsel activate PATH` "
                         "for this shell).")
        return "\n".join(lines)
    lines = [f"No env belongs to {_short(where)}: nothing recorded with `venvsel use`, no .venv, "
             "and no poetry, pipenv, hatch, pdm, uv, conda or pyenv file names one. "
             "venvsel will not guess."]
    near = candidates()
    if near:
        lines.append("Nearest candidates:")
        lines += near
    lines.append(_CHOOSE)
    return "\n".join(lines)


def project_default(start: str | None = None) -> Env:
    """The first env of the project's own that exists and can run; UnmetError otherwise."""
    owned = ownership(start)
    problems: list[str] = []
    unusual = [pe for pe in owned.envs if pe.tool == "local"
               and os.path.basename(pe.path) not in LOCAL_NAMES]
    for pe in owned.envs:
        if pe.tool == "venvsel":
            continue  # the recorded choice was weighed already (project.recorded_choice)
        if pe in unusual and len(unusual) > 1:
            names = ", ".join(os.path.basename(u.path) for u in unusual)
            raise UnmetError(
                f"The project at {_short(owned.root or '.')} has several env dirs ({names}) and "
                "none is named .venv, so venvsel will not guess which is its env.\n" + _CHOOSE)
        if not pe.exists:
            problems.append(f"{pe.why}: {_short(pe.path)} does not exist (deleted, or never "
                            f"created{f'; `{pe.recreate}` creates it' if pe.recreate else ''})")
            continue
        env, why = _usable(pe)
        if env is not None:
            return env
        problems.append(f"{pe.why}: {_short(pe.path)}: {why}")
    raise UnmetError(no_env_message(owned, problems))


__all__ = ["candidates", "no_env_message", "project_default", "tool_status"]


def tool_status(
    start: str,
) -> tuple[Literal["tool", "missing"], str, str | None, str, str] | None:
    """For ``venvsel status`` where nothing is recorded: (state, project root, env, detail,
    message) from the env the project's tools name; None when the project names none.
    Stat and small reads only (no discovery of other envs): fit for a shell prompt."""
    owned = ownership(start)
    if owned.root is None:
        return None
    problems: list[str] = []
    for pe in owned.envs:
        if pe.tool == "venvsel":
            continue
        if not pe.exists:
            problems.append(f"{pe.why}: {_short(pe.path)} does not exist")
            continue
        env, why = _usable(pe)
        if env is not None:
            return ("tool", owned.root, env.path, pe.why,
                    f"`venvsel activate` here uses {env.path}.")
        problems.append(f"{pe.why}: {why}")
    if not problems:
        return None
    first = next(pe for pe in owned.envs if pe.tool != "venvsel")
    fix = f"`{first.recreate}` recreates it, or " if first.recreate else ""
    return ("missing", owned.root, first.path, "; ".join(problems),
            f"The project's env cannot be used: {fix}`venvsel use PATH` chooses another; "
            "`venvsel activate` here exits 1 rather than guess.")
