"""The live probe against real interpreters and real envs that misbehave on purpose: hanging,
crashing, failing and noisy start-up code lives in each env's own sitecustomize.py or .pth."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests import envs
from venvsel.model import Env, ProbeResult
from venvsel.probe import CHILD, _marker_lines, _parse, probe_env, probe_many

BASE_PYTHON = Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))
PYENV = envs.pyenv_interpreters()
PY_VERSION = ".".join(str(x) for x in sys.version_info[:3])
REPO = Path(__file__).resolve().parents[2]


def site_env(root: Path, name: str, sitecustomize: str | None = None,
             files: dict[str, str] | None = None) -> Env:
    """A real venv (pyvenv.cfg + bin/python -> the base interpreter) with start-up code."""
    dest = envs.make_manual_env(BASE_PYTHON, root / name)
    site = next((dest / "lib").glob("python*/site-packages"))
    if sitecustomize is not None:
        (site / "sitecustomize.py").write_text(textwrap.dedent(sitecustomize))
    for rel, text in (files or {}).items():
        target = site / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    return Env(path=str(dest), kind="venv", source="test",
               interpreter=str(dest / "bin" / "python"), site_packages=(str(site),))


def pid_alive(pid: int) -> bool:
    """Alive and not a zombie (a container's init may be slow to reap orphans)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_dead(pids: list[int], within: float = 3.0) -> list[int]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = [p for p in pids if pid_alive(p)]
        if not alive:
            return []
        time.sleep(0.05)
    return [p for p in pids if pid_alive(p)]


# A sitecustomize that starts a grandchild (sleep), records both pids, then hangs.
HANG = """
    import os, subprocess, time
    child = subprocess.Popen(["sleep", "1000"])
    with open({pidfile!r}, "w") as f:
        f.write("%d %d" % (os.getpid(), child.pid))
    time.sleep(100000)
"""


# ----------------------------------------------------------------------------- the child itself


@pytest.mark.parametrize("version", ["2.7", "3.6", "3.7"])
def test_child_parses_on_old_pythons(version: str) -> None:
    exe = PYENV.get(version)
    if exe is None:
        pytest.skip(f"no pyenv python {version} on this machine")
    # compile() only: nothing written next to the source.
    code = "import sys; p = sys.argv[1]; compile(open(p).read(), p, 'exec')"
    out = subprocess.run([str(exe), "-c", code, str(CHILD)], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("version", ["2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12",
                                     "3.13"])
def test_pyenv_interpreters(version: str) -> None:
    exe = PYENV.get(version)
    if exe is None:
        pytest.skip(f"no pyenv python {version} on this machine")
    prefix = str(exe.parent.parent)
    res = probe_env(Env(path=prefix, kind="pyenv", source="pyenv", interpreter=str(exe)))
    assert res.python is not None and res.python.startswith(version + "."), res
    assert os.path.realpath(res.executable or "") == os.path.realpath(exe)
    if tuple(int(x) for x in version.split(".")) >= (3, 8):
        assert res.status == "ok", res.detail
        assert res.detail == ""
    else:
        assert res.status == "unsupported"
        assert res.python in res.detail and "3.8" in res.detail
    assert res.duration_s > 0


# ----------------------------------------------------------------------------- the seed's envs


@pytest.mark.slow
def test_cpu_torch_env(seed_project: Path) -> None:
    env = Env(path=str(seed_project / ".venv"), kind="virtualenv", source="project",
              interpreter=str(seed_project / ".venv" / "bin" / "python"))
    t0 = time.monotonic()
    res = probe_env(env)
    wall = time.monotonic() - t0
    assert res.status == "ok", res.detail
    assert res.torch_version == "2.13.0+cpu"
    assert res.torch_cuda is None and res.torch_hip is None and res.torch_error is None
    assert res.cuda_available is False
    assert res.kernel_ok is None and res.cuda_devices == ()
    assert res.mps_available is False
    assert res.llama_version == "0.3.36"
    assert res.llama_gpu_offload is False
    assert res.llama_error is None
    assert res.llama_system_info and "CPU" in res.llama_system_info
    assert "CUDA" not in res.llama_system_info
    assert "not compiled with cuda" in res.detail.lower()  # torch's own reason
    print(f"\nprobe of the CPU torch env: {wall:.2f} s wall, duration_s={res.duration_s}")


@pytest.mark.slow
def test_cuda_build_torch_without_gpu(seed_project: Path) -> None:
    env = Env(path=str(seed_project / ".venv310"), kind="virtualenv", source="project",
              interpreter=str(seed_project / ".venv310" / "bin" / "python"))
    res = probe_env(env)
    assert res.status == "ok", res.detail
    assert res.torch_version and res.torch_version.startswith("2.14.1")
    assert res.torch_cuda  # a CUDA build ...
    assert res.cuda_available is False  # ... on a machine without a GPU or driver
    assert res.kernel_ok is None
    assert res.llama_version is None and res.llama_error is None  # not installed
    # with torch's own reason: here, no driver at all
    assert "is_available() is False" in res.detail and "driver" in res.detail.lower()


# ----------------------------------------------------------------------------- misbehaving envs


def test_hanging_env_times_out_and_its_group_dies(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    env = site_env(tmp_path, "hang", HANG.format(pidfile=str(pidfile)))
    t0 = time.monotonic()
    res = probe_env(env, timeout=2)
    elapsed = time.monotonic() - t0
    assert res.status == "timeout"
    assert res.detail.startswith("no answer within 2 s; killed")
    assert 2 <= elapsed < 5
    pids = [int(x) for x in pidfile.read_text().split()]
    assert len(pids) == 2
    assert wait_dead(pids) == [], "the probe's process group survived the timeout"


def test_probe_many_with_a_hanging_env_ends_in_time(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    hang = site_env(tmp_path, "hang", HANG.format(pidfile=str(pidfile)))
    good = [site_env(tmp_path, f"good{i}") for i in range(3)]
    seen: list[tuple[str, str]] = []
    t0 = time.monotonic()
    out = probe_many([hang, *good], jobs=2, timeout=3,
                     on_done=lambda e, r: seen.append((e.path, r.status)))
    elapsed = time.monotonic() - t0
    assert elapsed < 3 + 3
    assert out[hang.path].status == "timeout"
    assert all(out[g.path].status == "ok" for g in good)
    assert sorted(seen) == sorted((p, r.status) for p, r in out.items())
    assert wait_dead([int(x) for x in pidfile.read_text().split()]) == []


def test_segfaulting_env_is_crashed(tmp_path: Path) -> None:
    env = site_env(tmp_path, "segv", """
        import os, signal, sys
        sys.stderr.write("about to crash\\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGSEGV)
    """)
    res = probe_env(env)
    assert res.status == "crashed"
    assert "SIGSEGV" in res.detail
    assert "about to crash" in res.detail


def test_crash_in_a_native_import_keeps_earlier_answers(tmp_path: Path) -> None:
    # torch is installed but broken; llama_cpp kills the process when imported.
    env = site_env(tmp_path, "halfway", files={
        "torch/__init__.py": "raise ImportError('libcudart.so.12: cannot open shared object file')",
        "llama_cpp/__init__.py": "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
    })
    res = probe_env(env)
    assert res.status == "crashed"
    assert "SIGSEGV" in res.detail and "import llama_cpp" in res.detail
    assert res.torch_error == "ImportError: libcudart.so.12: cannot open shared object file"
    assert res.python == PY_VERSION


def test_failing_env_is_error_with_stderr(tmp_path: Path) -> None:
    env = site_env(tmp_path, "fail", """
        import os, sys
        sys.stderr.write("line one\\nboom: site is broken\\n")
        sys.stderr.flush()
        os._exit(3)
    """)
    res = probe_env(env)
    assert res.status == "error"
    assert "exited with code 3" in res.detail
    assert "boom: site is broken" in res.detail


JUNK = """
    import sys
    fake = '{"event": "data", "fields": {"python": "9.9.9", "torch_version": "6.6.6"}}'
    sys.stdout.write(fake + '\\n{"event": "end"}\\n')
    sys.stdout.write('venvsel-probe-0123456789abcdef ' + fake + '\\n')
    sys.stdout.write("partial line without newline {")
    sys.stdout.flush()
"""


def test_junk_on_stdout_is_never_trusted(tmp_path: Path) -> None:
    env = site_env(tmp_path, "noisy", JUNK, files={
        "noisy.pth": "import sys; sys.stdout.write('pth junk {\"event\": \"end\"}\\n')\n",
    })
    res = probe_env(env)
    assert res.status == "ok", res.detail
    assert res.python == PY_VERSION
    assert res.torch_version is None


def test_marker_channel_ignores_fake_records(tmp_path: Path) -> None:
    """The Windows channel (stdout lines behind a token), run for real here."""
    env = site_env(tmp_path, "noisy", JUNK)
    token = "venvsel-probe-feedfacecafebeef"
    out = subprocess.run([env.interpreter or "", "-E", "-s", str(CHILD), "--marker", token],
                         capture_output=True, check=False, cwd=tmp_path)
    assert out.returncode == 0
    assert b"9.9.9" in out.stdout  # the junk is there ...
    rec = _parse(_marker_lines(out.stdout, token))
    assert rec.ended  # ... and only the token's lines count
    assert rec.fields["python"] == PY_VERSION


def test_probe_ignores_pythonpath_and_user_cwd(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    shadow = tmp_path / "shadow"
    (shadow / "torch").mkdir(parents=True)
    (shadow / "torch" / "__init__.py").write_text("__version__ = 'shadowed'\n")
    where = tmp_path / "cwd.txt"
    env = site_env(tmp_path, "plain", f"""
        import os
        with open({str(where)!r}, "w") as f:
            f.write(os.getcwd())
    """)
    monkeypatch.setenv("PYTHONPATH", str(shadow))
    monkeypatch.chdir(shadow)  # a torch/ folder in the user's project
    res = probe_env(env)
    assert res.status == "ok", res.detail
    assert res.torch_version is None and res.torch_error is None
    cwd = where.read_text()
    assert cwd != str(shadow) and "venvsel-probe-" in cwd
    assert not os.path.exists(cwd), "the probe's scratch dir was left behind"


def test_broken_envs_are_not_spawned(tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\ntouch {ran}\n")
    script.chmod(0o755)
    res = probe_env(Env(path=str(tmp_path), kind="venv", source="test",
                        interpreter=str(script), broken="home /nowhere is missing"))
    assert res.status == "broken" and res.detail == "home /nowhere is missing"
    assert not ran.exists()

    dangling = tmp_path / "dangling"
    os.symlink(tmp_path / "gone" / "python3", dangling)
    res = probe_env(Env(path=str(tmp_path), kind="venv", source="test",
                        interpreter=str(dangling)))
    assert res.status == "broken" and "dangling" in res.detail

    res = probe_env(Env(path=str(tmp_path), kind="venv", source="test", interpreter=None))
    assert res.status == "broken"

    not_exe = tmp_path / "not-exe"
    not_exe.write_text("hello")
    res = probe_env(Env(path=str(tmp_path), kind="venv", source="test",
                        interpreter=str(not_exe)))
    assert res.status == "broken" and "cannot execute" in res.detail


def test_probe_many_runs_in_parallel(tmp_path: Path) -> None:
    n = 4
    sleepy = [site_env(tmp_path, f"sleepy{i}", "import time; time.sleep(1)") for i in range(n)]
    callers: set[int] = set()

    def done(env: Env, res: ProbeResult) -> None:
        callers.add(threading.get_ident())

    t0 = time.monotonic()
    out = probe_many(sleepy, jobs=n, on_done=done)
    elapsed = time.monotonic() - t0
    assert set(out) == {e.path for e in sleepy}
    assert all(r.status == "ok" and r.duration_s >= 1 for r in out.values())
    # In sequence this takes >= n seconds; in parallel a little over one.
    assert elapsed < 0.6 * n, f"{n} one-second probes took {elapsed:.2f} s with jobs={n}"
    assert callers == {threading.get_ident()}  # on_done runs in the caller's thread


def test_probe_many_empty() -> None:
    assert probe_many([]) == {}


def test_ctrl_c_kills_running_probes(tmp_path: Path) -> None:
    pidfiles = [tmp_path / f"pids{i}" for i in range(2)]
    hangs = [site_env(tmp_path, f"hang{i}", HANG.format(pidfile=str(p)))
             for i, p in enumerate(pidfiles)]
    script = textwrap.dedent(f"""
        import sys
        from venvsel.model import Env
        from venvsel.probe import probe_many
        envs = [Env(path=p, kind="venv", source="test", interpreter=p + "/bin/python")
                for p in {[h.path for h in hangs]!r}]
        try:
            probe_many(envs, jobs=2, timeout=60)
        except KeyboardInterrupt:
            sys.exit(130)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runner = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 20
        while not all(p.exists() and len(p.read_text().split()) == 2 for p in pidfiles):
            assert time.monotonic() < deadline, "the probes never started"
            time.sleep(0.05)
        runner.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        assert runner.wait(timeout=10) == 130
        assert time.monotonic() - t0 < 3
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    pids = [int(x) for p in pidfiles for x in p.read_text().split()]
    assert wait_dead(pids) == [], "Ctrl-C left probe processes running"
