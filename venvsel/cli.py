"""The command line: click commands that parse, call one core function and render. No logic.

Core modules are imported inside each command so that a warm ``venvsel activate`` loads only
what it needs (no rich, no packaging, no interpreter spawns).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, VenvselError

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON envelope.")(f)


def need_options(f: F) -> F:
    """--need (repeatable) and --python, shared by every command that selects an env."""
    f = click.option(
        "--python", "python_spec", metavar="SPEC", default=None,
        help='Python version the env must have, e.g. ">=3.10".',
    )(f)
    f = click.option(
        "--need", "needs", multiple=True, metavar="NEED",
        help="cuda, torch, llama, llama-gpu, rocm, mps, or a requirement such as "
        '"torch>=2.3". Repeat to AND them.',
    )(f)
    return f


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="venvsel")
@click.option("--debug", is_flag=True, envvar="VENVSEL_DEBUG", help="Log details and show tracebacks.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Find every Python environment, tell the truth about what each can do on the GPU,
    pick the right one, activate it in any shell, repair it, and benchmark inside it.

    \b
    Examples:
      venvsel scan                      # every env here and what it can do
      venvsel pick --need cuda          # path of the best env that runs CUDA
      eval "$(venvsel activate --need cuda)"
      venvsel doctor                    # the root-cause report
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="venvsel: %(name)s: %(message)s")


# ---------------------------------------------------------------- commands are added below
# Each command: parse → one core call → render. Keep imports of core modules inside.


def main(argv: list[str] | None = None) -> int:
    """Entry point: the one place errors become messages and exit codes."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:]) or bool(
        os.environ.get("VENVSEL_DEBUG")
    )
    try:
        rv = cli.main(args=argv, prog_name="venvsel", standalone_mode=False)
    except VenvselError as err:
        click.echo(f"venvsel: {err}", err=True)
        return err.exit_code
    except click.exceptions.Abort:
        click.echo("venvsel: interrupted", err=True)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        click.echo("venvsel: interrupted", err=True)
        return EXIT_INTERRUPTED
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code
    except BrokenPipeError:
        # `venvsel scan | head`: the reader went away; not an error worth a traceback.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return 0
    except Exception as exc:  # noqa: BLE001 - the one catch-all, at the entry point
        if debug:
            raise
        click.echo(
            f"venvsel: unexpected error: {type(exc).__name__}: {exc}\n"
            "Run again with --debug for the traceback, and please report it.",
            err=True,
        )
        return EXIT_FAILED
    return int(rv or 0)



def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
