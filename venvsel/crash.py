"""An unexpected exception (a bug): one line on stderr, the full traceback in a crash log in
the log dir (``VENVSEL_LOG_DIR`` or the user log dir; venvsel/paths.py), its path printed,
exit 1. ``--debug`` (``VENVSEL_DEBUG``) shows the traceback on stderr instead, as before.

Both front doors use it: the click CLI's ``main`` and the click-free ``fast.run``. Imported
only when something has already gone wrong, so it costs the warm path nothing.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback

from . import __version__
from .errors import EXIT_UNMET
from .fsutil import atomic_write_text
from .paths import log_dir

EXIT_CRASH = EXIT_UNMET  # 1: DESIGN.md's codes otherwise unchanged (2, 3, 130 keep meaning)


def write_log(exc: BaseException, argv: list[str]) -> str:
    """Write the crash log; return its path. Raises OSError when it cannot be written."""
    d = log_dir()
    d.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = d / f"crash-{stamp}-{os.getpid()}.log"
    text = "".join([
        f"venvsel {__version__} crashed at {time.strftime('%Y-%m-%d %H:%M:%S %z')}\n",
        f"command: venvsel {' '.join(argv)}\n",
        f"python:  {sys.version.split()[0]} ({sys.executable}) on {platform.platform()}\n",
        "\n",
        *traceback.format_exception(type(exc), exc, exc.__traceback__),
    ])
    atomic_write_text(path, text)
    return str(path)


def report(exc: BaseException, argv: list[str]) -> int:
    """Say that venvsel crashed, in one line, and where the traceback is; return 1."""
    said = str(exc).splitlines()[0] if str(exc) else ""
    sys.stderr.write(f"venvsel: unexpected error (a bug in venvsel): {type(exc).__name__}"
                     f"{': ' + said if said else ''}\n")
    try:
        path = write_log(exc, argv)
    except OSError as err:
        sys.stderr.write(f"venvsel: the crash log could not be written ({err}); run again "
                         "with --debug to see the traceback, and please report it.\n")
    else:
        sys.stderr.write(f"venvsel: the traceback is in {path}; please report it "
                         "(--debug shows it here).\n")
    return EXIT_CRASH


__all__ = ["EXIT_CRASH", "report", "write_log"]
