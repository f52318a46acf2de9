"""Auto-activation: what ``venvsel shell-hook SHELL --auto`` runs when the directory changed.

The hook keeps three shell variables (never exported): ``_VENVSEL_AUTO_PWD`` (the directory
it last looked at), ``_VENVSEL_AUTO_ROOT`` (the project root that answer holds for) and
``_VENVSEL_AUTO_ENV`` (the env it activated). At each prompt it compares ``$PWD`` with the
first and the second as a prefix, in the shell: nothing changed, or a move inside the same
project, starts no process. Otherwise it runs ``venvsel auto --shell SHELL --active
"$_VENVSEL_AUTO_ENV"`` once and evaluates what :func:`auto_code` prints:

* the new values of ``_VENVSEL_AUTO_ROOT`` and ``_VENVSEL_AUTO_ENV``;
* leaving the env auto-activation put there (a normal deactivation: exactly what was there
  before comes back), when the new directory's project has another env or none;
* activating the project's env, when no env is active. An env the user activated by hand
  (venvsel's or another tool's) is never replaced; a project whose env is missing, not
  trusted, or does not meet the project's recorded needs gets one line on stderr, and
  nothing is activated.

Which env belongs to a project is :func:`project_env` — the one place to change when that
rule grows. Whether an env may be activated without asking is :func:`untrusted_reason`.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from typing import Literal, NamedTuple

from .discover import env_from_path
from .errors import UsageError, VenvselError
from .model import Env
from .paths import walk_up
from .resolve import unmet_reason
from .shells import ShellCode, render, write
from .shells import operations as p
from .shells.fish import quote as fish_quote
from .shells.powershell import quote as ps_quote
from .shells.sh import quote
from .trust import check as trust_check

ROOT_VAR = "_VENVSEL_AUTO_ROOT"
ENV_VAR = "_VENVSEL_AUTO_ENV"
RE_VAR = "_VENVSEL_AUTO_RE"  # fish: a PCRE2 pattern matching "$PWD/" inside the root
PROJECT_VENV = ".venv"


class ProjectEnv(NamedTuple):
    """The project a directory belongs to and the env that goes with it."""

    root: str  # absolute, as the shell spells it ($PWD: symlinks not resolved)
    env: str | None  # absolute path of the project's env; None: the project has none
    needs: tuple[str, ...] = ()
    python: str | None = None
    source: str = ""  # where the answer came from, for messages


def project_env(start: str) -> ProjectEnv | None:
    """The project containing ``start`` and its env, or None outside any project.

    Today's rule (one function, so the project-envs resolution can replace it): walking up
    from ``start`` (the walk stops at a repository root, as :mod:`venvsel.project` does),
    the first directory that records venvsel settings (``.venvsel.toml`` or ``pyproject.toml``
    ``[tool.venvsel]``) is the project, and its env is the recorded one (``venvsel use``),
    else its ``.venv``; a directory with a ``.venv`` env and no settings is a project too.
    """
    for d in walk_up(start):
        for name, kind in ((SETTINGS_FILE, "venvsel-toml"), (PYPROJECT, "pyproject")):
            path = os.path.join(d, name)
            if not _may_hold_settings(path, name == PYPROJECT):
                continue
            from .project import read_settings  # only for a file that mentions venvsel

            settings = read_settings(path, kind)  # type: ignore[arg-type]
            if settings is None:
                continue
            if settings.env:
                env = os.path.normpath(os.path.join(d, os.path.expanduser(settings.env)))
                return ProjectEnv(d, env, settings.needs, settings.python, f"recorded in {name}")
            local = os.path.join(d, PROJECT_VENV)
            return ProjectEnv(d, local if _is_env_dir(local) else None, settings.needs,
                              settings.python, f"{PROJECT_VENV} (nothing recorded in {name})")
        local = os.path.join(d, PROJECT_VENV)
        if _is_env_dir(local):
            return ProjectEnv(d, local, (), None, f"the project's {PROJECT_VENV}")
    return None


# The names venvsel.project uses, repeated here so that a change of directory outside any
# venvsel project imports neither that module nor a TOML parser (the hook runs this often).
SETTINGS_FILE = ".venvsel.toml"
PYPROJECT = "pyproject.toml"


def _may_hold_settings(path: str, pyproject: bool) -> bool:
    """Whether ``path`` exists and, for pyproject.toml, mentions venvsel at all (a
    ``[tool.venvsel]`` table cannot be written without the word): the TOML parser runs only
    for files that can hold settings."""
    if not pyproject:
        return os.path.isfile(path)
    try:
        with open(path, "rb") as fh:
            return b"venvsel" in fh.read()
    except OSError:
        return False


def _is_env_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg")) or os.path.isdir(
        os.path.join(path, "conda-meta"))


def untrusted_reason(env: Env) -> str | None:
    """Why ``env`` must not be activated on ``cd`` without asking (None: it may be).

    Activating puts the env's bin dir first on PATH, so whoever can write there chooses what
    ``ls`` runs. The rule here is the stat-only one of DESIGN.md ("Trust") for the env dir
    and its bin dir: owned by the current user or root, not writable by group or others.
    Then the full trust rule (venvsel/trust.py: start-up files, the interpreter); an env
    trusted with ``venvsel trust`` passes both.
    """

    verdict = trust_check(env)
    if verdict.explicit:
        return None
    uid = os.getuid() if hasattr(os, "getuid") else None
    bindir = p.env_path_entries(env.path, conda=env.kind == "conda",
                                windows=env.layout == "windows")[-1]
    for path in (env.path, bindir):
        try:
            st = os.stat(path)
        except OSError as exc:
            return f"{path} cannot be read ({exc.strerror})"
        if uid is not None and st.st_uid not in (uid, 0):
            return f"{path} belongs to another user (uid {st.st_uid})"
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return f"{path} is writable by other users"
    if not verdict.trusted:
        return f"{verdict.reason[len('untrusted: '):]}; if you trust it: {verdict.command}"
    return None


def _shell_pwd(environ: Mapping[str, str]) -> str:
    """The current directory as the shell spells it ($PWD keeps symlinks), when it is one."""
    pwd = environ.get("PWD", "")
    if pwd and os.path.isabs(pwd):
        try:
            if os.path.samefile(pwd, "."):
                return pwd
        except OSError:
            pass
    return os.getcwd()


def _auto_env_in_stack(environ: Mapping[str, str], auto_env: str) -> bool:
    depth = p.current_depth(environ)
    return any(environ.get(p.frame_var(d, p.STATE_ENV)) == auto_env for d in range(1, depth + 1))


def prefix_regex(root: str) -> str:
    """A PCRE2 pattern that matches exactly the strings starting with ``root + "/"``: the
    text between ``\\Q`` and ``\\E`` is literal, and a ``\\E`` inside it is spelled
    ``\\E\\\\E\\Q`` (end quoting, a literal backslash and E, quote again)."""
    return "^\\Q" + (root + "/").replace("\\E", "\\E\\\\E\\Q") + "\\E"


def _assign(shell: str, name: str, value: str | None) -> str:
    if shell in ("bash", "zsh", "sh"):
        return f"unset {name}" if value is None else f"{name}={quote(value)}"
    if shell == "fish":
        return f"set -e -g {name}" if value is None else f"set -g {name} {fish_quote(value)}"
    if shell in ("pwsh", "powershell"):
        return f"$global:{name} = " + ("$null" if value is None else ps_quote(value))
    raise UsageError(f"auto-activation is not available for {shell!r}",
                     hint="It works in bash, zsh, fish and PowerShell.")


AutoAction = Literal["none", "activate", "deactivate", "switch", "keep", "refuse"]


class AutoResult(NamedTuple):
    code: str
    project: ProjectEnv | None
    action: AutoAction
    message: str | None = None  # the line written to stderr


def _say(message: str) -> None:
    sys.stderr.write(f"venvsel: {message}\n")


def _check(target: str, project: ProjectEnv) -> tuple[Env | None, str | None]:
    """The env to activate, or why not (one line)."""

    if not os.path.lexists(target):
        return None, f"not activating {target} for {project.root}: it does not exist " \
                     "(`venvsel use` records another env)"
    try:
        env = env_from_path(target)
    except UsageError as exc:
        return None, f"not activating {target} for {project.root}: {exc.message}"
    reason = untrusted_reason(env)
    if reason is not None:
        return None, f"not activating {target} for {project.root}: not trusted: {reason}"
    if project.needs or project.python:
        unmet = unmet_reason(env, project.needs, project.python)
        if unmet is not None:
            return None, f"not activating for {project.root}: {unmet}"
    return env, None


def auto_code(shell: str, auto_env: str | None, environ: Mapping[str, str] | None = None,
              start: str | None = None) -> AutoResult:
    """The code for the hook to evaluate after a change of directory (see the module doc).

    ``auto_env`` is the env auto-activation activated earlier in this shell (the hook's
    ``_VENVSEL_AUTO_ENV``), None when none.
    """

    environ = os.environ if environ is None else environ
    here = start if start is not None else _shell_pwd(environ)
    project = project_env(here)
    root = None
    if project is not None:  # without a trailing separator ("/" itself: no prefix check)
        root = project.root.rstrip("\\/" if os.name == "nt" else "/") or None
    target = project.env if project is not None else None
    lines: list[str] = [_assign(shell, ROOT_VAR, root)]
    if shell == "fish":  # fish tests the prefix with one builtin regex match: no substitution
        lines.append(_assign(shell, RE_VAR, None if root is None else prefix_regex(root)))
    active = environ.get(p.STATE_ENV)
    ours = auto_env is not None and active == auto_env and not (
        environ.get("VIRTUAL_ENV") not in (None, "", active)
    )
    other_active = not ours and bool(
        active or environ.get("VIRTUAL_ENV") or environ.get("CONDA_PREFIX"))
    os_name = "nt" if shell in ("pwsh", "powershell") and os.name == "nt" else "posix"

    if other_active:
        # The user's env (or one they activated on top of ours): never replaced.
        keep = auto_env if auto_env is not None and _auto_env_in_stack(environ, auto_env) \
            else None
        lines.append(_assign(shell, ENV_VAR, keep))
        return AutoResult("\n".join(lines) + "\n", project, "keep")

    env: Env | None = None
    message = None
    if project is not None and target is not None:
        if ours and os.path.realpath(target) == os.path.realpath(auto_env or ""):
            lines.append(_assign(shell, ENV_VAR, auto_env))
            return AutoResult("\n".join(lines) + "\n", project, "none")
        env, message = _check(target, project)
        if message is not None:
            _say(message)
    action: AutoAction = "none" if env is None else "activate"
    current: Mapping[str, str] = environ
    if ours:
        deact = p.build_deactivate_plan(environ, os_name=os_name)
        if deact is not None:
            lines.append(render(deact, shell).rstrip("\n"))
            current = p.apply_to_environ(deact, environ)
            action = "switch" if env is not None else "deactivate"
    new_auto = None
    if env is not None:
        plan = p.build_plan(env, current, os_name=os_name)
        lines.append(render(plan, shell).rstrip("\n"))
        new_auto = env.path
    lines.append(_assign(shell, ENV_VAR, new_auto))
    if message is not None:
        action = "refuse" if action == "none" else action
    return AutoResult("\n".join(lines) + "\n", project, action, message)


def main(argv: list[str] | None = None) -> int:
    """The hook's auto step without the CLI (no click import; the hook runs it at each change
    of directory): ``--shell SHELL --active ENV``, as ``venvsel auto`` takes them."""

    args = sys.argv[1:] if argv is None else argv
    opts = {"--shell": "", "--active": ""}
    for flag, value in zip(args[::2], args[1::2]):
        if flag not in opts:
            sys.stderr.write(f"venvsel: auto: unknown option {flag}\n")
            return 2
        opts[flag] = value
    try:
        result = auto_code(opts["--shell"], opts["--active"] or None)
        write(ShellCode(shell=opts["--shell"], code=result.code, env=None))
    except VenvselError as err:
        sys.stderr.write(f"venvsel: {err}\n")
        return err.exit_code
    return 0


__all__ = ["ENV_VAR", "RE_VAR", "ROOT_VAR", "AutoResult", "ProjectEnv", "auto_code", "main",
           "project_env", "untrusted_reason"]
