"""The resolution layer: which env a command acts on. Every command that acts on one env
(``pick``, ``activate``, ``run``, ``bench``, ``use``, ``status``, the ``cd`` hook) asks here,
and no module below this one imports it.

The order, decided in :func:`resolve_env` alone:

1. an explicit ENV: taken as named (trusted, or exit 2); with ``--need``/``--python`` it must
   meet them (:func:`unmet_reason`) or exit 1 — nothing else is tried;
2. ``--need``/``--python`` given: the best env for them (:func:`venvsel.selection.pick`);
3. neither: the project's recorded needs (``venvsel use``) apply, and its recorded env is
   taken while it exists, is trusted and still meets them (:func:`recorded_choice`; a
   warning says why not, and the best env is picked again);
4. nothing recorded at all: the first env the project's own tool files name that exists and
   can run (:func:`project_default`); none: exit 1 with the nearest candidates — never a guess.

"Meets the needs" is one rule (:func:`unmet_reason`): from the cache and the files, and one
live probe only when a need can be confirmed only live and none is cached
(:func:`venvsel.selection.confirm_live`, the same rule as ``pick``). :func:`status` answers
the same question for a shell prompt from stat calls and small files only.

Imports: ``activate ENV`` (no needs) is the warmest path of all and needs only discovery's
``env_from_path`` and the trust rule. Project settings, the project's tool files, ranking,
selection, scanning and the cache (which pull in the probe, the machine reader and sqlite)
are imported inside the functions that use them, each marked "lazy". Measured warm and
byte-compiled (CPU, median of 21, 2026-12-02): importing what ``activate ENV`` needs
(venvsel.shells and this module) costs 45 ms, 67 ms with those layers at the top of this
module; ``python -c "import click"``: 46 ms.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from .discover import discover, env_from_path, read_pyvenv_cfg
from .errors import UnmetError, UsageError
from .model import Env, needs_text
from .render import warn
from .trust import check as trust_check
from .trust import require_trusted

if TYPE_CHECKING:
    from .project import EnvState, Status
    from .projectenv import Ownership, ProjectEnv

_CHOOSE = ("Choose one: `venvsel activate PATH` for this shell, or `venvsel use PATH` to record "
           "it for this project; or give --need (e.g. --need torch) to pick by what it must do.")


def _python_too_old(env: Env) -> str | None:
    from .ranking import MIN_PYTHON  # lazy: see the module docstring

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
    try:
        env = env_from_path(pe.path)
    except UsageError as e:
        return None, e.message
    if env.broken:
        return None, f"it is broken: {env.broken}"
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
    from .config import load_config  # lazy: see the module docstring
    from .ranking import rank  # lazy: see the module docstring
    from .scan import Scanner  # lazy: see the module docstring

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
    from .projectenv import LOCAL_NAMES, ownership  # lazy: see the module docstring

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


def tool_status(
    start: str,
) -> tuple[Literal["tool", "missing"], str, str | None, str, str] | None:
    """For ``venvsel status`` where nothing is recorded: (state, project root, env, detail,
    message) from the env the project's tools name; None when the project names none.
    Stat and small reads only (no discovery of other envs): fit for a shell prompt."""
    from .projectenv import ownership  # lazy: see the module docstring

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


# ------------------------------------------------------------------ the env a command acts on


def resolve_env(env_arg: str | None, needs: Sequence[str], python_spec: str | None) -> Env:
    """The env a command should act on: an explicit ENV, or the best pick for the needs.

    With no ENV and no needs, the project's recorded needs (``venvsel use``) apply when the
    project has them, and the env it recorded is taken while it still exists and still
    satisfies them (else a warning says why, and the best env is picked again); with nothing
    recorded, the best env overall is taken.
    """
    if env_arg:
        env = env_from_path(env_arg)
        require_trusted(env)  # named explicitly and untrusted: exit 2 with `venvsel trust ...`
        if needs or python_spec is not None:  # named with needs: it must meet them
            reason = unmet_reason(env, needs, python_spec)
            if reason is not None:
                raise UnmetError(reason)  # a guarded `run --env E --need cuda` runs nothing
        return env
    roots = None
    if not needs and python_spec is None:
        needs, python_spec = project_needs()
        recorded = recorded_choice(needs, python_spec)
        if recorded is not None:
            return recorded
        if not needs and python_spec is None:
            return project_default()  # the project's own env, or exit 1: never a guess
        from .project import find_project  # lazy: see the module docstring

        project = find_project()
        roots = [project.root] if project is not None else None  # re-pick from a subdir too
    from .selection import pick  # lazy: see the module docstring

    result = pick(needs, python_spec, roots=roots)
    if result.chosen is None:
        raise UnmetError(result.explain())
    return result.chosen.env


def project_needs() -> tuple[list[str], str | None]:
    """Needs recorded for the current project (``venvsel use``); ``([], None)`` when none."""
    from .project import recorded_needs  # lazy: see the module docstring

    return recorded_needs()


# ---------------------------------------------------------------- does an env meet the needs


def unmet_reason(env: Env, needs: Sequence[str], python_spec: str | None,
                 *, timeout: float | None = None) -> str | None:
    """Why ``env`` does not satisfy the needs (None: it does). Answers from the cache and the
    static facts; spawns one live probe only when a need can be confirmed only live and no
    probe is cached (:func:`venvsel.selection.confirm_live`, pick's rule)."""
    from .scan import Scanner  # lazy: see the module docstring
    from .selection import confirm_live, evaluate, parse_needs  # lazy: see the module docstring

    label = env.shown_path or env.path
    if env.broken:
        return f"{label} is broken: {env.broken}"

    parsed = parse_needs(needs, python_spec)
    if not parsed:
        return None
    scanner = Scanner()
    record = scanner.record(env)
    ev = confirm_live(scanner, evaluate(record, parsed, scanner.machine), timeout=timeout)
    if ev.failing is None:
        return None
    need, verdict = ev.failing
    fix = f" (fix: {verdict.fix})" if verdict.fix else ""
    return f"{label} does not satisfy {need}: {verdict.reason}{fix}"


def recorded_choice(needs: Sequence[str], python_spec: str | None,
                    start: str | None = None) -> Env | None:
    """The env `venvsel use` recorded for this project, when it still exists and still
    satisfies ``needs``; otherwise None, with a warning on stderr saying why (the caller then
    picks again). Used by :func:`resolve_env` when no --need is given."""
    from .project import recorded_env  # lazy: see the module docstring

    path = recorded_env(start)
    if path is None:
        return None
    wanted = needs_text(needs, python_spec)
    again = f"; picking again for {wanted}" if wanted else "; picking again"
    if not os.path.isdir(path):
        warn(f"the project's env {path} no longer exists{again} "
             "(`venvsel use` records a new one).")
        return None
    try:
        env = env_from_path(path)
    except UsageError as e:
        warn(f"the project's env {path} is no longer usable ({e.message}){again}.")
        return None
    trust = trust_check(env)
    if not trust.trusted:
        warn(f"the project's env {path} is {trust.reason}{again} (fix: {trust.fix}).")
        return None
    reason = unmet_reason(env, needs, python_spec)
    if reason is not None:
        warn(f"{reason}{again}.")
        return None
    return env


def require_satisfied(env: Env, needs: Sequence[str], python_spec: str | None,
                      *, timeout: float | None = None) -> None:
    """UnmetError (exit 1) when ``env`` does not satisfy the needs."""
    reason = unmet_reason(env, needs, python_spec, timeout=timeout)
    if reason is not None:
        raise UnmetError(reason)


# --------------------------------------------------------------------------- status


def _active_env() -> str | None:
    return os.environ.get("VIRTUAL_ENV") or os.environ.get("CONDA_PREFIX") or None


def status(start: str | None = None) -> Status:
    """The project's recorded needs and env, and whether that env is still what was chosen.
    Spawn-free and light: stat() calls and small files (suitable for a shell prompt)."""
    from .cache import env_fingerprint  # lazy: see the module docstring
    from .project import Status, find_project  # lazy: see the module docstring

    cwd = os.path.abspath(start or os.getcwd())
    active = _active_env()
    project = find_project(cwd)
    if project is None or project.settings is None:
        own = tool_status(cwd)
        if own is not None:  # the env the project's own tools name (or its absence)
            state, root, env_path, detail, message = own
            same = None
            if active and env_path:
                same = os.path.realpath(active) == os.path.realpath(env_path)
            return Status(cwd, root, None, (), None, env_path, state, detail, None, active, same,
                          env_path if state == "tool" else None, message)
        return Status(cwd, None, None, (), None, None, "no-project",
                      "no venvsel settings in this directory or its parents", None, active, None,
                      None, "No project settings and no env of the project's own: `venvsel "
                      "activate` with no ENV or --need exits 1 rather than guess (`venvsel use "
                      "PATH` records one; --need picks by what it must do).")
    s = project.settings
    wanted = needs_text(s.needs, s.python) or "(none)"
    path = project.env_path()
    chosen_at = None
    resolves: str | None = None

    def make(state: EnvState, detail: str, message: str) -> Status:
        same = None
        if active:
            same = path is not None and os.path.realpath(active) == os.path.realpath(path)
        return Status(cwd, project.root, project.file, s.needs, s.python, path, state, detail,
                      chosen_at, active, same, resolves, message)

    if path is None:
        return make("not-recorded", "no env recorded, only needs",
                    f"`venvsel activate` here picks the best env for {wanted}.")
    if not os.path.lexists(path) or not os.path.isdir(path):
        return make("missing", f"{path} no longer exists",
                    f"`venvsel activate` here will pick again for {wanted}; "
                    "`venvsel use` records the new choice.")
    try:
        env = env_from_path(path)
    except UsageError as e:
        return make("broken", f"{path} is not a usable env any more: {e.message}",
                    f"`venvsel activate` here will pick again for {wanted}.")
    if env.broken:
        return make("broken", f"{path} is broken: {env.broken}",
                    f"`venvsel activate` here will pick again for {wanted}; "
                    f"or `venvsel repair {path}`.")
    trust = trust_check(env)
    if not trust.trusted:
        return make("untrusted", f"{path} is {trust.reason}",
                    f"`venvsel activate` here will not use it and picks again for {wanted}; "
                    f"fix: {trust.fix}.")
    # Here, not at the top: the undo journal's module imports hashlib and base64 (~6 ms with
    # `python -X importtime`), which a warm `pick`/`activate` never needs; only status reads it.
    from .use.journal import load_chosen

    chosen = load_chosen(project.root)
    resolves = env.path
    if chosen is None or os.path.realpath(chosen.env) != env.path:
        return make("unverified", "chosen elsewhere (no record of it on this machine)",
                    f"`venvsel activate` here uses {path} after checking it satisfies {wanted}.")
    chosen_at = chosen.time

    if chosen.fingerprint != env_fingerprint(env):
        return make("changed", "the env changed since `venvsel use` chose it "
                    "(packages or interpreter)",
                    f"`venvsel activate` here checks {path} again for {wanted} and picks "
                    "again if it no longer fits; `venvsel use` accepts the change.")
    return make("ok", "unchanged since `venvsel use` chose it",
                f"`venvsel activate` here uses {path}.")


__all__ = [
    "candidates",
    "no_env_message",
    "project_default",
    "project_needs",
    "recorded_choice",
    "require_satisfied",
    "resolve_env",
    "status",
    "tool_status",
    "unmet_reason",
]
