"""Reading TOML: one parser for every file venvsel reads (its config, a project's settings,
the files of poetry, hatch, pdm and uv).

tomllib is the stdlib parser from Python 3.11; tomli is the same parser for older Pythons.
Writing (``venvsel use``) is :mod:`venvsel.project`'s, with tomlkit.
"""

from __future__ import annotations

import sys
from typing import Any

_LIMIT = 256 * 1024  # a tool's file larger than this is not one we understand anyway


def loads(text: str) -> dict[str, Any]:
    """The parsed document; the parser's own error (a ValueError) when it is not TOML."""
    # Imported here, not at the top: tomllib costs ~12 ms (`python -X importtime`), and a
    # warm `pick`/`activate` in a directory with no TOML file must not pay it.
    if sys.version_info >= (3, 11):
        import tomllib  # see the comment above

        return tomllib.loads(text)
    import tomli  # type: ignore[import-not-found, unused-ignore]

    result: dict[str, Any] = tomli.loads(text)
    return result


def read_lenient(path: str) -> dict[str, Any]:
    """A file of another tool that we only read: {} when absent, unreadable or malformed
    (the tool itself would refuse it; we just learn nothing)."""
    try:
        with open(path, "rb") as f:
            text = f.read(_LIMIT).decode("utf-8", "replace")
    except (OSError, ValueError):
        return {}
    try:
        return loads(text)
    except Exception:  # tomllib.TOMLDecodeError or tomli's
        return {}


__all__ = ["loads", "read_lenient"]
