"""The one output layer (issue 12, point 3), held by reading cli.py's code.

Every command returns a result (venvsel/views.py, :class:`venvsel.render.Result`); the
group's result callback (``cli.render_result``) is the only place in cli.py that prints a
result or turns it into an exit status. These tests fail when a command prints its own
JSON, branches on --json, or raises click's Exit itself.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import click

from venvsel import cli
from venvsel.render import Result

SOURCE = Path(inspect.getfile(cli)).read_text(encoding="utf-8")
TREE = ast.parse(SOURCE)


def _functions() -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in ast.walk(TREE) if isinstance(n, ast.FunctionDef)}


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}


def test_no_command_branches_on_json_or_prints_an_envelope() -> None:
    for name, fn in _functions().items():
        for node in ast.walk(fn):
            if isinstance(node, ast.If):
                assert "as_json" not in _names(node.test), f"{name}: `if as_json` in cli.py"
        assert "emit_json" not in _names(fn), f"{name} prints JSON itself"


def test_only_render_result_raises_click_exit() -> None:
    raisers = sorted(name for name, fn in _functions().items()
                     if any(isinstance(n, ast.Raise) and n.exc is not None
                            and "Exit" in _names(n.exc) for n in ast.walk(fn)))
    assert raisers == ["render_result"]


def _commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    out: dict[str, click.Command] = {}
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out.update(_commands(cmd, f"{prefix}{name} "))
        else:
            out[prefix + name] = cmd
    return out


def test_every_command_is_annotated_to_return_a_result() -> None:
    for name, cmd in _commands(cli.cli).items():
        callback = cmd.callback
        assert callback is not None
        # cli.py has `from __future__ import annotations`: the annotation is the string
        # (read as written, so this runs on Python 3.9 too).
        returns = inspect.unwrap(callback).__annotations__.get("return")
        assert returns == Result.__name__, f"`venvsel {name}` does not return a Result"
