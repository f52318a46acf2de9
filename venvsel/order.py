"""The one order in which venvsel lists names and paths that no rule ranks: "natural" order.

Digit runs compare as numbers (3.9 before 3.10, ``.venv39`` before ``.venv310``); every other
character compares as in plain text, a digit run sorting where a ``0`` would (so ``.venv-gpu``
comes before ``.venv310``, as ``-`` comes before ``0``). Scan's listings, doctor's and pick's
tie-breaks (venvsel/ranking.py) all use :func:`natural_key`, so envs read in one order
everywhere.
"""

from __future__ import annotations

_DIGIT = ord("0")


def natural_key(text: str) -> tuple[tuple[int, int], ...]:
    """Sort key: ``(code point, 0)`` per character, ``(ord("0"), number)`` per digit run."""
    parts: list[tuple[int, int]] = []
    run = ""
    for ch in text:
        if "0" <= ch <= "9":
            run += ch
            continue
        if run:
            parts.append((_DIGIT, int(run)))
            run = ""
        parts.append((ord(ch), 0))
    if run:
        parts.append((_DIGIT, int(run)))
    return tuple(parts)


__all__ = ["natural_key"]
