"""Hostile directory names for the activation tests (ANCHORS.md, "Shell quoting"), and the
minimal env layout that makes a directory an env for activation purposes.

Every injection attempt runs ``touch pwned``: a test that evaluates activation code in a
directory and finds a file there has caught code running that should not have.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from hypothesis import strategies as st

SENTINEL = "pwned"

# Pieces that broke real tools, or could break one of our quote functions.
FRAGMENTS = (
    "';touch pwned;'",  # virtualenv CVE-2024-53899
    ";touch pwned;",
    "x'$(touch pwned)'y",  # virtualenv PR #3252
    "$(touch pwned)",
    "`touch pwned`",
    "\";touch pwned;\"",
    "\\';touch pwned;\\'",
    "\u2019;touch pwned;\u2019",  # PowerShell closes '…' on U+2019 too
    "\u2018;touch pwned;\u2018",
    "\u201a)touch pwned(\u201b",
    "'\u2019",
    "& touch pwned &",
    "| touch pwned",
    "\ntouch pwned\n",
    "\r\ntouch pwned",
    "%(touch pwned)",
    "%PATH%",
    "!PATH!",
    "^&touch pwned",
    "$((1+1))",
    "${HOME}",
    "${PATH:+x}",
    "\\",  # a trailing backslash escapes fish's closing quote if quoted the POSIX way
    "\\\\",
    "'", '"', "`", "$", "%", "!", "^", "&", "|", ";", ":", "#", "~", "*", "?", "[", "]",
    "{", "}", "(", ")", "<", ">", "=", ",", "@", "-", "--", "%%", "$$",
    " ", "  ", "\t", "\n", "\r", "\x01", "\x1b[31m", "\x7f",
    "\u00e9", "\u65e5\u672c", "\U0001f40d", "\u00a0", "\u200b",
    "\udcff", "\udc80",  # bytes that are not UTF-8 (surrogateescape): POSIX paths are bytes
)

_safe_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",), blacklist_characters="/\0", max_codepoint=0x1F6FF
    ),
    max_size=4,
)


def _valid(name: str) -> bool:
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        return False
    return len(os.fsencode(name)) <= 200


hostile_names = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), _safe_text), min_size=1, max_size=6
).map("".join).filter(_valid)


def make_env_dir(path: Path) -> Path:
    """The minimal venv layout: pyvenv.cfg and bin/python linked to this interpreter."""
    (path / "bin").mkdir(parents=True)
    os.symlink(sys.executable, path / "bin" / "python")
    (path / "pyvenv.cfg").write_text(
        f"home = {os.path.dirname(sys.executable)}\ninclude-system-site-packages = false\n"
    )
    return path


def windows_name(name: str) -> str:
    """The name as Windows could hold it: no <>:"/\\|?* or control characters, no trailing
    dot or space. The hostile characters that remain are the ones that matter there: quotes of
    every kind, $, `, %, !, ^, &, ;."""
    return re.sub(r'[<>:"/\\|?*\x00-\x1f]', "_", name).rstrip(" .") or "_"
