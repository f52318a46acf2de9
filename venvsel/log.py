"""Debug logging that costs nothing unless asked for.

``import logging`` alone costs ~10 ms, which a warm ``venvsel activate`` in shell start-up
should not pay; so modules call :func:`debug`, which loads logging only under ``--debug``
(or ``VENVSEL_DEBUG=1``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

_enabled: bool | None = None


def enable() -> None:
    """Turn debug logging on for this process (``venvsel --debug``)."""
    global _enabled
    import logging  # only with --debug: logging is slow to import

    logging.basicConfig(
        level=logging.DEBUG, format="venvsel: %(name)s: %(message)s", stream=sys.stderr
    )
    _enabled = True


def debug(name: str, msg: str, *args: Any) -> None:
    global _enabled
    if _enabled is None:
        if os.environ.get("VENVSEL_DEBUG"):
            enable()
        else:
            _enabled = False
    if _enabled:
        import logging  # only with --debug: logging is slow to import

        logging.getLogger(name).debug(msg, *args)
