"""Output: the versioned JSON envelope, plain tables and progress. rich is imported lazily."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, ClassVar, TextIO

from .model import to_json

ENVELOPE_VERSION = 1


def envelope(command: str, data: Any) -> dict[str, Any]:
    return {"venvsel": ENVELOPE_VERSION, "command": command, "data": to_json(data)}


def emit_json(command: str, data: Any, stream: TextIO | None = None) -> None:
    # json only here: a warm `venvsel activate` prints text through this module (fast.py)
    # and would pay for an import it never uses (`python -X importtime -c "import json"`:
    # 4.7-6.6 ms cumulative on the CI-like machine; benchmarks/warm_path.py).
    import json

    out = stream or sys.stdout
    json.dump(envelope(command, data), out, indent=2, ensure_ascii=False)
    out.write("\n")


class Result:
    """What a command returns: its JSON form (:meth:`data`, in the envelope as ``command``),
    its text form (:meth:`text` on stdout, :meth:`text_err` on stderr) and its exit code.

    :func:`emit` is the one place a result becomes output, for ``--json`` and text alike;
    the click CLI (``cli.render_result``) and the click-free front door (venvsel/fast.py)
    both go through it, so they print the same bytes. Known failures that stop a command
    before it has a result stay exceptions (venvsel/errors.py).

    Plain classes with slots, not dataclasses: a warm ``pick``/``activate`` imports them, and
    defining 19 dataclasses cost ~6 ms at import (``python -X importtime``).
    """

    __slots__ = ()

    COMMAND: ClassVar[str] = ""  # the name as typed; a subclass whose name varies overrides command

    @property
    def command(self) -> str:
        """The envelope's ``command``: the command's name as typed (``cache info``)."""
        if not self.COMMAND:
            raise NotImplementedError(type(self).__name__)
        return self.COMMAND

    @property
    def exit_code(self) -> int:
        return 0

    def data(self) -> Any:
        """The envelope's ``data``: dataclasses and plain values (``model.to_json`` runs)."""
        raise NotImplementedError

    def text(self) -> str | bytes:
        """stdout in text mode; bytes are written unchanged (shell code)."""
        return ""

    def text_err(self) -> str:
        """stderr in text mode only (why nothing was printed on stdout)."""
        return ""

    def notes(self) -> str:
        """stderr in both modes, before stdout (``pick --explain``, a dry run that cannot
        run): what --json must not mix into its stdout."""
        return ""


class ResultOf(Result):
    """A result that carries one object of the core (``result``), which is also its JSON
    form; subclasses name its type (``result: ScanResult``) and add the text and the exit
    code."""

    __slots__ = ("result",)

    def __init__(self, result: Any) -> None:
        self.result = result

    def data(self) -> Any:
        return self.result


def emit(result: Result, as_json: bool, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Print ``result`` (the envelope with ``as_json``, else its text) and return its exit
    code."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    notes = result.notes()
    if notes:
        err.write(notes)
        err.flush()
    if as_json:
        emit_json(result.command, result.data(), out)
        out.flush()
        return result.exit_code
    text = result.text()
    if isinstance(text, bytes):
        binary = getattr(out, "buffer", None)
        out.flush()
        if binary is None:  # a replaced text stream (tests): the text as is
            out.write(text.decode("utf-8", "surrogateescape"))
        else:
            binary.write(text)
            binary.flush()
    elif text:
        out.write(text)
        out.flush()
    said = result.text_err()
    if said:
        err.write(said)
        err.flush()
    return result.exit_code


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
            # third-party, heavy: only for a progress bar on a terminal
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
