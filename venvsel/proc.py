"""The one subprocess wrapper: argv lists, timeouts, whole-process-group kills, output caps.

Every spawn venvsel makes goes through :func:`run` (or :func:`spawn` for a child whose
streams the caller owns), so timeouts, group kills and environment cleaning live here once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .log import debug

DEFAULT_TIMEOUT = 30.0
DEFAULT_OUTPUT_CAP = 4 * 1024 * 1024  # bytes kept per stream; the rest is drained and dropped

# Variables that make a child interpreter load the wrong code or the wrong stdlib, or (a
# user's PYTHONWARNINGS=error) turn a harmless warning in torch's import into a false "broken".
PYTHON_LEAKS = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONEXECUTABLE",
    "__PYVENV_LAUNCHER__",
    "PYTHONUSERBASE",
    "PYTHONSAFEPATH",
    "PYTHONWARNINGS",
)

IS_WINDOWS = sys.platform == "win32"


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int | None  # None when killed on timeout
    stdout: bytes
    stderr: bytes
    duration_s: float
    timed_out: bool = False
    truncated: bool = False  # output went over the cap
    stderr_end: bytes = b""  # the last bytes of stderr, kept even when the cap was hit

    @property
    def signal(self) -> int | None:
        """The signal that killed the child (POSIX), None when it exited normally."""
        if self.returncode is not None and self.returncode < 0:
            return -self.returncode
        return None

    @property
    def signal_name(self) -> str | None:
        sig = self.signal
        if sig is None:
            return None
        try:
            return signal.Signals(sig).name
        except ValueError:
            return f"signal {sig}"

    def stderr_tail(self, lines: int = 8) -> str:
        """The last lines of stderr (the real end, even when the output went over the cap)."""
        text = (self.stderr_end or self.stderr).decode("utf-8", "replace").rstrip()
        return "\n".join(text.splitlines()[-lines:])


def clean_env(
    base: Mapping[str, str] | None = None,
    *,
    drop: Sequence[str] = PYTHON_LEAKS,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A copy of ``base`` (default: os.environ) without variables that leak into a child Python."""
    env = dict(os.environ if base is None else base)
    for name in drop:
        env.pop(name, None)
    if extra:
        env.update(extra)
    return env


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the child and everything it started (its own process group / job)."""
    if proc.poll() is not None and IS_WINDOWS:
        return
    try:
        if IS_WINDOWS:
            proc.kill()
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        with contextlib.suppress(OSError):
            proc.kill()


TAIL_BYTES = 64 * 1024


def _reader(stream: object, sink: bytearray, cap: int, flags: list[bool], tail: bytearray) -> None:
    read = stream.read  # type: ignore[attr-defined]
    while True:
        chunk = read(65536)
        if not chunk:
            break
        room = cap - len(sink)
        if room > 0:
            sink.extend(chunk[:room])
        if len(chunk) > room:
            flags[0] = True
        tail.extend(chunk)
        if len(tail) > TAIL_BYTES:
            del tail[: len(tail) - TAIL_BYTES]


def _wait(proc: subprocess.Popen[bytes], timeout: float | None) -> bool:
    """Wait for the child to exit, at most ``timeout`` seconds; False when time ran out.

    ``Popen.wait(timeout)`` on POSIX polls ``waitpid`` every 50 ms: twenty wake-ups a second
    for as long as the child runs, on whatever CPU the parent shares with it (a benchmark
    worker pinned with the parent to one CPU lost 1-2 % of its tg speed to them). Here a
    thread blocks in ``waitpid`` and the caller blocks on an event with a deadline: nothing
    runs until the child exits or the time is up.
    """
    if timeout is None or IS_WINDOWS:  # Windows waits on the process handle: no polling
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    exited = threading.Event()

    def _waiter() -> None:
        try:
            proc.wait()
        finally:
            exited.set()

    threading.Thread(target=_waiter, name="venvsel-wait", daemon=True).start()
    return exited.wait(timeout)


def run(
    argv: Sequence[str],
    *,
    timeout: float | None = DEFAULT_TIMEOUT,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    stdin: bytes | None = None,
    output_cap: int = DEFAULT_OUTPUT_CAP,
    pass_fds: Sequence[int] = (),
) -> Completed:
    """Run ``argv`` to completion in its own process group and capture its output.

    On timeout the whole group is killed and ``timed_out`` is set; the function never
    raises for the child's behaviour, only :class:`FileNotFoundError` / :class:`OSError`
    when the program cannot be started at all.
    """
    argv = tuple(str(a) for a in argv)
    start = time.monotonic()
    popen_kw: dict[str, object] = {}
    if IS_WINDOWS:
        popen_kw["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
    else:
        popen_kw["start_new_session"] = True
        popen_kw["pass_fds"] = tuple(pass_fds)
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        **popen_kw,  # type: ignore[call-overload]
    )
    out, err, out_end, err_end = bytearray(), bytearray(), bytearray(), bytearray()
    flags = [False]
    threads = [
        threading.Thread(
            target=_reader, args=(proc.stdout, out, output_cap, flags, out_end), daemon=True
        ),
        threading.Thread(
            target=_reader, args=(proc.stderr, err, output_cap, flags, err_end), daemon=True
        ),
    ]
    for t in threads:
        t.start()
    if stdin is not None and proc.stdin is not None:
        try:
            proc.stdin.write(stdin)
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
    timed_out = False
    try:
        exited = _wait(proc, timeout)
    except BaseException:  # KeyboardInterrupt: take the whole group down with us
        _kill_group(proc)
        proc.wait()
        raise
    if not exited:
        timed_out = True
        _kill_group(proc)
        proc.wait()
    else:
        # The child exited; grandchildren holding its pipes must not keep us waiting.
        if not IS_WINDOWS:
            try:
                os.killpg(proc.pid, 0)
            except (ProcessLookupError, PermissionError, OSError):
                pass
            else:
                for t in threads:
                    t.join(timeout=1.0)
                if any(t.is_alive() for t in threads):
                    _kill_group(proc)
    for t in threads:
        t.join(timeout=5.0)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    duration = time.monotonic() - start
    rc = None if timed_out else proc.returncode
    debug(
        __name__,
        "ran %s -> rc=%s in %.3fs%s",
        argv,
        rc,
        duration,
        " (timeout)" if timed_out else "",
    )
    return Completed(
        argv, rc, bytes(out), bytes(err), duration, timed_out, flags[0], bytes(err_end)
    )


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> subprocess.Popen[bytes]:
    """Start a child that inherits our stdin/stdout/stderr (``venvsel run``).

    The child stays in our process group so the terminal's Ctrl-C reaches it directly;
    the caller forwards SIGTERM and waits.
    """
    debug(__name__, "spawn %s", list(argv))
    return subprocess.Popen(list(argv), env=dict(env) if env is not None else None, cwd=cwd)
