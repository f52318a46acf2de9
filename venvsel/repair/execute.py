"""Carrying out a plan: back up, run each step (progress on stderr, everything in a
transcript), verify with a live probe, and on any failure, failed verification, Ctrl-C or
SIGTERM put the original env back exactly as it was and raise OperationFailed (exit 3).

Every command runs through :func:`venvsel.proc.run` with ``VENVSEL_REPAIR_ID`` in its
environment, so a child that outlives a SIGKILLed venvsel can be found and stopped before
recovery touches the env.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn

from .. import proc
from ..cache import Cache, env_fingerprint, new_entry
from ..contents import inspect_env
from ..cuda import major_minor
from ..discover import env_from_path
from ..errors import OperationFailed
from ..fsutil import atomic_write_text
from ..machine import driver_fingerprint
from ..model import Env, ProbeResult
from ..owners import state_dir_ok
from ..paths import log_dir
from ..probe import probe_env
from .backend import public
from .diagnose import Diagnosis
from .plan import DOES_ITSELF, Expect, Mode, Plan, Step, StepKind
from .recovery import ID_VAR, Journal, kill_stragglers, restore

OUTPUT_CAP = 32 * 1024 * 1024  # per stream, for the transcript; pip's output is far smaller
VERIFY_TIMEOUT = 180.0  # importing a CUDA torch on a slow machine, cold


@dataclass(frozen=True)
class StepResult:
    key: StepKind
    title: str
    command: str
    ok: bool
    returncode: int | None = None
    duration_s: float = 0.0
    detail: str = ""


@dataclass(frozen=True)
class Outcome:
    ok: bool
    env_path: str
    mode: Mode
    reason: str  # success: what changed; failure: why it failed
    steps: tuple[StepResult, ...]
    log_path: str
    backup_path: str | None  # the kept backup; None when discarded or restored
    restored: bool = False
    probe: ProbeResult | None = None
    changes: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class _Stop(BaseException):
    """A termination signal arrived: unwind to the rollback."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class _Failed(Exception):
    pass


class Transcript:
    """The repair log: every step's command, return code and full output, flushed as it goes
    (a SIGKILLed repair still leaves what it did)."""

    def __init__(self, path: str) -> None:
        self.path = path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._f: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, text: str) -> None:
        self._f.write(text if text.endswith("\n") else text + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def _stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM/SIGHUP raise _Stop (Ctrl-C raises KeyboardInterrupt as usual)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        raise _Stop(signal.Signals(signum).name)

    sigs = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    old = {s: signal.signal(s, handler) for s in sigs}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """While the original env is being put back, nothing may interrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    old = {s: signal.signal(s, signal.SIG_IGN) for s in sigs}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _progress(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _error_lines(stderr: bytes, n: int = 3) -> str:
    """The lines that say what went wrong: pip's ``ERROR:`` lines, else the last lines."""
    lines = [ln.rstrip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("ERROR", "error:", "  error", "CMake Error"))]
    return "\n".join((errors or lines)[-n:]) or "(no output)"


@contextlib.contextmanager
def _ticker(progress: Callable[[str], None], every: float = 30.0) -> Iterator[None]:
    """Say "still running" now and then during a long step (a CUDA torch is GBs)."""
    stop = threading.Event()
    start = time.monotonic()

    def tick() -> None:
        while not stop.wait(every):
            progress(f"      ... still running ({_fmt_s(time.monotonic() - start)})")

    t = threading.Thread(target=tick, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(timeout=1.0)


def _run_command(step: Step, plan: Plan, log: Transcript) -> StepResult:
    env = proc.clean_env(drop=(*proc.PYTHON_LEAKS, *step.unset, "VIRTUAL_ENV"),
                         extra={**dict(step.env), ID_VAR: plan.id})
    log.write(f"$ {step.command()}")
    try:
        done = proc.run(step.argv, timeout=step.timeout, env=env, output_cap=OUTPUT_CAP)
    except OSError as exc:
        detail = f"cannot run {step.argv[0]}: {exc.strerror or exc}"
        log.write(detail)
        return StepResult(step.key, step.title, step.command(), False, None, 0.0, detail)
    for name, data in (("stdout", done.stdout), ("stderr", done.stderr)):
        text = data.decode("utf-8", "replace")
        if text.strip():
            log.write(f"--- {name}\n{text.rstrip()}")
    if done.timed_out:
        detail = f"timed out after {_fmt_s(step.timeout)}"
    elif done.signal_name:
        detail = f"killed by {done.signal_name}"
    elif done.returncode != 0:
        detail = f"exit code {done.returncode}: {_error_lines(done.stderr)}"
    else:
        detail = ""
    log.write(f"--- return code {done.returncode}{' (' + detail + ')' if detail else ''}, "
              f"{done.duration_s:.1f} s")
    return StepResult(step.key, step.title, step.command(), not detail, done.returncode,
                      done.duration_s, detail)


def _done_itself(step: Step, plan: Plan, journal: Journal, log: Transcript) -> StepResult:
    """Carry out a step venvsel does itself, other than "verify": a rename, a copy."""
    start = time.monotonic()
    log.write(f"$ {step.command()}")
    if step.key == "move":
        os.rename(plan.env_path, plan.backup_path)
    elif step.key == "snapshot":
        shutil.copytree(plan.env_path, plan.backup_path, symlinks=True)
        journal.set("snapshotted")
    elif step.key == "copy-pth":
        for src, dst in plan.copies:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(src, dst)
    else:  # pragma: no cover - DOES_ITSELF names only these and "verify"
        raise AssertionError(f"venvsel does not carry out {step.key!r} itself")
    return StepResult(step.key, step.title, step.command(), True, 0, time.monotonic() - start)


def _verify_step(step: Step, plan: Plan, log: Transcript,
                 timeout: float) -> tuple[StepResult, ProbeResult | None, list[str]]:
    start = time.monotonic()
    ok, text, probe, notes = verify(plan, timeout)
    log.write(f"verification: {'ok' if ok else 'FAILED'}: {text}")
    return (StepResult(step.key, step.title, step.command(), ok, None, time.monotonic() - start,
                       text), probe, notes)


# --------------------------------------------------------------------------- verification


def verify(plan: Plan, timeout: float) -> tuple[bool, str, ProbeResult | None, list[str]]:
    """Probe the repaired env live: (ok, what was found or what failed, probe, notes). The
    checks, in order: the torch build asked for, a torch left alone still as it was,
    llama-cpp-python, the user's other packages (``_VERIFY_CHECKS``)."""

    notes: list[str] = []
    ex = plan.expect
    env = env_from_path(plan.env_path)
    if env.broken:
        return False, f"the env is broken after the repair: {env.broken}", None, notes
    probe = probe_env(env, timeout=timeout)
    if not probe.ok:
        return False, f"the probe failed ({probe.status}: {probe.detail})", probe, notes
    if ex is None:
        return True, "the env's python runs", probe, notes
    for check in _VERIFY_CHECKS:
        failure = check(plan, ex, env, probe, notes)
        if failure is not None:
            return False, failure, probe, notes
    return True, _found(ex, probe), probe, notes


def _torch_failure(plan: Plan, ex: Expect, env: Env, probe: ProbeResult,
                   notes: list[str]) -> str | None:
    """When torch was installed: it imports, is the build asked for, at the planned version."""

    if plan.torch is None and not ex.torch_version:
        return None
    v = probe.torch_version
    if not v:
        return f"torch does not import: {probe.torch_error or 'not installed'}"
    if ex.torch_cuda is None:
        if probe.torch_cuda:
            return f"torch {v} is a CUDA {probe.torch_cuda} build; a CPU build was asked for"
    else:
        failure = _cuda_build_failure(plan, ex, probe, notes)
        if failure is not None:
            return failure
    if ex.torch_version and public(v) != ex.torch_version:
        return f"torch {v} is installed, not {ex.torch_version} as planned"
    return None


def _cuda_build_failure(plan: Plan, ex: Expect, probe: ProbeResult,
                        notes: list[str]) -> str | None:
    """A CUDA torch: the CUDA version asked for (another one that runs kernels is a note),
    and, on a GPU machine, a kernel that runs."""

    assert ex.torch_cuda is not None
    v = probe.torch_version
    if not probe.torch_cuda:
        return f"torch {v} is not a CUDA build (torch.version.cuda is None)"
    if major_minor(probe.torch_cuda) != major_minor(ex.torch_cuda):
        if ex.kernel and probe.kernel_ok:
            notes.append(f"torch {v} is a CUDA {probe.torch_cuda} build, not "
                         f"{ex.torch_cuda}, but it runs kernels here.")
        else:
            return (f"torch {v} is a CUDA {probe.torch_cuda} build; "
                    f"{plan.backend.name} asks for CUDA {ex.torch_cuda}")
    if ex.kernel:
        if not probe.cuda_available:
            return f"torch {v} (CUDA {probe.torch_cuda}): torch.cuda.is_available() is False"
        if not probe.kernel_ok:
            return f"torch {v}: a CUDA kernel failed: {probe.kernel_error or 'unknown error'}"
    return None


def _kept_torch_failure(plan: Plan, ex: Expect, env: Env, probe: ProbeResult,
                        notes: list[str]) -> str | None:
    """torch was left alone: the repair must not have changed or broken it."""
    if not ex.torch_kept:
        return None
    v = probe.torch_version
    if v != ex.torch_kept:
        return (f"torch was {ex.torch_kept} and was to be left alone, but is now "
                f"{v or 'missing'} ({probe.torch_error or 'changed'})")
    if ex.kernel_kept and not probe.kernel_ok:
        return (f"torch {v} ran a CUDA kernel before the repair and no longer does: "
                f"{probe.kernel_error or 'unknown error'}")
    return None


def _llama_failure(plan: Plan, ex: Expect, env: Env, probe: ProbeResult,
                   notes: list[str]) -> str | None:
    """llama-cpp-python offloads to the GPU, is a CUDA build, or imports, as planned."""

    if ex.llama == "gpu" and not probe.llama_gpu_offload:
        why = probe.llama_error or "llama_supports_gpu_offload() is False"
        return f"llama-cpp-python is still not a GPU build ({why})"
    if ex.llama == "cuda-build":
        llama = inspect_env(env).llama
        if not probe.llama_version:
            return f"llama_cpp does not import: {probe.llama_error or 'missing'}"
        if llama is None or "cuda" not in llama.backends:
            return ("llama-cpp-python was rebuilt without its CUDA backend "
                    "(no libggml-cuda in llama_cpp/lib)")
    if ex.llama == "import" and not probe.llama_version:
        return f"llama_cpp does not import: {probe.llama_error or 'missing'}"
    return None


def _packages_failure(plan: Plan, ex: Expect, env: Env, probe: ProbeResult,
                      notes: list[str]) -> str | None:
    """Every package of the old env is back (one upgraded for the new torch is a note)."""

    if not ex.packages:
        return None
    now = dict(inspect_env(env).distributions)
    missing = [n for n, _ in ex.packages if n not in now]
    if missing:
        return "missing after the reinstall: " + ", ".join(missing)
    changed = [f"{n} {old} → {now[n]}" for n, old in ex.packages if old and now[n] != old]
    if changed:
        notes.append("upgraded for the new torch: " + ", ".join(changed))
    return None


_VERIFY_CHECKS: tuple[
    Callable[[Plan, Expect, Env, ProbeResult, list[str]], str | None], ...
] = (_torch_failure, _kept_torch_failure, _llama_failure, _packages_failure)


def _found(ex: Expect, probe: ProbeResult) -> str:
    """What verification found, in words: torch and its build, the kernel, llama."""
    v = probe.torch_version
    found = [f"torch {v}" + (f" (CUDA {probe.torch_cuda})" if probe.torch_cuda else " (CPU)")
             if v else "no torch"]
    if ex.kernel and probe.kernel_ok:
        dev = probe.cuda_devices[0].name if probe.cuda_devices else "the GPU"
        found.append(f"a CUDA kernel ran on {dev}")
    if probe.llama_version:
        found.append(f"llama-cpp-python {probe.llama_version}"
                     + (" with GPU offload" if probe.llama_gpu_offload else " (CPU)"))
    return ", ".join(found)


def refresh_cache(env_path: str, probe: ProbeResult | None) -> bool:
    """Store fresh facts for the env (its fingerprint changed with its site-packages), with
    ``probe`` when it describes the env as it now is. False when it could not be done."""
    try:
        env = env_from_path(env_path)
        Cache().put(new_entry(env, env_fp=env_fingerprint(env), machine_fp=driver_fingerprint(),
                              static=inspect_env(env), probe=probe))
    except Exception:  # the cache is a convenience; the repair's result stands
        return False
    return True


# --------------------------------------------------------------------------- execute


def _changes(diag: Diagnosis, probe: ProbeResult | None) -> tuple[str, ...]:
    if probe is None:
        return ()
    out = []
    old = diag.static.torch.version if diag.static.torch else None
    new = probe.torch_version
    if (new and old != new) or (probe.torch_cuda and diag.static.torch
                                and probe.torch_cuda != diag.static.torch.cuda):
        old_build = (f" (CUDA {diag.static.torch.cuda})" if diag.static.torch
                     and diag.static.torch.cuda else "")
        new_build = f" (CUDA {probe.torch_cuda})" if probe.torch_cuda else " (CPU)"
        out.append(f"torch {old or 'none'}{old_build} → {new}{new_build}")
    if diag.static.llama and probe.llama_version:
        was = "GPU" if diag.static.llama.gpu_offload else "CPU-only"
        now = "GPU offload" if probe.llama_gpu_offload else "CPU-only"
        if was != now:
            out.append(f"llama-cpp-python {probe.llama_version}: {was} → {now}")
    return tuple(out)


def execute(
    plan: Plan,
    diag: Diagnosis,
    *,
    discard_backup: bool = False,
    verify_timeout: float = VERIFY_TIMEOUT,
    progress: Callable[[str], None] = _progress,
) -> Outcome:
    """Run ``plan``. Returns the successful Outcome; raises OperationFailed after restoring."""
    log = _open_transcript(plan, diag, progress)
    journal = Journal(plan.id, plan.env_path, plan.backup_path, plan.mode, log=log.path)
    run = _Run()
    failure = _run_steps(plan, journal, log, run, verify_timeout, progress)
    if failure is not None and not run.touched:
        _fail_unchanged(plan, journal, log, failure)
    if failure is not None:
        _restore_and_fail(plan, diag, journal, log, failure, progress)
    return _finish(plan, diag, journal, log, run, discard_backup)


@dataclass
class _Run:
    """What the steps of a repair have given so far."""

    results: list[StepResult] = field(default_factory=list)
    probe: ProbeResult | None = None  # the verification's probe
    notes: list[str] = field(default_factory=list)
    touched: bool = False  # the first step that changes the disk has begun


def _open_transcript(plan: Plan, diag: Diagnosis, progress: Callable[[str], None]) -> Transcript:
    """The repair's transcript in the log dir (a private temp dir when that is someone
    else's), headed by the diagnosis and the plan."""
    logs = log_dir()
    if not state_dir_ok(logs, "log"):  # someone else's dir: a private one instead
        logs = Path(tempfile.mkdtemp(prefix="venvsel-repair-log-"))
    log_path = str(logs / f"repair-{plan.id}.log")
    log = Transcript(log_path)
    progress(f"Transcript: {log_path}")
    log.write(f"venvsel repair {plan.env_path}  ({_stamp()}, id {plan.id})")
    log.write(diag.render())
    log.write(plan.render())
    return log


def _run_steps(plan: Plan, journal: Journal, log: Transcript, run: _Run, verify_timeout: float,
               progress: Callable[[str], None]) -> str | None:
    """Every step in order, the journal updated before each; why it stopped (a failed step,
    a signal, Ctrl-C, any error), or None when all went through."""

    total = len(plan.steps)
    try:
        with _signals_raise():
            journal.set("started")
            for path, text in plan.files:
                atomic_write_text(path, text)
            for i, step in enumerate(plan.steps, 1):
                journal.set(step.state)
                run.touched = True
                progress(f"[{i}/{total}] {step.title}")
                log.write(f"\n=== step {i}/{total}: {step.title}  ({_stamp()})")
                if step.key == "verify":
                    res, run.probe, vnotes = _verify_step(step, plan, log, verify_timeout)
                    run.notes += vnotes
                elif step.key in DOES_ITSELF:
                    res = _done_itself(step, plan, journal, log)
                else:
                    with _ticker(progress):
                        res = _run_command(step, plan, log)
                run.results.append(res)
                if res.ok:
                    progress(f"      ok ({_fmt_s(res.duration_s)})"
                             + (f": {res.detail}" if step.key == "verify" else ""))
                elif not step.fatal:
                    progress(f"      reported a problem (not fatal): {res.detail}")
                    run.notes.append(f"{step.title}: {res.detail}")
                else:
                    progress(f"      FAILED after {_fmt_s(res.duration_s)}: {res.detail}")
                    raise _Failed(f"step {i} ({step.title}) failed: {res.detail}")
            journal.set("done")
    except _Failed as exc:
        return str(exc)
    except _Stop as exc:
        return f"interrupted by {exc.name}"
    except KeyboardInterrupt:
        return "interrupted (Ctrl-C)"
    except Exception as exc:  # anything else still must not lose the env
        return f"unexpected error: {type(exc).__name__}: {exc}"
    return None


def _fail_unchanged(plan: Plan, journal: Journal, log: Transcript, failure: str) -> NoReturn:
    """Failed before the first step (the journal could not be written, say): the env was
    never moved or copied, so there is nothing to put back."""
    log.write(f"\n=== FAILED before any change: {failure}")
    log.close()
    journal.forget_sibling()
    with contextlib.suppress(OSError):
        os.unlink(journal.cache_file)
    raise OperationFailed(f"repair of {plan.label} failed before changing anything: "
                          f"{failure}", hint=f"Transcript: {log.path}")


def _restore_and_fail(plan: Plan, diag: Diagnosis, journal: Journal, log: Transcript,
                      failure: str, progress: Callable[[str], None]) -> NoReturn:
    """Put the original env back (nothing may interrupt that), then fail with exit 3."""
    with _signals_ignored():
        log.write(f"\n=== FAILED: {failure}; restoring the original env  ({_stamp()})")
        progress("Restoring the original env ...")
        try:
            journal.reason = failure
            msg = restore(journal)
        except Exception as exc:
            log.write(f"restore failed: {exc}")
            log.close()
            raise OperationFailed(
                f"{failure}; and restoring the original env failed: {exc}",
                hint=f"The backup is {plan.backup_path}; the transcript is {log.path}.",
            ) from None
        log.write(msg)
        refresh_cache(plan.env_path, diag.probe)
        log.close()
    raise OperationFailed(
        f"repair of {plan.label} failed: {failure}. {msg[0].upper() + msg[1:]}",
        hint=f"Transcript: {log.path}",
    )


def _finish(plan: Plan, diag: Diagnosis, journal: Journal, log: Transcript, run: _Run,
            discard_backup: bool) -> Outcome:
    """After success: stragglers stopped, the backup kept (or discarded), the cache
    refreshed, and what changed."""
    kill_stragglers(plan.id, wait=1.0)
    backup: str | None = plan.backup_path
    if discard_backup:
        shutil.rmtree(plan.backup_path, ignore_errors=True)
        journal.forget_sibling()
        backup = None
        log.write(f"backup {plan.backup_path} removed (--discard-backup)")
    cached = refresh_cache(plan.env_path, run.probe)
    if not cached:
        run.notes.append("the cache entry could not be refreshed; the next scan probes the env.")
    changes = _changes(diag, run.probe)
    verified = run.results[-1].detail if run.results else ""
    log.write(f"\n=== done ({_stamp()}): {verified}")
    for c in changes:
        log.write(f"changed: {c}")
    log.close()
    return Outcome(True, plan.env_path, plan.mode, verified, tuple(run.results), log.path,
                   backup, probe=run.probe, changes=changes, notes=tuple(run.notes))


__all__ = ["Outcome", "StepResult", "Transcript", "execute", "refresh_cache", "verify"]
