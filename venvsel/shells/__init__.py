"""Activation in every shell: the shell-neutral plan (:mod:`.operations`) and one renderer per shell
family (:mod:`.sh`, :mod:`.fish`, :mod:`.powershell`, :mod:`.cmdexe`), each with its own
quote function; shell detection; the hook scripts in ``venvsel/resources/shell``.

Lean on purpose: ``venvsel activate`` imports this on its warm path, so renderers are
imported only when used and nothing here starts an interpreter.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..model import Env
from ..resolve import resolve_env
from ..shellnames import AUTO_SHELLS, HOOK_SHELLS, SHELLS
from .operations import ActivationPlan, build_deactivate_plan, build_plan
from .sh import quote

# Names a process or $SHELL may carry -> the --shell name that fits it.
_ALIASES = {
    "bash": "bash", "zsh": "zsh", "sh": "sh", "dash": "sh", "ash": "sh", "ksh": "sh",
    "mksh": "sh", "ksh93": "sh", "busybox": "sh", "fish": "fish", "pwsh": "pwsh",
    "pwsh-preview": "pwsh", "powershell": "powershell", "cmd": "cmd",
}

_HOOK_FILES = {
    "bash": "venvsel.bash", "zsh": "venvsel.zsh", "sh": "venvsel.sh", "fish": "venvsel.fish",
    "pwsh": "venvsel.ps1", "powershell": "venvsel.ps1", "cmd": "venvsel.bat",
}


def render(plan: ActivationPlan, shell: str) -> str:
    """The code that performs ``plan`` in ``shell`` (one of :data:`SHELLS`).

    Raises UsageError, before returning anything, when a value cannot be held safely by
    that shell.
    """
    if shell in ("bash", "zsh", "sh"):
        from . import sh  # one shell's renderer per run (each ~1 ms to import)

        return sh.render(plan, shell)
    if shell == "fish":
        from . import fish  # one shell's renderer per run (each ~1 ms to import)

        return fish.render(plan)
    if shell in ("pwsh", "powershell"):
        from . import powershell  # one shell's renderer per run (each ~1 ms to import)

        return powershell.render(plan)
    if shell == "cmd":
        from . import cmdexe  # one shell's renderer per run (each ~1 ms to import)

        return cmdexe.render(plan)
    raise UsageError(f"unknown shell {shell!r}",
                     hint=f"Pass --shell with one of: {', '.join(SHELLS)}.")


def normalize(name: str) -> str | None:
    """The --shell name for a process or executable name ("dash" -> "sh"), None if unknown."""
    base = name.strip().replace("\\", "/").rsplit("/", 1)[-1].lower()  # %ComSpec% too
    if base.endswith(".exe"):
        base = base[:-4]
    base = base.lstrip("-")  # login shells show up as "-bash"
    return _ALIASES.get(base)


def detect_shell(environ: Mapping[str, str] | None = None) -> str:
    """The shell that will run our output: the nearest shell among our parent processes
    (shellingham), then $SHELL (then %ComSpec% on Windows). UsageError when it cannot tell."""
    environ = os.environ if environ is None else environ
    seen: list[str] = []
    try:
        import shellingham  # third-party: only when --shell is not given

        name, _path = shellingham.detect_shell()
    except Exception as exc:  # shellingham raises its own failure, or OSError reading /proc
        seen.append(f"no shell among the parent processes ({type(exc).__name__})")
    else:
        found = normalize(name)
        if found:
            return found
        seen.append(f"parent shell {name!r} is not supported")
    shell_var = environ.get("SHELL")
    if shell_var:
        found = normalize(shell_var)
        if found:
            return found
        seen.append(f"$SHELL={shell_var!r} is not supported")
    if os.name == "nt" and environ.get("ComSpec"):
        found = normalize(environ["ComSpec"])
        if found:
            return found
    raise UsageError(
        "cannot tell which shell to write code for: " + ("; ".join(seen) or "no $SHELL"),
        hint=f"Pass --shell, one of: {', '.join(SHELLS)}.",
    )


def hook_source(shell: str) -> str:
    """The hook script for ``shell`` (resources/shell): defines a ``venvsel`` shell function
    so ``venvsel activate`` / ``venvsel deactivate`` change the current shell."""
    try:
        filename = _HOOK_FILES[shell]
    except KeyError:
        raise UsageError(
            f"no shell hook for {shell!r}", hint=f"Hooks exist for: {', '.join(HOOK_SHELLS)}."
        ) from None
    return _resource(filename)


def _resource(filename: str) -> str:
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "resources", "shell", filename)
    with open(path, encoding="utf-8", newline="") as fh:  # the .bat keeps its CRLF
        return fh.read()


@dataclass(frozen=True)
class ShellCode:
    """What ``venvsel activate`` / ``deactivate`` print: ``code`` for ``shell``."""

    shell: str
    code: str
    env: Env | None  # the env activated; None for a deactivation
    prompt: str | None = None  # the name shown in the prompt
    nothing_active: bool = False  # deactivate with no env active: code is empty


def _target_shell(shell: str | None, environ: Mapping[str, str]) -> str:
    if shell is None:
        return detect_shell(environ)
    if shell not in SHELLS:
        raise UsageError(f"unknown shell {shell!r}", hint=f"Use one of: {', '.join(SHELLS)}.")
    return shell


def activation(
    env_arg: str | None,
    needs: Sequence[str] = (),
    python_spec: str | None = None,
    *,
    shell: str | None = None,
    prompt: str | None = None,
    environ: Mapping[str, str] | None = None,
    os_name: str | None = None,
) -> ShellCode:
    """The code that activates the env named by ``env_arg`` or chosen by the needs, in
    ``shell`` (detected when None). Raises before returning anything when the env or a value
    cannot be activated safely."""
    environ = os.environ if environ is None else environ
    target = _target_shell(shell, environ)
    env = resolve_env(env_arg, needs, python_spec)
    if env.broken:  # activate anyway (the user named it), but say what is wrong with it
        sys.stderr.write(f"venvsel: warning: {env.path} looks broken: {env.broken}\n")
    plan = build_plan(env, environ, os_name=os_name, prompt=prompt)
    return ShellCode(shell=target, code=render(plan, target), env=env, prompt=plan.prompt)


def deactivation(
    *,
    shell: str | None = None,
    environ: Mapping[str, str] | None = None,
    os_name: str | None = None,
) -> ShellCode:
    """The code that leaves the active env: venvsel's (restoring the saved state) or one a
    venv/virtualenv/conda activation left. Empty code when no env is active."""
    environ = os.environ if environ is None else environ
    target = _target_shell(shell, environ)
    plan = build_deactivate_plan(environ, os_name=os_name)
    if plan is None:
        return ShellCode(shell=target, code="", env=None, nothing_active=True)
    return ShellCode(shell=target, code=render(plan, target), env=None)


def encode(code: str, shell: str) -> bytes:
    """The bytes to print. POSIX paths are bytes: names that are not valid UTF-8 travel
    through surrogateescape and come out exactly as they are on disk."""
    if os.name != "nt" or shell not in ("cmd", "powershell"):
        return code.encode(sys.getfilesystemencoding() or "utf-8", "surrogateescape")
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        return code.encode(encoding)
    except UnicodeEncodeError as exc:
        raise UsageError(
            f"the activation code holds {exc.object[exc.start:exc.end]!r}, which the console "
            f"encoding ({encoding}) cannot represent",
            hint="Switch the console to UTF-8 (chcp 65001), or move the environment.",
        ) from None


def write(result: ShellCode) -> None:
    """Print the code (bytes, unchanged line ends) on stdout."""
    data = encode(result.code, result.shell)
    out = getattr(sys.stdout, "buffer", None)
    if out is None:  # a replaced text stream (tests): write the text as is
        sys.stdout.write(result.code)
        sys.stdout.flush()
        return
    sys.stdout.flush()
    out.write(data)
    out.flush()


def completion_source(shell: str, command: Any, prog_name: str = "venvsel") -> str:
    """click's completion script for ``shell`` (bash, zsh, fish; "" for the others)."""
    if shell not in ("bash", "zsh", "fish"):
        return ""
    # click, only for shell-hook's completion
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    if cls is None:
        return ""
    var = "_" + prog_name.replace("-", "_").upper() + "_COMPLETE"
    source: str = cls(command, {}, prog_name, var).source()
    if shell == "zsh":
        # compdef exists only after compinit; without it, skip completion quietly.
        source = "if (( $+functions[compdef] )); then\n" + source.rstrip("\n") + "\nfi\n"
    return source


_AUTO_FILES = {
    "bash": "venvsel-auto.bash", "zsh": "venvsel-auto.zsh", "fish": "venvsel-auto.fish",
    "pwsh": "venvsel-auto.ps1", "powershell": "venvsel-auto.ps1",
}


def self_command() -> tuple[str | None, str | None]:
    """How to start this very venvsel again by absolute path, as conda's hook records
    ``$CONDA_EXE``: ``(entry script, python)``. The entry script is None when venvsel was not
    started through its ``venvsel`` script (``python -m venvsel``); the Python running it
    can always import it (the hooks run ``python -c`` then, and for the auto step)."""
    python = os.path.abspath(sys.executable) if sys.executable else None
    argv0 = sys.argv[0] if sys.argv else ""
    name = os.path.basename(argv0).lower()
    if name.startswith("venvsel") and not name.endswith(".py") and os.path.isfile(argv0):
        return os.path.abspath(argv0), python
    if name.startswith("venvsel") and name.endswith("-script.py") and os.path.isfile(argv0):
        return os.path.abspath(argv0[: -len("-script.py")]), python  # setuptools' .exe shim
    return None, python


def _self_lines(shell: str) -> str:
    """Hook lines that record :func:`self_command` in ``_VENVSEL_EXE`` / ``_VENVSEL_PY``."""
    exe, python = self_command()
    values = (("_VENVSEL_EXE", exe), ("_VENVSEL_PY", python))
    if shell in ("bash", "zsh", "sh"):
        return "".join(f"{n}={quote(v)}\n" if v else f"unset {n}\n" for n, v in values)
    if shell == "fish":
        from .fish import quote as fish_quote  # one shell's renderer per run (~1 ms each)

        return "".join(f"set -g {n} {fish_quote(v)}\n" if v else f"set -e -g {n}\n"
                       for n, v in values)
    from .powershell import quote as ps_quote  # one shell's renderer per run (~1 ms each)

    return "".join(f"$global:{n} = {ps_quote(v) if v else '$null'}\n" for n, v in values)


def hook(shell: str, *, command: Any = None, completion: bool = True, auto: bool = False) -> str:
    """What ``venvsel shell-hook SHELL`` prints: where this venvsel lives, the hook script,
    the auto-activation hook when ``auto``, then (bash, zsh, fish) click's completion for
    ``command``."""
    text = hook_source(shell)
    if auto:
        if shell not in AUTO_SHELLS:
            raise UsageError(f"--auto is not available for {shell}",
                             hint="Auto-activation works in bash, zsh, fish and PowerShell.")
        text = text.rstrip("\n") + "\n" + _resource(_AUTO_FILES[shell])
    if shell != "cmd":  # after the opening comment
        lines = text.splitlines(keepends=True)
        n = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
        text = "".join(lines[:n]) + _self_lines(shell) + "".join(lines[n:])
    if shell == "cmd":
        from . import cmdexe as cmd_renderer  # one shell's renderer per run (each ~1 ms to import)

        # cmd runs the .bat by name: it must call the real venvsel, not itself.
        python = cmd_renderer.check(sys.executable, "the Python running venvsel")
        first, _, rest = text.partition("\n")
        text = f'{first}\nset "_VENVSEL_PY={python}"\r\n{rest}'
    if completion and command is not None:
        extra = completion_source(shell, command)
        if extra:
            text = text.rstrip("\n") + "\n\n" + extra
    return text


__all__ = [
    "HOOK_SHELLS",
    "SHELLS",
    "ShellCode",
    "activation",
    "deactivation",
    "detect_shell",
    "encode",
    "hook",
    "hook_source",
    "normalize",
    "render",
    "resolve_env",
    "write",
]
