"""Drive a real interactive shell through a pseudo-terminal (no extra dependency).

The shell runs as the session leader with the pty as its controlling terminal, exactly as in
a terminal emulator, so it is interactive: it reads its rc file, runs its prompt hooks
(PROMPT_COMMAND, precmd, fish_prompt events) before every prompt, and prints what the user
would see. :meth:`PtyShell.run` types one command line and returns everything the terminal
showed until the command finished and the next prompt was drawn.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

PROMPT = "@@P@@ "  # the tests' prompt ends with this


def _make_controlling_tty() -> None:  # runs in the child, between fork and exec
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyShell:
    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path,
                 timeout: float = 60) -> None:
        master, slave = os.openpty()
        # wide enough that no command line wraps or scrolls sideways
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 1000, 0, 0))
        self.master = master
        self.echo_first = os.path.basename(argv[0]) == "fish"
        self.timeout = timeout
        self.n = 0
        self.transcript = b""
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     cwd=cwd, preexec_fn=_make_controlling_tty, close_fds=True)
        os.close(slave)
        self._buf = b""
        self.read_until(PROMPT.encode())

    def read_until(self, marker: bytes) -> bytes:
        deadline = time.monotonic() + self.timeout
        while marker not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {marker!r} in:\n{self._buf.decode(errors='replace')}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:  # the shell exited
                    data = b""
                if not data:
                    raise EOFError(self._buf.decode(errors="replace"))
                self._buf += data
                self.transcript += data
        head, _, self._buf = self._buf.partition(marker)
        return head + marker

    def run(self, line: str) -> str:
        """Type ``line`` (one command line); what the terminal showed until the next prompt,
        without the echo of the typed line and without the prompt."""
        self.n += 1
        data = line.encode()
        os.write(self.master, data + b"\n")
        echo = b""
        if self.echo_first:
            # fish redraws prompt and line as they are typed: the command starts after the
            # whole line has been echoed and the cursor moved on
            echo = self.read_until(data[-12:] + b"\r\n")
        out = (echo + self.read_until(PROMPT.encode())).decode(errors="replace")
        text = strip_ansi(out.replace("\r\n", "\n"))
        lines = text.split("\n")
        if lines and line in lines[0]:
            lines = lines[1:]
        return "\n".join(lines[:-1])  # the last line is the next prompt

    def close(self) -> None:
        try:
            os.write(self.master, b"exit\n")
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        finally:
            os.close(self.master)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]|\r")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)
