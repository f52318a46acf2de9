"""`venvsel run`: real envs, real child processes, real signals and a real terminal (pty)."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import envs

REPO = Path(__file__).resolve().parents[2]

# A child that says when it is ready, counts the signals it gets and exits with a known code.
# It counts at the C level (set_wakeup_fd writes a byte per delivery): Python-level handlers
# run once for two deliveries that arrive before the interpreter checks.
CHILD = r"""
import os, select, signal, sys, time
r, w = os.pipe()
os.set_blocking(w, False)
signal.set_wakeup_fd(w)
for name in sys.argv[1].split(","):
    signal.signal(getattr(signal, name), lambda signum, frame: None)
print("ready", flush=True)
if not select.select([r], [], [], 20)[0]:
    sys.exit(1)
time.sleep(0.5)  # a second (forwarded) copy of the signal would arrive in this window
sys.exit(100 + len(os.read(r, 100)))
"""


@pytest.fixture(scope="module")
def env_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return envs.create_env(envs.EnvSpec("run", creator="venv"),
                           tmp_path_factory.mktemp("run") / "env-a")


def cli_env() -> dict[str, str]:
    environ = dict(os.environ)
    environ["PYTHONPATH"] = str(REPO)
    return environ


def venvsel(*args: str, input: str | None = None, cwd: Path | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "venvsel", *args], env=cli_env(), input=input,
                          capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd)


def test_the_envs_python_runs_with_the_env_applied(env_a: Path) -> None:
    code = ("import os, sys; print(sys.prefix); print(os.environ['VIRTUAL_ENV']);"
            "print(os.environ['PATH'].split(os.pathsep)[0]); print(os.environ.get('PYTHONHOME'))")
    proc = venvsel("run", "--env", str(env_a), "--", "python", "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [str(env_a), str(env_a), str(env_a / "bin"), "None"]


def test_arguments_after_the_command_are_the_commands(env_a: Path) -> None:
    proc = venvsel("run", "--env", str(env_a), "python", "-c",
                   "import sys; print(sys.argv[1:])", "--help", "--env", "x")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['--help', '--env', 'x']"


@pytest.mark.parametrize("code", [0, 1, 7, 255])
def test_exit_code_is_propagated(env_a: Path, code: int) -> None:
    proc = venvsel("run", "--env", str(env_a), "--", "python", "-c",
                   f"import sys; sys.exit({code})")
    assert proc.returncode == code


def test_stdin_stdout_stderr_pass_through(env_a: Path) -> None:
    code = "import sys; data = sys.stdin.read(); print(data.upper()); print('err', file=sys.stderr)"
    proc = venvsel("run", "--env", str(env_a), "--", "python", "-c", code, input="hello\nworld")
    assert proc.returncode == 0
    assert proc.stdout == "HELLO\nWORLD\n"
    assert proc.stderr == "err\n"


def test_command_not_found_is_127_with_a_clear_message(env_a: Path) -> None:
    proc = venvsel("run", "--env", str(env_a), "--", "no-such-command-xyz", "arg")
    assert proc.returncode == 127
    assert proc.stdout == ""
    assert "command not found: no-such-command-xyz" in proc.stderr
    assert str(env_a / "bin") in proc.stderr


def test_missing_and_unexecutable_paths(env_a: Path, tmp_path: Path) -> None:
    proc = venvsel("run", "--env", str(env_a), "--", str(tmp_path / "nope"))
    assert proc.returncode == 127 and "no such file" in proc.stderr
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    proc = venvsel("run", "--env", str(env_a), "--", str(script))
    assert proc.returncode == 126 and "not an executable file" in proc.stderr
    script.chmod(0o755)
    assert venvsel("run", "--env", str(env_a), "--", str(script)).stdout == "hi\n"


def test_a_missing_env_is_a_usage_error(tmp_path: Path) -> None:
    proc = venvsel("run", "--env", str(tmp_path / "nope"), "--", "true")
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_json_envelope_after_the_command(env_a: Path) -> None:
    proc = venvsel("run", "--env", str(env_a), "--json", "--", "python", "-c",
                   "print('out'); raise SystemExit(3)")
    assert proc.returncode == 3
    first, rest = proc.stdout.split("\n", 1)
    assert first == "out"
    data = json.loads(rest)
    assert data["command"] == "run"
    assert data["data"]["exit_code"] == 3 and data["data"]["signal"] is None
    assert data["data"]["executable"] == str(env_a / "bin" / "python")


def start(env_a: Path, child: Path, signals: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "venvsel", "run", "--env", str(env_a), "--", "python",
         str(child), signals],
        env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # no terminal: like a service manager or `timeout` sending it
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    return proc


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_signals_are_forwarded_once(env_a: Path, tmp_path: Path, name: str) -> None:
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    proc = start(env_a, child, name)
    proc.send_signal(getattr(signal, name))  # to venvsel only; the child is not signalled
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 101, err  # the child got it exactly once and chose its code


def test_killed_by_a_signal_is_128_plus_n(env_a: Path, tmp_path: Path) -> None:
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    proc = start(env_a, child, "SIGUSR1")  # SIGTERM keeps its default action: it kills
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, err


def in_pty(argv: list[str]) -> tuple[bytes, int, int]:
    """Run argv as the foreground job of a new terminal; type Ctrl-C once it prints "ready".
    Returns (output, exit code, pid)."""
    pid, master = pty.fork()
    if pid == 0:  # a new session whose controlling terminal is the pty
        os.execve(argv[0], argv, cli_env())
    output = b""
    deadline = time.time() + 60
    while b"ready" not in output and time.time() < deadline:
        ready, _, _ = select.select([master], [], [], 1)
        if ready:
            output += os.read(master, 1024)
    assert b"ready" in output, output
    os.write(master, b"\x03")  # the terminal's interrupt character: SIGINT to the group
    _, status = os.waitpid(pid, 0)
    try:
        while True:
            chunk = os.read(master, 1024)
            if not chunk:
                break
            output += chunk
    except OSError:  # EIO: the terminal's last process has gone
        pass
    os.close(master)
    return output, os.waitstatus_to_exitcode(status), pid


def test_ctrl_c_at_a_terminal_reaches_the_child_and_its_code_comes_back(
    env_a: Path, tmp_path: Path
) -> None:
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    _, code, _ = in_pty([sys.executable, "-m", "venvsel", "run", "--env", str(env_a), "--",
                         "python", str(child), "SIGINT"])
    assert code == 101


def test_terminal_signals_are_recognised_only_at_a_terminal() -> None:
    """Ctrl-C from a terminal already reached the child (same process group); venvsel
    forwards SIGINT only when it is not the terminal's foreground job. Two copies of one
    signal usually merge in the kernel, so the decision is checked here directly."""
    probe = ("import time; from venvsel.runenv import _from_terminal;"
             "print(_from_terminal(), 'ready', flush=True); time.sleep(5)")
    output, code, _ = in_pty([sys.executable, "-c", probe])
    assert code != 0  # the Ctrl-C ended it
    assert b"True ready" in output
    out = subprocess.run([sys.executable, "-c", probe.replace("time.sleep(5)", "")],
                         env=cli_env(), capture_output=True, text=True, check=True,
                         start_new_session=True, stdin=subprocess.DEVNULL)
    assert out.stdout.split() == ["False", "ready"]


@pytest.mark.slow
def test_run_with_a_need(seed_project: Path) -> None:
    """The issue's example: `venvsel run --need torch -- python -c "import torch"`."""
    proc = venvsel("run", "--need", "torch", "--", "python", "-c",
                   "import sys, torch; print(sys.prefix); print(torch.__version__)",
                   cwd=seed_project, timeout=600)
    assert proc.returncode == 0, proc.stderr
    prefix, version = proc.stdout.splitlines()
    assert Path(prefix).parent == seed_project
    assert version.startswith("2.")


def test_a_named_env_that_does_not_meet_the_need_runs_nothing(
    seed_project: Path, tmp_path: Path
) -> None:
    """`run --env E --need cuda` (a job guard's form) refuses an env that would run on the CPU:
    the command never starts, the reason is said, exit 1."""
    sentinel = tmp_path / "ran"
    code = f"open({str(sentinel)!r}, 'w')"
    proc = venvsel("run", "--env", str(seed_project / ".venv"), "--need", "cuda", "--",
                   "python", "-c", code)
    assert proc.returncode == 1, proc.stderr
    assert "does not satisfy cuda" in proc.stderr
    assert "CPU-only torch build (2.13.0+cpu)" in proc.stderr
    assert not sentinel.exists()
    # the same env with a need it meets runs the command
    proc = venvsel("run", "--env", str(seed_project / ".venv"), "--need", "torch", "--",
                   "python", "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert sentinel.exists()
