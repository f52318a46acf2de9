"""The shell-neutral activation plan: what activating (or deactivating) an env changes.

:func:`build_plan` turns an :class:`~venvsel.model.Env` and the caller's environment into a
frozen list of operations; one renderer per shell family (posix, fish, powershell, cmd) turns
the operations into code, each with its own quote function. ``venvsel run`` applies the same
plan to a copy of ``os.environ`` (:func:`apply_to_environ`), so a command run through venvsel
sees exactly what an activated shell would.

Semantics, shared by every shell:

* Activating deactivates whatever env is active first: an env venvsel activated (its saved
  state is restored), or one a venv/virtualenv activate script or conda activated (its bin
  dirs leave PATH, its variables are unset, and its own ``deactivate`` runs when the shell
  has one, so its prompt comes back).
* ``deactivate`` (the shell function the plan defines, or ``venvsel deactivate`` from any
  child shell) returns to the state before activation: PATH and PYTHONHOME as they were
  (saved in the exported ``_VENVSEL_OLD_PATH`` / ``_VENVSEL_OLD_PYTHONHOME``, the latter only
  when it was set), the env variables unset, the prompt back, every ``_VENVSEL_`` variable
  gone.
* Envs stack, as ``conda activate`` / ``conda deactivate`` do. Activating B while an env A is
  active (venvsel's, or one another tool activated) first pushes a *frame*: the exact values
  of every variable activation changes (:data:`FRAME_VARS`), in exported
  ``_VENVSEL_S<n>_<NAME>`` variables (absent when the variable was unset), with the depth in
  ``_VENVSEL_DEPTH``; the interactive shell also keeps its prompt state in shell variables.
  ``deactivate`` pops the frame: the environment is A's again, byte for byte, and
  ``deactivate`` is defined again for A (venvsel's) or removed (another tool's A: its own
  function did not survive; ``venvsel deactivate`` leaves it). Activating the env that is
  already active pushes nothing.
* The saved values are taken from the *shell's* own variables, in the shell: a launcher
  between the shell and venvsel (pyenv's shims, mise, asdf) hands venvsel a PATH with its own
  dirs in front, and saving that would leave them behind after ``deactivate``; and another
  tool's ``deactivate`` may have just put PYTHONHOME back. Each save and restore operation
  also carries the value computed here, for cmd.exe (which cannot compute) and ``venvsel run``.
* Values no shell can hold safely are refused here with :class:`~venvsel.errors.UsageError`
  before anything is rendered: NUL anywhere, the PATH separator inside the env path
  (conda #11460). Renderers refuse what only their shell cannot hold (cmd.exe's metacharacters).
* The prompt lives in shell variables the CLI cannot see, so prompt operations are rendered as
  code that saves and restores it inside the shell, and the env name reaches the prompt only
  through a variable reference (a name like ``$(id)`` must not run at every prompt).

This module imports nothing heavy: it is on the warm ``venvsel activate`` path.
"""

from __future__ import annotations

import ast
import ntpath
import os
import posixpath
from collections.abc import Iterator, Mapping
from typing import Union

from ..errors import UsageError
from ..model import Env

STATE_ENV = "_VENVSEL_ENV"  # the env venvsel activated; present while one is active
OLD_PREFIX = "_VENVSEL_OLD_"  # _VENVSEL_OLD_PATH etc.: the values before activation
OLD_ENV_PROMPT = "_VENVSEL_OLD_PROMPT"  # cmd.exe keeps its prompt in the PROMPT variable

OLD_PATH = OLD_PREFIX + "PATH"

SAVED = ("PYTHONHOME",)  # restored by deactivate when it was set (PATH is saved on its own)
# Unset by deactivate: set by this activation, or by the env it deactivated.
CLEARED = (
    "VIRTUAL_ENV",
    "VIRTUAL_ENV_PROMPT",
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
    "CONDA_PROMPT_MODIFIER",
)
MANAGED = ("PATH", *SAVED, *CLEARED)  # every variable activation changes
STATE_VARS = (STATE_ENV, OLD_PATH, *(OLD_PREFIX + name for name in SAVED))

DEPTH = "_VENVSEL_DEPTH"  # how many frames are pushed (absent: none)
FRAME_PREFIX = "_VENVSEL_S"  # frame n of NAME: _VENVSEL_S<n>_<NAME>
# What a frame holds: every variable activation or deactivation changes, and those a
# venv/virtualenv script's own deactivate changes when it leaves (virtualenv also sets
# PKG_CONFIG_PATH, TCL_LIBRARY, TK_LIBRARY); cmd.exe also keeps its prompt in the environment.
FOREIGN_VARS = ("PKG_CONFIG_PATH", "TCL_LIBRARY", "TK_LIBRARY")
FRAME_VARS = (*MANAGED, *STATE_VARS, *FOREIGN_VARS)
FRAME_VARS_NT = (*FRAME_VARS, "PROMPT", OLD_ENV_PROMPT)
MAX_DEPTH = 64  # a deeper stack is refused (each frame is ~10 exported variables)


def frame_var(depth: int, name: str) -> str:
    """The variable that holds ``name`` in frame ``depth``."""
    return f"{FRAME_PREFIX}{depth}_{name}"


# --------------------------------------------------------------------------- operations


class _Op:
    """An immutable value: equality, hash and repr come from ``__slots__``.

    Plain classes rather than dataclasses: this module is on the warm ``venvsel activate``
    path, and fifteen frozen dataclasses cost ~7 ms of generated code at import.
    """

    __slots__: tuple[str, ...] = ()

    def _init(self, **values: object) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Op) and type(other) is type(self) and (
            self._values() == other._values()
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({args})"


class SetVar(_Op):
    """Set and export an environment variable."""

    __slots__ = ("name", "value")
    name: str
    value: str

    def __init__(self, name: str, value: str) -> None:
        self._init(name=name, value=value)


class UnsetVar(_Op):
    """Remove an environment variable (no error when it is not set)."""

    __slots__ = ("name",)
    name: str

    def __init__(self, name: str) -> None:
        self._init(name=name)


class SaveVar(_Op):
    """Save variable ``name`` in ``_VENVSEL_OLD_<name>`` (removed when ``name`` is unset),
    from the shell's own value, unless ``keep``: venvsel's saved state is active and stays.
    ``literal`` is the value to save as computed from the environment venvsel saw."""

    __slots__ = ("keep", "literal", "name")
    name: str
    keep: bool
    literal: str | None

    def __init__(self, name: str, keep: bool, literal: str | None) -> None:
        self._init(name=name, keep=keep, literal=literal)


class RestoreVar(_Op):
    """``name = _VENVSEL_OLD_<name>``, or unset ``name`` when nothing was saved.
    ``literal`` as computed from the environment venvsel saw (None: unset)."""

    __slots__ = ("literal", "name")
    name: str
    literal: str | None

    def __init__(self, name: str, literal: str | None) -> None:
        self._init(name=name, literal=literal)


class SavePath(_Op):
    """Save the PATH that ``deactivate`` restores in ``_VENVSEL_OLD_PATH``.

    ``keep``: venvsel's saved state is active and stays as it is. Otherwise the shell saves
    its own ``$PATH`` with the first occurrence of each of ``remove`` (the dirs of the env
    that was active) taken out. ``literal`` is that value as computed from the environment
    venvsel saw (None: PATH unset), for shells that cannot compute it.
    """

    __slots__ = ("keep", "literal", "remove", "sep")
    remove: tuple[str, ...]
    keep: bool
    literal: str | None
    sep: str

    def __init__(
        self, remove: tuple[str, ...], keep: bool, literal: str | None, sep: str
    ) -> None:
        self._init(remove=remove, keep=keep, literal=literal, sep=sep)


class PrependPath(_Op):
    """``PATH = entries`` followed by the saved PATH (``_VENVSEL_OLD_PATH``) when not empty.

    ``rest`` is the saved PATH as computed from the environment venvsel saw.
    """

    __slots__ = ("entries", "rest", "sep")
    entries: tuple[str, ...]
    rest: str | None
    sep: str

    def __init__(self, entries: tuple[str, ...], rest: str | None, sep: str) -> None:
        self._init(entries=entries, rest=rest, sep=sep)

    @property
    def value(self) -> str:
        parts = list(self.entries)
        if self.rest:
            parts.append(self.rest)
        return self.sep.join(parts)


class RestorePath(_Op):
    """``PATH = _VENVSEL_OLD_PATH``; ``literal`` as computed from the environment venvsel
    saw (None: PATH was unset)."""

    __slots__ = ("literal", "sep")
    literal: str | None
    sep: str

    def __init__(self, literal: str | None, sep: str) -> None:
        self._init(literal=literal, sep=sep)


class SetPrompt(_Op):
    """Save the shell's prompt (once) and show ``prefix`` in front of it.

    ``env_prompt`` is the PROMPT *environment variable* before activation; only cmd.exe keeps
    its prompt there (other shells save theirs in shell variables, in the shell).
    """

    __slots__ = ("env_prompt", "prefix")
    prefix: str
    env_prompt: str | None

    def __init__(self, prefix: str, env_prompt: str | None = None) -> None:
        self._init(prefix=prefix, env_prompt=env_prompt)


class RestorePrompt(_Op):
    """Put back the prompt :class:`SetPrompt` saved, when this shell saved one."""

    __slots__ = ("env_prompt",)
    env_prompt: str | None

    def __init__(self, env_prompt: str | None = None) -> None:
        self._init(env_prompt=env_prompt)


class DeactivateForeign(_Op):
    """Run a venv/virtualenv activate script's ``deactivate nondestructive`` if the shell has
    one: it restores the prompt that script changed (the variables are reset anyway)."""

    __slots__ = ()


class DefineDeactivate(_Op):
    """Define the shell's ``deactivate``: running it performs ``body``."""

    __slots__ = ("body",)
    body: tuple[Op, ...]

    def __init__(self, body: tuple[Op, ...]) -> None:
        self._init(body=body)


class RemoveDeactivate(_Op):
    """Remove the ``deactivate`` function (the last thing it does)."""

    __slots__ = ()


class Rehash(_Op):
    """Forget cached command locations after PATH changed (``hash -r`` / ``rehash``)."""

    __slots__ = ()


class PushFrame(_Op):
    """Save the value (or absence) of each of ``names`` in frame ``depth`` and set
    ``_VENVSEL_DEPTH`` to ``depth``; an interactive shell also saves its prompt state.
    ``literals`` are the values as venvsel saw them (None: unset), for cmd.exe."""

    __slots__ = ("depth", "literals", "names")
    depth: int
    names: tuple[str, ...]
    literals: tuple[str | None, ...]

    def __init__(self, depth: int, names: tuple[str, ...],
                 literals: tuple[str | None, ...]) -> None:
        self._init(depth=depth, names=names, literals=literals)


class PopFrame(_Op):
    """Give each of ``names`` the value frame ``depth`` holds (unset it when the frame has
    none), remove the frame, and set ``_VENVSEL_DEPTH`` to ``depth - 1`` (removed at 0); the
    prompt state comes back when this shell saved it. ``literals``: the frame's values as
    venvsel saw them."""

    __slots__ = ("depth", "literals", "names")
    depth: int
    names: tuple[str, ...]
    literals: tuple[str | None, ...]

    def __init__(self, depth: int, names: tuple[str, ...],
                 literals: tuple[str | None, ...]) -> None:
        self._init(depth=depth, names=names, literals=literals)


Op = Union[
    SetVar, UnsetVar, SaveVar, RestoreVar, SavePath, PrependPath, RestorePath, SetPrompt,
    RestorePrompt, DeactivateForeign, DefineDeactivate, RemoveDeactivate, Rehash, PushFrame,
    PopFrame,
]


class ActivationPlan(_Op):
    """Operations for one shell-neutral activation (``env`` set) or deactivation (``env``
    None). ``path_sep`` is the PATH separator of the target OS."""

    __slots__ = ("env", "ops", "path_sep", "prompt")
    ops: tuple[Op, ...]
    path_sep: str
    env: Env | None
    prompt: str | None  # the env's display name, None for a deactivation

    def __init__(
        self, ops: tuple[Op, ...], path_sep: str, env: Env | None = None, prompt: str | None = None
    ) -> None:
        self._init(ops=ops, path_sep=path_sep, env=env, prompt=prompt)

    def walk(self) -> Iterator[Op]:
        """Every operation, including those inside ``deactivate``."""
        yield from _walk(self.ops)


def _walk(ops: tuple[Op, ...]) -> Iterator[Op]:
    for op in ops:
        yield op
        if isinstance(op, DefineDeactivate):
            yield from _walk(op.body)


def values(op: Op) -> tuple[str, ...]:
    """The literal strings an operation carries (what a renderer has to quote)."""
    if isinstance(op, SetVar):
        return (op.value,)
    if isinstance(op, PrependPath):
        return (op.value, *op.entries)
    if isinstance(op, (SaveVar, RestoreVar, SavePath, RestorePath)):
        return () if op.literal is None else (op.literal,)
    if isinstance(op, SetPrompt):
        return (op.prefix,) if op.env_prompt is None else (op.prefix, op.env_prompt)
    if isinstance(op, RestorePrompt):
        return () if op.env_prompt is None else (op.env_prompt,)
    if isinstance(op, (PushFrame, PopFrame)):
        return tuple(v for v in op.literals if v is not None)
    return ()


# --------------------------------------------------------------------------- building


def path_sep(os_name: str | None = None) -> str:
    """PATH separator of the target OS (pwsh on Linux uses ":" like every POSIX shell)."""
    return ";" if (os_name or os.name) == "nt" else ":"


def env_path_entries(env_path: str, *, conda: bool, windows: bool) -> tuple[str, ...]:
    """Directories an env puts in front of PATH, in order."""
    if windows:
        if conda:
            # conda on Windows: python.exe lives in the prefix itself, DLLs in Library\*.
            return (
                env_path,
                ntpath.join(env_path, "Library", "mingw-w64", "bin"),
                ntpath.join(env_path, "Library", "usr", "bin"),
                ntpath.join(env_path, "Library", "bin"),
                ntpath.join(env_path, "Scripts"),
                ntpath.join(env_path, "bin"),
            )
        return (ntpath.join(env_path, "Scripts"),)
    return (posixpath.join(env_path, "bin"),)


def _same_dir(a: str, b: str, windows: bool) -> bool:
    if windows:
        a, b = a.replace("/", "\\"), b.replace("/", "\\")
        return a.rstrip("\\").casefold() == b.rstrip("\\").casefold()
    return a.rstrip("/") == b.rstrip("/") and bool(a)


def remove_entries(path_value: str, entries: tuple[str, ...], sep: str, windows: bool) -> str:
    """PATH without the first occurrence of each of ``entries`` (what an activation added)."""
    parts = path_value.split(sep)
    for entry in entries:
        for i, part in enumerate(parts):
            if _same_dir(part, entry, windows):
                del parts[i]
                break
    return sep.join(parts)


def _get(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    if value is None and name == "PATH":
        value = environ.get("Path")  # a Windows environment block copied as a plain dict
    return value


def _foreign_active(environ: Mapping[str, str]) -> bool:
    return bool(_get(environ, "VIRTUAL_ENV") or _get(environ, "CONDA_PREFIX"))


def _foreign_venv(environ: Mapping[str, str]) -> bool:
    """A venv/virtualenv env activated by its own script (not by venvsel) is active."""
    venv_active = _get(environ, "VIRTUAL_ENV")
    return bool(venv_active) and venv_active != _get(environ, STATE_ENV)


def foreign_entries(environ: Mapping[str, str], os_name: str | None = None) -> tuple[str, ...]:
    """The PATH dirs of the env another tool left active (none when venvsel's state is on)."""
    if _get(environ, STATE_ENV) is not None:
        return ()
    windows = (os_name or os.name) == "nt"
    entries: list[str] = []
    venv = _get(environ, "VIRTUAL_ENV")
    if venv:
        entries += env_path_entries(venv, conda=False, windows=windows)
    conda_prefix = _get(environ, "CONDA_PREFIX")
    if conda_prefix:
        entries += env_path_entries(conda_prefix, conda=True, windows=windows)
    return tuple(entries)


def base_state(environ: Mapping[str, str], os_name: str | None = None) -> dict[str, str | None]:
    """PATH and the other managed variables as they are with no env active.

    With venvsel's state present: the saved values. Otherwise the current values, minus the
    env a venv/virtualenv/conda activation left active (its bin dirs out of PATH). The
    variables in :data:`CLEARED` are None either way.
    """
    base: dict[str, str | None] = dict.fromkeys(MANAGED)
    if _get(environ, STATE_ENV) is not None:
        base["PATH"] = _get(environ, OLD_PATH)
        for name in SAVED:
            base[name] = _get(environ, OLD_PREFIX + name)
        return base
    path = _get(environ, "PATH")
    if path is not None:
        windows = (os_name or os.name) == "nt"
        path = remove_entries(path, foreign_entries(environ, os_name), path_sep(os_name), windows)
    base["PATH"] = path
    for name in SAVED:
        base[name] = _get(environ, name)
    return base


def _check_value(value: str, what: str) -> None:
    if "\0" in value:
        raise UsageError(
            f"cannot activate: {what} contains a NUL character, which no shell can hold",
        )


def _check_environ(environ: Mapping[str, str]) -> None:
    for key, value in environ.items():
        if key in MANAGED or key in ("PATH", "Path", "PROMPT") or key.startswith("_VENVSEL_"):
            _check_value(value, f"${key}")


def read_prompt(env: Env) -> str:
    """The env's display name: pyvenv.cfg ``prompt`` when set (``--prompt`` at creation),
    else the directory name."""
    cfg = os.path.join(env.path, "pyvenv.cfg")
    try:
        with open(cfg, encoding="utf-8", errors="surrogateescape") as fh:
            for line in fh:
                key, eq, value = line.partition("=")
                if eq and key.strip().lower() == "prompt":
                    value = value.strip()
                    # CPython's venv writes repr(prompt); virtualenv and uv write it raw.
                    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                        try:
                            parsed = ast.literal_eval(value)
                        except (ValueError, SyntaxError):
                            parsed = value[1:-1]
                        value = parsed if isinstance(parsed, str) else value
                    if value:
                        return value
    except (OSError, ValueError):  # unreadable, or a path the OS cannot name
        pass
    return dir_name(env)


def dir_name(env: Env) -> str:
    """The env directory's own name. A backslash is an ordinary character in a POSIX name
    (Env.name strips it as if it were a separator)."""
    if env.layout == "windows":
        return ntpath.basename(env.path.rstrip("\\/")) or env.path
    return posixpath.basename(env.path.rstrip("/")) or env.path


def _save_ops(environ: Mapping[str, str], base: Mapping[str, str | None], sep: str,
              os_name: str | None) -> list[Op]:
    keep = _get(environ, STATE_ENV) is not None
    ops: list[Op] = [SavePath(foreign_entries(environ, os_name), keep, base["PATH"], sep)]
    ops.extend(SaveVar(name, keep, base[name]) for name in SAVED)
    return ops


def _deactivation_ops(
    base: Mapping[str, str | None], env_prompt: str | None, sep: str
) -> tuple[Op, ...]:
    ops: list[Op] = [RestorePrompt(env_prompt), RestorePath(base["PATH"], sep)]
    ops.extend(RestoreVar(name, base[name]) for name in SAVED)
    ops.extend(UnsetVar(name) for name in (*CLEARED, *STATE_VARS))
    ops.extend((RemoveDeactivate(), Rehash()))
    return tuple(ops)


def _env_prompt_base(environ: Mapping[str, str]) -> str | None:
    if _get(environ, STATE_ENV) is not None:
        return _get(environ, OLD_ENV_PROMPT)
    return _get(environ, "PROMPT")


def current_depth(environ: Mapping[str, str]) -> int:
    """How many frames are pushed (``_VENVSEL_DEPTH``); 0 when none or not a number."""
    value = _get(environ, DEPTH) or ""
    if not value.isdigit() or not value.isascii():
        return 0
    return min(int(value), MAX_DEPTH)


def frame_names(os_name: str | None = None) -> tuple[str, ...]:
    """The variables a frame holds on the target OS."""
    return FRAME_VARS_NT if (os_name or os.name) == "nt" else FRAME_VARS


def _active(environ: Mapping[str, str]) -> bool:
    """An env is active: venvsel's, or one another tool activated."""
    return _get(environ, STATE_ENV) is not None or _foreign_active(environ)


def _reactivation(env: Env, environ: Mapping[str, str]) -> bool:
    """``env`` is the env venvsel activated last, and nothing else came on top of it."""
    return _get(environ, STATE_ENV) == env.path and not _foreign_venv(environ) and not (
        _get(environ, "CONDA_PREFIX") and env.kind != "conda"
    )


def push_frame(environ: Mapping[str, str], depth: int, os_name: str | None) -> PushFrame:
    """The operation that saves the current state as frame ``depth``."""
    if depth > MAX_DEPTH:
        raise UsageError(
            f"cannot activate: {MAX_DEPTH} environments are already stacked",
            hint="Run `venvsel deactivate` a few times first.",
        )
    names = frame_names(os_name)
    return PushFrame(depth, names, tuple(_get(environ, name) for name in names))


def _deactivate_body(environ: Mapping[str, str], depth: int, sep: str,
                     os_name: str | None) -> tuple[Op, ...]:
    """What ``deactivate`` does in a shell whose environment is ``environ`` with ``depth``
    frames pushed: pop the top frame (then ``deactivate`` is the one of the env it brings
    back), or, with no frame, restore the state before any venvsel activation."""
    if depth <= 0:
        return _deactivation_ops(base_state(environ, os_name), _env_prompt_base(environ), sep)
    names = frame_names(os_name)
    pop = PopFrame(depth, names, tuple(_get(environ, frame_var(depth, n)) for n in names))
    below = _apply(pop, dict(environ))
    ops: list[Op] = [pop]
    if _get(below, STATE_ENV) is not None:
        ops.append(DefineDeactivate(_deactivate_body(below, depth - 1, sep, os_name)))
    else:
        ops.append(RemoveDeactivate())  # another tool's env: its own function is gone
    ops.append(Rehash())
    return tuple(ops)


def build_plan(
    env: Env,
    environ: Mapping[str, str],
    *,
    os_name: str | None = None,
    prompt: str | None = None,
) -> ActivationPlan:
    """The operations that activate ``env`` in a shell whose environment is ``environ``.

    ``os_name`` ("posix" or "nt", default :data:`os.name`) picks the PATH separator and the
    Windows directory names; ``prompt`` overrides the display name (default: pyvenv.cfg's
    ``prompt``, else the directory name). Raises UsageError for values no shell can hold.
    """
    sep = path_sep(os_name)
    windows = env.layout == "windows"
    conda = env.kind == "conda"
    _check_value(env.path, f"the environment path {env.path!r}")
    name = prompt if prompt is not None else read_prompt(env)
    _check_value(name, f"the prompt {name!r}")
    entries = env_path_entries(env.path, conda=conda, windows=windows)
    for entry in entries:
        if sep in entry:
            raise UsageError(
                f"cannot activate {env.path!r}: its path contains {sep!r}, the PATH separator, "
                "so it cannot be put on PATH without splitting it",
                hint="Move or rename the environment to a path without that character.",
            )
    _check_environ(environ)

    depth = current_depth(environ)
    ops: list[Op] = []
    staged: Mapping[str, str] = environ
    if _active(environ) and not _reactivation(env, environ):
        # Another env is active: push its exact state; deactivate comes back to it.
        push = push_frame(environ, depth + 1, os_name)
        ops.append(push)
        staged = _apply(push, dict(environ))
        depth += 1

    base = base_state(environ, os_name)
    if _foreign_venv(environ):
        ops.append(DeactivateForeign())

    # The saved state: what deactivate will restore.
    ops += _save_ops(environ, base, sep, os_name)
    ops.append(SetVar(STATE_ENV, env.path))

    # The env itself.
    ops.append(UnsetVar("PYTHONHOME"))
    if conda:
        values = {"CONDA_PREFIX": env.path, "CONDA_DEFAULT_ENV": name}
    else:
        values = {"VIRTUAL_ENV": env.path, "VIRTUAL_ENV_PROMPT": name}
    ops.extend(SetVar(var, values[var]) if var in values else UnsetVar(var) for var in CLEARED)
    ops.append(PrependPath(entries, base["PATH"], sep))

    env_prompt = _env_prompt_base(environ)
    if not _get(environ, "VIRTUAL_ENV_DISABLE_PROMPT"):
        ops.append(SetPrompt(f"({name}) ", env_prompt))
    ops.append(DefineDeactivate(_deactivate_body(staged, depth, sep, os_name)))
    ops.append(Rehash())
    return ActivationPlan(ops=tuple(ops), path_sep=sep, env=env, prompt=name)


def build_deactivate_plan(
    environ: Mapping[str, str], *, os_name: str | None = None
) -> ActivationPlan | None:
    """The operations that leave the active env (venvsel's or another tool's); None when no
    env is active."""
    sep = path_sep(os_name)
    if not _active(environ):
        return None
    _check_environ(environ)
    depth = current_depth(environ)
    if depth:  # back to the env that was active before this one
        return ActivationPlan(ops=_deactivate_body(environ, depth, sep, os_name), path_sep=sep)
    base = base_state(environ, os_name)
    ops: list[Op] = []
    if _foreign_venv(environ):
        ops.append(DeactivateForeign())
    if _get(environ, STATE_ENV) is None:  # another tool's env: save what remains of PATH
        ops += _save_ops(environ, base, sep, os_name)
    ops.extend(_deactivation_ops(base, _env_prompt_base(environ), sep))
    return ActivationPlan(ops=tuple(ops), path_sep=sep)


def apply_to_environ(plan: ActivationPlan, environ: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``environ`` with the plan's variable operations applied (``venvsel run``).

    Prompt and function operations only mean something inside an interactive shell.
    """
    out = dict(environ)
    for op in plan.ops:
        _apply(op, out)
    return out


def _apply(op: Op, out: dict[str, str]) -> dict[str, str]:
    """Apply one operation's effect on the environment to ``out`` (in place); ``out``."""
    if isinstance(op, PushFrame):
        for name, value in zip(op.names, op.literals):
            _put(out, frame_var(op.depth, name), value)
        out[DEPTH] = str(op.depth)
    elif isinstance(op, PopFrame):
        for name, value in zip(op.names, op.literals):
            _put(out, name, value)
            out.pop(frame_var(op.depth, name), None)
        _put(out, DEPTH, str(op.depth - 1) if op.depth > 1 else None)
    elif isinstance(op, SetVar):
        out[op.name] = op.value
    elif isinstance(op, UnsetVar):
        out.pop(op.name, None)
    elif isinstance(op, SaveVar):
        if not op.keep:
            _put(out, OLD_PREFIX + op.name, op.literal)
    elif isinstance(op, RestoreVar):
        _put(out, op.name, op.literal)
    elif isinstance(op, SavePath):
        if not op.keep:
            _put(out, OLD_PATH, op.literal)
    elif isinstance(op, PrependPath):
        out.pop("Path", None)
        out["PATH"] = op.value
    elif isinstance(op, RestorePath):
        out.pop("Path", None)
        _put(out, "PATH", op.literal)
    return out


def _put(out: dict[str, str], name: str, value: str | None) -> None:
    if value is None:
        out.pop(name, None)
    else:
        out[name] = value


__all__ = [
    "CLEARED",
    "DEPTH",
    "FRAME_VARS",
    "MANAGED",
    "OLD_PATH",
    "OLD_PREFIX",
    "SAVED",
    "STATE_ENV",
    "STATE_VARS",
    "ActivationPlan",
    "DeactivateForeign",
    "DefineDeactivate",
    "Op",
    "PopFrame",
    "PrependPath",
    "PushFrame",
    "Rehash",
    "RemoveDeactivate",
    "RestorePath",
    "RestorePrompt",
    "RestoreVar",
    "SavePath",
    "SaveVar",
    "SetPrompt",
    "SetVar",
    "UnsetVar",
    "apply_to_environ",
    "base_state",
    "build_deactivate_plan",
    "build_plan",
    "current_depth",
    "dir_name",
    "foreign_entries",
    "frame_var",
    "path_sep",
    "read_prompt",
]
