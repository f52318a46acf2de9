"""The front door: ``venvsel pick`` and ``venvsel activate`` without loading click.

Both run in shell start-up and prompt hooks, where importing click costs as much as all of
venvsel's own work. Their usual forms (``--need``, ``--python``, ``--root``; ``ENV``,
``--shell``, ``--prompt``) are read here by hand and answered by the very core functions
the click commands call (:func:`venvsel.selection.pick`, :func:`venvsel.shells.activation`),
wrapped in the same result classes (venvsel/views.py) and printed by the same
:func:`venvsel.render.emit`, with the same exit codes. Anything else (``--json``, ``--help``,
``--debug``, another command, an option this does not know, a value it would not print
exactly as click does) goes to the click CLI unchanged, which then does all the work:
this module decides before doing any.
"""

from __future__ import annotations

import contextlib
import os
import sys

from .errors import EXIT_INTERRUPTED, VenvselError
from .shellnames import SHELLS as _SHELLS

# command -> {option: repeatable}; one positional ENV for activate.
_OPTIONS: dict[str, dict[str, bool]] = {
    "pick": {"--need": True, "--python": False, "--root": True},
    "activate": {"--need": True, "--python": False, "--shell": False, "--prompt": False},
}


def parse(argv: list[str]) -> tuple[str, dict[str, list[str]], list[str]] | None:
    """(command, options, positionals) for a form this module answers; None otherwise."""
    if not argv or argv[0] not in _OPTIONS:
        return None
    command, known = argv[0], _OPTIONS[argv[0]]
    opts: dict[str, list[str]] = {}
    args: list[str] = []
    i = 1
    while i < len(argv):
        token = argv[i]
        if token.startswith("-"):
            name, eq, value = token.partition("=")
            if name not in known:
                return None  # --json, --help, -h, --timeout, --, a typo: click says it
            if not eq:
                if i + 1 >= len(argv):
                    return None
                i += 1
                value = argv[i]
            if not value or (not known[name] and name in opts):
                return None
            opts.setdefault(name, []).append(value)
        else:
            args.append(token)
        i += 1
    if len(args) > (1 if command == "activate" else 0):
        return None
    shell = opts.get("--shell")
    if shell and shell[0] not in _SHELLS:
        return None
    return command, opts, args


def _printable(text: str) -> bool:
    """True when click.echo would print ``text`` to stdout unchanged."""
    try:
        text.encode(getattr(sys.stdout, "encoding", None) or "utf-8")
    except (UnicodeError, LookupError):
        return False
    return True


def _pick(opts: dict[str, list[str]]) -> int | None:
    # lazy: the front door imports only what the command it answers needs
    from .render import emit
    from .views import PickOutput

    needs = tuple(opts.get("--need", ()))
    python = opts.get("--python", [None])[0]
    roots = opts.get("--root", [])
    if not needs and python is None and not roots:
        # lazy: the front door imports only what the command it answers needs
        from .resolve import resolve_env

        out = PickOutput(recorded=resolve_env(None, (), None))
    else:
        # lazy: the front door imports only what the command it answers needs
        from .selection import pick

        out = PickOutput(pick(needs, python, roots=roots or None))
    if not _printable(out.text()):
        return None
    return emit(out, False)  # the one renderer the click command's result goes through


def _activate(opts: dict[str, list[str]], args: list[str]) -> int:
    # lazy: the front door imports only what the command it answers needs (pick loads no
    # shell code)
    from .render import emit
    from .shells import activation
    from .views import ShellCodeOutput

    result = activation(
        args[0] if args else None,
        tuple(opts.get("--need", ())),
        opts.get("--python", [None])[0],
        shell=opts.get("--shell", [None])[0],
        prompt=opts.get("--prompt", [None])[0],
    )
    return emit(ShellCodeOutput.activation(result), False)


def run(argv: list[str]) -> int | None:
    """The exit code of ``venvsel ARGV`` when answered here; None: hand it to click."""
    if os.environ.get("VENVSEL_DEBUG"):
        return None  # --debug's logging and tracebacks live in the click CLI
    parsed = parse(argv)
    if parsed is None:
        return None
    command, opts, args = parsed

    try:
        return _pick(opts) if command == "pick" else _activate(opts, args)
    except VenvselError as err:
        sys.stderr.write(f"venvsel: {err}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("venvsel: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 0
    except Exception as exc:
        from .crash import report  # only when something has gone wrong (crash.py's doc)

        return report(exc, argv)


def entry() -> None:
    """Console-script entry point: the fast door, else the click CLI.

    After an answer given here the process ends with ``os._exit``: everything it wrote is
    flushed and every file it changed is committed by then, and tearing down the modules
    and objects of a finished command costs a warm ``pick`` ~10 ms of CPU for nothing.
    """
    code = run(sys.argv[1:])
    if code is None:
        from .cli import main  # lazy: click, only when this door hands over

        sys.exit(main())

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)


__all__ = ["entry", "parse", "run"]
