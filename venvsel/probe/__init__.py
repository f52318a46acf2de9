"""Live probing: run ``_child.py`` with each env's own interpreter and turn what it says (or
how it died) into a :class:`~venvsel.model.ProbeResult`.

The child writes newline-terminated JSON records to a file descriptor we pass it (a private
temporary file), so nothing the env prints on stdout at start-up (sitecustomize, ``.pth``
files, torch itself) can be mistaken for the answer. On Windows, where descriptors cannot be
passed, it writes stdout lines prefixed by a random token instead. Spawning, timeouts and
process-group kills belong to :mod:`venvsel.proc`.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import proc
from ..model import Env, ProbeResult
from ..trust import check as trust_check

CHILD = Path(__file__).resolve().with_name("_child.py")
MIN_PYTHON = (3, 8)
DEFAULT_TIMEOUT = 30.0
RESULT_CAP = 1024 * 1024  # bytes of records read back; a real answer is a few KiB
OUTPUT_CAP = 1024 * 1024  # stdout/stderr kept per probe (only the tail is ever shown)

__all__ = ["CHILD", "DEFAULT_TIMEOUT", "probe_env", "probe_many"]


@dataclass
class _Records:
    """What the child managed to say before it finished (or died)."""

    fields: dict[str, Any] = field(default_factory=dict)
    stage: str | None = None  # the step begun last and not finished: where a crash hit
    ended: bool = False
    unsupported: bool = False


def _parse(lines: Iterable[bytes]) -> _Records:
    rec = _Records()

    for raw in lines:
        try:
            item = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue  # a torn last line when the child died mid-write
        if not isinstance(item, dict):
            continue
        event = item.get("event")
        if event == "begin":
            rec.stage = str(item.get("stage") or "") or None
        elif event == "data" and isinstance(item.get("fields"), dict):
            rec.fields.update(item["fields"])
        elif event == "unsupported":
            rec.unsupported = True
        elif event == "end":
            rec.ended = True
            rec.stage = None
    return rec


def _marker_lines(stdout: bytes, marker: str) -> list[bytes]:
    prefix = marker.encode("ascii") + b" "
    return [line[len(prefix):] for line in stdout.splitlines() if line.startswith(prefix)]


def _broken(env: Env) -> str | None:
    """Why the env cannot be probed at all (no spawn), or None."""
    if env.broken:
        return env.broken
    exe = env.interpreter
    if not exe:
        return "no interpreter found in the env"
    if not os.path.exists(exe):
        if os.path.lexists(exe):
            try:
                target = os.readlink(exe)
            except OSError:
                target = "?"
            return f"interpreter link is dangling: {exe} -> {target}"
        return f"interpreter not found: {exe}"
    return None


def probe_env(env: Env, *, timeout: float = DEFAULT_TIMEOUT) -> ProbeResult:
    """Spawn the env's interpreter once and report what it really can do.

    Never raises for the env's behaviour: every outcome is a status (ok, unsupported,
    timeout, crashed, broken, error, untrusted: not started) with a plain-words ``detail``.
    """
    return _probe(env, timeout=timeout, token=secrets.token_hex(8), cancel=None)


def _probe(
    env: Env, *, timeout: float, token: str, cancel: threading.Event | None
) -> ProbeResult:
    start = time.monotonic()
    reason = _broken(env)
    if reason is not None:
        return ProbeResult(status="broken", detail=reason, duration_s=time.monotonic() - start)
    # The trust rule (venvsel/trust.py), checked here too so no caller can forget it: an
    # untrusted env's interpreter, .pth files and sitecustomize never run.

    verdict = trust_check(env)
    if not verdict.trusted:
        return ProbeResult(status="untrusted", detail=verdict.reason,
                           duration_s=time.monotonic() - start)
    assert env.interpreter is not None
    # A neutral cwd: the user's project may hold a torch/ folder or a stray sitecustomize.
    cwd = tempfile.mkdtemp(prefix="venvsel-probe-")
    try:
        with tempfile.TemporaryFile(prefix="venvsel-probe-", dir=cwd) as results:
            argv = [env.interpreter, "-B", "-E", "-s", str(CHILD), "--id", token]
            if proc.IS_WINDOWS:
                argv += ["--marker", f"venvsel-probe-{token}"]
                pass_fds: tuple[int, ...] = ()
            else:
                argv += ["--fd", str(results.fileno())]
                pass_fds = (results.fileno(),)
            if cancel is not None and cancel.is_set():
                return ProbeResult(status="error", detail="interrupted before it started")
            try:
                done = proc.run(
                    argv, timeout=timeout, env=proc.clean_env(), cwd=cwd,
                    output_cap=OUTPUT_CAP, pass_fds=pass_fds,
                )
            except OSError as exc:
                return ProbeResult(
                    status="broken",
                    detail=f"cannot execute {env.interpreter}: {exc.strerror or exc}",
                    duration_s=time.monotonic() - start,
                )
            if proc.IS_WINDOWS:
                lines = _marker_lines(done.stdout, f"venvsel-probe-{token}")
            else:
                results.seek(0)
                lines = results.read(RESULT_CAP).splitlines()
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    return _result(_parse(lines), done, timeout, time.monotonic() - start)


def _result(rec: _Records, done: proc.Completed, timeout: float, duration: float) -> ProbeResult:
    fields = dict(rec.fields)
    cuda_error = fields.pop("cuda_error", None)
    where = f" during {rec.stage}" if rec.stage else ""
    tail = done.stderr_tail()
    if rec.ended:
        # The answer is complete; how the process ended afterwards does not change it.
        status, detail = "ok", ""
        if cuda_error and not fields.get("cuda_available"):
            detail = f"torch.cuda.is_available() is False: {cuda_error}"
    elif done.timed_out:
        status, detail = "timeout", f"no answer within {timeout:g} s; killed"
        if rec.stage:
            detail += f" (it was in {rec.stage})"
    elif rec.unsupported:
        status = "unsupported"
        detail = (f"Python {fields.get('python') or '?'} is too old to probe; venvsel needs "
                  f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer")
    elif done.signal_name is not None:
        status, detail = "crashed", f"crashed with {done.signal_name}{where}"
        if tail:
            detail += f"; last lines of stderr:\n{tail}"
    else:
        status = "error"
        if done.returncode:
            detail = f"exited with code {done.returncode}{where}"
        else:
            detail = "stopped without giving an answer"
        detail += f"; last lines of stderr:\n{tail}" if tail else " (nothing on stderr)"
    try:
        return ProbeResult.from_json({**fields, "status": status, "detail": detail,
                                      "duration_s": round(duration, 3)})
    except (TypeError, ValueError) as exc:  # a record of the wrong shape: the env's doing
        return ProbeResult(status="error", detail=f"unreadable probe result: {exc}",
                           duration_s=round(duration, 3))


# ----------------------------------------------------------------------------- many at once


def probe_many(
    envs: Sequence[Env],
    *,
    jobs: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    on_done: Callable[[Env, ProbeResult], None] | None = None,
) -> dict[str, ProbeResult]:
    """Probe ``envs`` in parallel (``jobs`` at a time, default: CPU count), keyed by env.path.

    ``on_done`` is called in the calling thread as each probe finishes (a progress bar).
    On Ctrl-C (or any exception) no further probe starts, the running children are killed
    with their process groups, and the exception propagates.
    """
    envs = list(envs)
    if not envs:
        return {}
    workers = max(1, min(jobs or os.cpu_count() or 1, len(envs)))
    tokens = [secrets.token_hex(8) for _ in envs]
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(len(envs)):
        todo.put(i)
    done: queue.SimpleQueue[tuple[int, ProbeResult | None, BaseException | None]] = (
        queue.SimpleQueue()
    )
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((i, _probe(envs[i], timeout=timeout, token=tokens[i], cancel=stop), None))
            except BaseException as exc:  # handed to the caller's thread, raised there
                done.put((i, None, exc))

    # Daemon threads: after Ctrl-C the interpreter must not wait for them at exit.
    threads = [threading.Thread(target=work, name=f"venvsel-probe-{n}", daemon=True)
               for n in range(workers)]
    for t in threads:
        t.start()
    results: dict[str, ProbeResult] = {}
    try:
        for _ in envs:
            while True:
                try:  # a timed get: a blocking one ignores Ctrl-C on Windows
                    i, res, exc = done.get(timeout=0.25)
                    break
                except queue.Empty:
                    continue
            if exc is not None:
                raise exc
            assert res is not None
            results[envs[i].path] = res
            if on_done is not None:
                on_done(envs[i], res)
    except BaseException:
        stop.set()
        _kill_probes(tokens)
        # A worker may have been spawning as we looked: look once more after a moment.
        for t in threads:
            t.join(timeout=0.5)
        _kill_probes(tokens)
        raise
    return results


def _kill_probes(tokens: Sequence[str]) -> int:
    """Kill the process groups of our running probe children (found by their argv token).

    proc.run kills its child itself only when the exception happens in its own thread; the
    workers never see the caller's Ctrl-C, so the caller finds them here. Linux (/proc)
    only; elsewhere the children end at their own timeout.
    """
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        return 0
    wanted = [t.encode("ascii") for t in tokens]
    me = os.getpid()
    killed = 0
    for entry in proc_dir.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            stat = (entry / "stat").read_bytes()
            # "pid (comm) state ppid pgrp ..." — comm may hold spaces and parentheses.
            ppid, pgrp = (int(x) for x in stat.rsplit(b")", 1)[1].split()[1:3])
            if ppid != me or pgrp != pid:
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if any(t in argv for t in wanted):
            try:
                os.killpg(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed
