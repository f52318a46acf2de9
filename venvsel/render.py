"""Output: the versioned JSON envelope, plain tables and progress. rich is imported lazily."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from .model import to_json

ENVELOPE_VERSION = 1


def envelope(command: str, data: Any) -> dict[str, Any]:
    return {"venvsel": ENVELOPE_VERSION, "command": command, "data": to_json(data)}


def emit_json(command: str, data: Any, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    json.dump(envelope(command, data), out, indent=2, ensure_ascii=False)
    out.write("\n")


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], stream: TextIO | None = None
) -> None:
    """A plain, aligned text table (no colour, copy-paste friendly, no rich import)."""
    out = stream or sys.stdout
    cols = [list(map(str, col)) for col in zip(headers, *rows)] if rows else [[h] for h in headers]
    widths = [max(len(c) for c in col) for col in cols]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out.write(line.rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in rows:
        out.write("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() + "\n")


def warn(message: str) -> None:
    sys.stderr.write(f"venvsel: warning: {message}\n")


def info(message: str) -> None:
    sys.stderr.write(f"{message}\n")


class Progress:
    """A progress display on stderr, only when stderr is a terminal and not in --json mode.

    Usage: ``with Progress("probing", total=n, enabled=...) as p: p.advance(label)``.
    """

    def __init__(self, description: str, total: int | None, *, enabled: bool = True) -> None:
        self.description = description
        self.total = total
        self.enabled = enabled and sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[label]}"),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.description, total=self.total, label="")
        return self

    def advance(self, label: str = "", step: float = 1) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=step, label=label)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
