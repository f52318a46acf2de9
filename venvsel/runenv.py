"""``venvsel run``: run one command inside an env without touching the caller's shell.

The env is applied exactly as activation would apply it: the same plan
(:func:`venvsel.shells.operations.build_plan`) on a copy of ``os.environ``. The command is looked
up on the *new* PATH, started with our stdin/stdout/stderr (:func:`venvsel.proc.spawn`), and
its exit status becomes ours, the way shells report it: the child's code, or 128 + N when
signal N killed it.

Signals: SIGTERM and SIGHUP are forwarded to the child. SIGINT and SIGQUIT from the
terminal (Ctrl-C, Ctrl-\\) already reach the child, which shares our process group, so they
are forwarded only when they did not come from the terminal (we are not its foreground
group) — a child must not see one Ctrl-C twice. Either way venvsel keeps waiting, so the
child decides whether the signal ends it, and the exit status says what happened.

A command that cannot be found exits 127 and one that cannot be executed exits 126, as in
POSIX shells and ``env(1)``, with a message on stderr.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any, Callable, Union

from . import proc
from .errors import VenvselError
from .model import Env
from .resolve import resolve_env
from .shells.operations import apply_to_environ, build_plan
from .trust import require_trusted

EXIT_NOT_FOUND = 127
EXIT_CANNOT_EXECUTE = 126

_Handler = Union[Callable[[int, Union[FrameType, None]], Any], int, None]


class CommandNotFound(VenvselError):
    """The command is not on the env's PATH (exit 127, like a shell)."""

    exit_code = EXIT_NOT_FOUND


class CannotExecute(VenvselError):
    """The command exists but cannot be executed (exit 126, like a shell)."""

    exit_code = EXIT_CANNOT_EXECUTE


@dataclass(frozen=True)
class RunResult:
    env: Env
    argv: tuple[str, ...]
    executable: str  # what was executed: argv[0] resolved on the env's PATH
    exit_code: int  # the child's code, or 128 + N when signal N killed it
    signal: str | None  # "SIGTERM" when a signal killed the child
    duration_s: float


def resolve_command(name: str, path: str | None) -> str:
    """``name`` resolved the way a shell would, on ``path``; 127/126 errors otherwise."""
    has_dir = os.sep in name or bool(os.altsep and os.altsep in name)
    if has_dir:
        if not os.path.exists(name):
            raise CommandNotFound(f"{name}: no such file")
        if os.path.isdir(name) or not os.access(name, os.X_OK):
            raise CannotExecute(f"{name}: not an executable file")
        return name
    found = shutil.which(name, path=path if path is not None else os.defpath)
    if found is None:
        first = (path or "").split(os.pathsep)[0]
        raise CommandNotFound(
            f"command not found: {name}",
            hint=f"Looked on the env's PATH ({first} first). Is it installed in the env?",
        )
    return found


def _from_terminal() -> bool:
    """Whether we are the terminal's foreground process group (so a SIGINT came from it)."""
    for fd in (0, 1, 2):
        try:
            return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False


class _Forwarder:
    """Signal handlers that pass signals on to the child for as long as it runs."""

    def __init__(self) -> None:
        self.child: Any = None
        self.pending: list[int] = []
        self.saved: dict[int, _Handler] = {}

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        if signum in _TERMINAL_SIGNALS and (proc.IS_WINDOWS or _from_terminal()):
            return  # the terminal sent it to the whole group: the child has it already
        if self.child is None:
            self.pending.append(signum)
            return
        self.send(signum)

    def send(self, signum: int) -> None:
        try:
            if proc.IS_WINDOWS:
                self.child.terminate()
            else:
                os.kill(self.child.pid, signum)
        except (ProcessLookupError, OSError):
            pass  # it has just exited

    def install(self) -> None:
        for signum in _FORWARDED:
            # ValueError: not the main thread (then signals stay as they are)
            with contextlib.suppress(OSError, ValueError):
                self.saved[signum] = signal.signal(signum, self.handle)

    def restore(self) -> None:
        for signum, old in self.saved.items():
            with contextlib.suppress(OSError, ValueError, TypeError):
                signal.signal(signum, old)


def _signals(*names: str) -> tuple[int, ...]:
    return tuple(int(getattr(signal, n)) for n in names if hasattr(signal, n))


_FORWARDED = _signals("SIGTERM", "SIGHUP", "SIGINT", "SIGQUIT", "SIGBREAK")
_TERMINAL_SIGNALS = _signals("SIGINT", "SIGQUIT", "SIGBREAK")


def run_command(
    env: Env, argv: Sequence[str], *, environ: Mapping[str, str] | None = None
) -> RunResult:
    """Run ``argv`` with ``env`` applied; returns when the child has exited."""
    if not argv:
        raise CommandNotFound("no command given",
                              hint="Usage: venvsel run --env ENV -- CMD [ARGS...]")

    require_trusted(env)  # the last gate before anything of the env starts
    environ = os.environ if environ is None else environ
    plan = build_plan(env, environ, os_name=os.name)
    child_env = apply_to_environ(plan, environ)
    executable = resolve_command(argv[0], child_env.get("PATH"))
    forwarder = _Forwarder()
    forwarder.install()
    start = time.monotonic()
    try:
        try:
            child = proc.spawn([executable, *argv[1:]], env=child_env)
        except OSError as exc:  # exec format error, permission denied at exec time
            raise CannotExecute(f"{argv[0]}: cannot execute: {exc.strerror or exc}") from None
        forwarder.child = child
        for signum in forwarder.pending:
            forwarder.send(signum)
        returncode = child.wait()  # PEP 475: retried after each handled signal
    finally:
        forwarder.restore()
    duration = time.monotonic() - start
    sig_name: str | None = None
    if returncode < 0:
        try:
            sig_name = signal.Signals(-returncode).name
        except ValueError:
            sig_name = f"signal {-returncode}"
        code = 128 - returncode
    else:
        code = returncode
    sys.stdout.flush()
    return RunResult(env=env, argv=tuple(argv), executable=executable, exit_code=code,
                     signal=sig_name, duration_s=round(duration, 3))


def run_in(
    env_arg: str | None, needs: Sequence[str], python_spec: str | None, argv: Sequence[str]
) -> RunResult:
    """``venvsel run``: the env named by ``env_arg`` or chosen by the needs, then
    :func:`run_command`."""

    return run_command(resolve_env(env_arg, needs, python_spec), argv)


__all__ = [
    "EXIT_CANNOT_EXECUTE",
    "EXIT_NOT_FOUND",
    "CannotExecute",
    "CommandNotFound",
    "RunResult",
    "resolve_command",
    "run_command",
    "run_in",
]
