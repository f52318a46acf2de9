"""The one subprocess wrapper: output, exit status, timeouts, group kills, and waiting
without waking up (real child processes, no mocks)."""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

import pytest

from venvsel import proc

pytestmark = pytest.mark.skipif(proc.IS_WINDOWS, reason="POSIX process groups and rusage")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_output_and_exit_status() -> None:
    done = proc.run([sys.executable, "-c", "import sys; print('out'); sys.exit(3)"], timeout=30)
    assert done.returncode == 3
    assert done.stdout.strip() == b"out"
    assert not done.timed_out


def test_timeout_kills_the_child_and_what_it_started(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    script = f"sleep 60 & echo $! > {pidfile}; sleep 60"
    t0 = time.monotonic()
    done = proc.run(["sh", "-c", script], timeout=1.0)
    assert done.timed_out
    assert done.returncode is None
    assert time.monotonic() - t0 < 10
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild), "the grandchild outlived the timeout kill"


def test_grandchild_holding_the_pipes_does_not_keep_us_waiting() -> None:
    t0 = time.monotonic()
    done = proc.run(["sh", "-c", "sleep 60 & echo started"], timeout=30)
    assert done.returncode == 0
    assert done.stdout.strip() == b"started"
    assert time.monotonic() - t0 < 10


def test_waiting_for_a_child_does_not_poll() -> None:
    """While the child runs, the parent sleeps: a polling wait (``Popen.wait(timeout)``
    wakes up every 50 ms) costs a context switch per wake-up, 60 or more over 3 s; starting
    and joining the reader threads costs 10-15 whatever the child's run time."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
    done = proc.run([sys.executable, "-c", "import time; time.sleep(3)"], timeout=30)
    switches = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - before
    assert done.returncode == 0
    assert switches < 30, f"{switches} voluntary context switches while waiting 3 s"
