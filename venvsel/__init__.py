"""venvsel: find, judge, pick, activate, repair and benchmark Python environments.

For scripts: ``import venvsel; venvsel.require("cuda")`` exits with a clear message naming
the env that would work when the running interpreter does not satisfy the needs.
"""

from __future__ import annotations

__version__ = "0.1.0"


def require(*needs: str, python: str | None = None) -> None:
    """Return quietly if this interpreter satisfies ``needs``; otherwise exit 1 with the fix."""
    # lazy: `import venvsel` runs before every command (fast.py is in this package)
    from .guard import require as _require

    _require(*needs, python=python)
