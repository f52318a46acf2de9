"""The bench's tg loop in C: built once per compiler into venvsel's cache, run by the worker.

llama-bench generates tokens in a C loop. The worker's own loop is Python over ctypes, and on
models that run thousands of tokens a second the interpreter between two tokens costs 2-3 %
of tg (issue 17: ``benchmarks/tg_loop_ab.py``, 5.6 µs a token on a Xeon, 3-14 µs on a
2-vCPU EPYC VM; calling one foreign function less per token saved nothing, so the cost is
leaving C at all). ``tgloop.c`` is the same loop in C. When the machine has a C compiler,
:func:`prepare` builds it (once: the file is kept in the cache under a key of the source and
the compiler) and the worker runs it; otherwise the worker runs the Python loop and the
report says so.

``--tg-loop``: ``auto`` (the default: C when it can be built), ``c`` (fail when it cannot),
``python`` (what a Python program that drives llama-cpp-python token by token gets).

Trust (issue 11): the compiler must pass the owner rule (yours or root's, writable by no one
else), the cache dir too, and the built file is loaded only while it passes it as well.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

from .. import errors, paths, proc
from ..owners import path_problem, state_dir_ok

SOURCE = Path(__file__).with_name("tgloop.c")
MODES = ("auto", "c", "python")
COMPILERS = ("cc", "gcc", "clang")
COMPILE_TIMEOUT = 120.0


@dataclass(frozen=True)
class TgLoop:
    """Which tg loop the worker is to run: ``lib`` is the built loop, None for Python."""

    lib: str | None
    note: str  # how it was built, or why the Python loop runs

    @property
    def kind(self) -> str:
        return "c" if self.lib else "python"


def find_compiler() -> tuple[str | None, str]:
    """The C compiler to build with ($CC, else cc, gcc or clang on PATH) and its words; (None,
    why) when there is none."""
    cc = os.environ.get("CC", "").strip()
    names = (cc,) if cc else COMPILERS
    for name in names:
        found = shutil.which(name)
        if found:
            return found, found
    if cc:
        return None, f"$CC ({cc}) is not a program on PATH"
    return None, f"no C compiler on PATH ({', '.join(COMPILERS)})"


def _key(cc: str) -> str:
    """The source, the compiler (resolved, with its size and mtime) and the machine: a
    rebuilt or upgraded compiler, or another architecture, builds its own file."""
    real = os.path.realpath(cc)
    st = os.stat(real)
    h = hashlib.sha256(SOURCE.read_bytes())
    h.update(repr((real, st.st_size, st.st_mtime_ns, platform.machine())).encode())
    return h.hexdigest()[:16]


def prepare(mode: str = "auto") -> TgLoop:
    """The loop for ``mode`` (one of :data:`MODES`). ``c`` raises when it cannot be built;
    ``auto`` falls back to the Python loop, with the reason in ``note``."""
    if mode not in MODES:
        raise errors.UsageError(f"--tg-loop must be one of {', '.join(MODES)}, not {mode!r}.")
    if mode == "python":
        return TgLoop(None, "as asked with --tg-loop python")
    loop = _build()
    if loop.lib is None and mode == "c":
        raise errors.UnmetError(
            f"--tg-loop c: the C tg loop cannot be built: {loop.note}.",
            hint="Install a C compiler (Debian: apt-get install gcc), set CC, or use "
            "--tg-loop auto (falls back to the Python loop).")
    return loop


def _build() -> TgLoop:
    if proc.IS_WINDOWS:
        return TgLoop(None, "the C loop is built on Linux and macOS only")
    cc, words = find_compiler()
    if cc is None:
        return TgLoop(None, words)
    problem = path_problem(cc)  # (the file the name resolves to)
    if problem is not None:
        return TgLoop(None, f"the C compiler {cc} is not run: it is {problem}")
    base = paths.cache_dir()
    out_dir = base / "native"
    if not all(state_dir_ok(d, "cache") for d in (base, out_dir)):
        return TgLoop(None, f"venvsel's cache dir {base} fails the owner rule")
    lib = out_dir / f"tgloop-{_key(cc)}.so"
    if lib.is_file():
        problem = path_problem(lib)
        if problem is None:
            return TgLoop(str(lib), f"built with {cc}")
        return TgLoop(None, f"{lib} is not loaded: it is {problem}")
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = out_dir / f".{lib.name}.{os.getpid()}.tmp"
    try:
        done = proc.run([cc, "-O2", "-shared", "-fPIC", "-o", str(tmp), str(SOURCE)],
                        timeout=COMPILE_TIMEOUT)
    except OSError as exc:
        return TgLoop(None, f"{cc} could not be started: {exc}")
    if done.returncode != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        why = "timed out" if done.timed_out else done.stderr_tail(3) or f"exit {done.returncode}"
        return TgLoop(None, f"{cc} could not build the C tg loop: {why}")
    os.replace(tmp, lib)
    return TgLoop(str(lib), f"built with {cc}")


__all__ = ["COMPILERS", "MODES", "SOURCE", "TgLoop", "find_compiler", "prepare"]
