"""direnv: an ``.envrc`` that activates the project's env through venvsel.

direnv runs ``.envrc`` in bash and keeps the environment it leaves, so one line does it:
``venvsel activate`` with no ENV and no --need resolves the env this project records. The
block is appended to an existing ``.envrc`` (undo restores the file byte for byte).
"""

from __future__ import annotations

ENVRC = ".envrc"
ACTIVATE_LINE = 'eval "$(venvsel activate --shell bash)"'
BLOCK = (
    "# venvsel: activate this project's env (`venvsel status` says which);"
    " `venvsel use --undo` removes this.\n"
    "watch_file pyproject.toml .venvsel.toml\n"
    f"{ACTIVATE_LINE}\n"
)


def envrc_text(old: str | None) -> str:
    """The new ``.envrc``: ``old`` with the venvsel block appended (unchanged when present)."""
    if old is None or not old.strip():
        return BLOCK
    if any(line.strip() == ACTIVATE_LINE for line in old.splitlines()):
        return old
    sep = "\n" if old.endswith("\n") else "\n\n"
    return old + sep + BLOCK
