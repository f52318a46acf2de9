"""Renderer for fish (``venvsel activate --shell fish | source``).

Quoting (ANCHORS.md): inside fish's ``'…'`` exactly two escapes exist, ``\\\\`` and ``\\'``, so
``\\`` becomes ``\\\\`` and ``'`` becomes ``\\'``. POSIX quoting is unsafe here: a value ending in
a backslash would escape the closing quote. PATH is a list in fish, so it is set element by
element (``set -gx PATH 'dir' 'rest' …``). Variables are set and erased in the global scope
only: a bare ``set -e`` could erase a universal variable for every future fish session.

The prompt is the ``fish_prompt`` function: it is copied to ``_venvsel_old_fish_prompt`` once
and replaced by one that prints ``$_VENVSEL_PROMPT`` (a variable, never pasted code) first.
"""

from __future__ import annotations

import re

from ..errors import UsageError
from . import operations as p

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def quote(value: str) -> str:
    """One fish single-quoted word whose value is exactly ``value``."""
    if "\0" in value:
        raise UsageError("a value contains a NUL character, which no shell can hold")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a variable name: {name!r}")
    return name


def _set_prompt(op: p.SetPrompt) -> list[str]:
    return [
        "if not set -q _VENVSEL_PROMPT_SAVED",
        "    set -g _VENVSEL_PROMPT_SAVED 1",
        "    functions -e _venvsel_old_fish_prompt",
        "    if functions -q fish_prompt",
        "        functions -c fish_prompt _venvsel_old_fish_prompt",
        "    end",
        "end",
        "if not set -q VIRTUAL_ENV_DISABLE_PROMPT; or test -z \"$VIRTUAL_ENV_DISABLE_PROMPT\"",
        f"    set -g _VENVSEL_PROMPT {quote(op.prefix)}",
        "    function fish_prompt --description 'venvsel: the env name, then the saved prompt'",
        "        set -l venvsel_status $status",
        "        printf '%s' \"$_VENVSEL_PROMPT\"",
        "        if functions -q _venvsel_old_fish_prompt",
        "            echo \"exit $venvsel_status\" | source",
        "            _venvsel_old_fish_prompt",
        "        end",
        "    end",
        "end",
    ]


_RESTORE_PROMPT = [
    "if set -q _VENVSEL_PROMPT_SAVED",
    "    functions -e fish_prompt",
    "    if functions -q _venvsel_old_fish_prompt",
    "        functions -c _venvsel_old_fish_prompt fish_prompt",
    "        functions -e _venvsel_old_fish_prompt",
    "    end",
    "    set -e -g _VENVSEL_PROMPT_SAVED",
    "    set -e -g _VENVSEL_PROMPT",
    "end",
]

_DEACTIVATE_FOREIGN = [
    "if set -q _OLD_VIRTUAL_PATH; and functions -q deactivate",
    "    deactivate nondestructive",
    "end",
]


def _save_path(op: p.SavePath) -> list[str]:
    if op.keep:
        return []  # venvsel's saved PATH (exported, untouched by launchers) stays
    lines = ["set -gx _VENVSEL_OLD_PATH $PATH"]
    for entry in op.remove:
        # the first occurrence of the dir the previous env added
        lines += [
            f"if set -l venvsel_i (contains -i -- {quote(entry)} $_VENVSEL_OLD_PATH)",
            "    set -e -g _VENVSEL_OLD_PATH[$venvsel_i[1]]",
            "end",
        ]
    return lines


def _save_var(op: p.SaveVar) -> list[str]:
    if op.keep:
        return []
    name, old = _name(op.name), _name(p.OLD_PREFIX + op.name)
    return [f"if set -q {name}", f"    set -gx {old} ${name}", "else",
            f"    set -e -g {old}", "end"]


def _restore_var(op: p.RestoreVar) -> list[str]:
    name, old = _name(op.name), _name(p.OLD_PREFIX + op.name)
    return [f"if set -q {old}", f"    set -gx {name} ${old}", "else",
            f"    set -e -g {name}", "end"]


# The prompt state fish keeps in functions and global variables; a frame saves it next to
# the exported variables. _old_fish_prompt is the one a venv/virtualenv activate.fish keeps.
_PROMPT_FUNCTIONS = ("fish_prompt", "_venvsel_old_fish_prompt", "_old_fish_prompt")
_PROMPT_VARS = ("_VENVSEL_PROMPT_SAVED", "_VENVSEL_PROMPT")
# A venv/virtualenv activate.fish exports its saved state; its deactivate erases it.
_FOREIGN_EXPORTS = ("_OLD_VIRTUAL_PATH", "_OLD_VIRTUAL_PYTHONHOME", "_OLD_FISH_PROMPT_OVERRIDE",
                    "_OLD_PKG_CONFIG_PATH", "_OLD_VIRTUAL_TCL_LIBRARY", "_OLD_VIRTUAL_TK_LIBRARY")


def _push_frame(op: p.PushFrame) -> list[str]:
    lines = []
    for name in op.names:
        name, saved = _name(name), _name(p.frame_var(op.depth, name))
        lines += [f"if set -q {name}", f"    set -gx {saved} ${name}", "else",
                  f"    set -e -g {saved}", "end"]
    lines.append(f"set -gx {p.DEPTH} {op.depth}")
    mark = _name(f"_VENVSEL_P{op.depth}")
    lines.append(f"set -g {mark} 1")
    for fn in _PROMPT_FUNCTIONS:
        copy = _name(f"_venvsel_p{op.depth}{fn}")
        lines += [f"functions -e {copy}",
                  f"if functions -q {fn}", f"    functions -c {fn} {copy}", "end"]
    for name in (*_PROMPT_VARS, *_FOREIGN_EXPORTS):
        saved = _name(f"{mark}_{name}")
        lines += [f"if set -q {name}", f"    set -g {saved} ${name}", "else",
                  f"    set -e -g {saved}", "end"]
    return lines


def _pop_frame(op: p.PopFrame) -> list[str]:
    lines = []
    for name in op.names:
        name, saved = _name(name), _name(p.frame_var(op.depth, name))
        lines += [f"if set -q {saved}", f"    set -gx {name} ${saved}", "else",
                  f"    set -e -g {name}", "end"]
    lines.append("set -e -g " + " ".join(p.frame_var(op.depth, name) for name in op.names))
    lines.append(f"set -gx {p.DEPTH} {op.depth - 1}" if op.depth > 1
                 else f"set -e -g {p.DEPTH}")
    mark = _name(f"_VENVSEL_P{op.depth}")
    lines.append(f"if set -q {mark}")
    for fn in _PROMPT_FUNCTIONS:
        copy = _name(f"_venvsel_p{op.depth}{fn}")
        lines += [f"    functions -e {fn}", f"    if functions -q {copy}",
                  f"        functions -c {copy} {fn}", f"        functions -e {copy}", "    end"]
    for name in (*_PROMPT_VARS, *_FOREIGN_EXPORTS):
        saved = _name(f"{mark}_{name}")
        scope = "-gx" if name in _FOREIGN_EXPORTS else "-g"
        lines += [f"    if set -q {saved}", f"        set {scope} {name} ${saved}", "    else",
                  f"        set -e -g {name}", "    end", f"    set -e -g {saved}"]
    lines += [f"    set -e -g {mark}", "end"]
    return lines


def _render_ops(ops: tuple[p.Op, ...]) -> list[str]:
    out: list[str] = []
    for op in ops:
        if isinstance(op, p.SetVar):
            out.append(f"set -gx {_name(op.name)} {quote(op.value)}")
        elif isinstance(op, p.UnsetVar):
            if out and out[-1].startswith("set -e -g "):
                out[-1] += " " + _name(op.name)  # one `set -e -g A B C` per run of names
            else:
                out.append(f"set -e -g {_name(op.name)}")
        elif isinstance(op, p.SaveVar):
            out += _save_var(op)
        elif isinstance(op, p.RestoreVar):
            out += _restore_var(op)
        elif isinstance(op, p.SavePath):
            out += _save_path(op)
        elif isinstance(op, p.PrependPath):
            entries = " ".join(quote(entry) for entry in op.entries)
            out.append(f"set -gx PATH {entries} $_VENVSEL_OLD_PATH")
        elif isinstance(op, p.RestorePath):
            out.append("set -gx PATH $_VENVSEL_OLD_PATH")
        elif isinstance(op, p.SetPrompt):
            out += _set_prompt(op)
        elif isinstance(op, p.RestorePrompt):
            out += _RESTORE_PROMPT
        elif isinstance(op, p.DeactivateForeign):
            out += _DEACTIVATE_FOREIGN
        elif isinstance(op, p.DefineDeactivate):
            out.append("function deactivate --description 'venvsel: leave the environment'")
            out += ["    " + line for line in _render_ops(op.body)]
            out.append("end")
        elif isinstance(op, p.RemoveDeactivate):
            out.append("functions -e deactivate")
        elif isinstance(op, p.Rehash):
            pass  # fish looks commands up on PATH every time
        elif isinstance(op, p.PushFrame):
            out += _push_frame(op)
        elif isinstance(op, p.PopFrame):
            out += _pop_frame(op)
        else:  # pragma: no cover
            raise TypeError(op)
    return out


def render(plan: p.ActivationPlan) -> str:
    """Code for ``… | source`` in fish."""
    return "\n".join(_render_ops(plan.ops)) + "\n"


__all__ = ["quote", "render"]
