"""Renderer for POSIX shells: sh (dash, ash, ksh), bash and zsh.

Quoting (ANCHORS.md, virtualenv CVE-2024-53899): every value is one single-quoted word,
each ``'`` written as ``'"'"'``; a quoted value is never placed inside another quoted string,
and no value ever appears in a comment. Single quotes have no escapes in any POSIX shell, so
backslashes, ``$``, backticks and newlines stay literal. zsh's RC_QUOTES cannot change the
meaning: a ``''`` pair in the output is always followed by ``"`` or the end of the word.

The prompt: bash and sh expand ``PS1`` (parameters, command substitution) at every prompt,
and zsh does with PROMPT_SUBST, so a name like ``$(id)`` pasted into PS1 would run each time.
The name goes into a variable, ``_VENVSEL_PROMPT``, and PS1 refers to it; an expansion's
result is never expanded again. Without prompt expansion (bash ``shopt -u promptvars``, zsh
without PROMPT_SUBST) the literal text is inserted, escaped for the prompt's own codes
(bash ``\\``, zsh ``%``).
"""

from __future__ import annotations

import re

from ..errors import UsageError
from . import operations as p

DIALECTS = ("sh", "bash", "zsh")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def quote(value: str) -> str:
    """One single-quoted shell word whose value is exactly ``value``."""
    if "\0" in value:
        raise UsageError("a value contains a NUL character, which no shell can hold")
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _name(name: str) -> str:
    if not _NAME.match(name):  # names come from venvsel itself; this guards a programming error
        raise ValueError(f"not a variable name: {name!r}")
    return name


def _set_prompt(op: p.SetPrompt, dialect: str) -> list[str]:
    lines = [
        'if [ -z "${_VENVSEL_PS1_SAVED-}" ]; then',
        "    _VENVSEL_PS1_SAVED=1",
        '    if [ -n "${PS1+x}" ]; then _VENVSEL_OLD_PS1=$PS1; else unset _VENVSEL_OLD_PS1; fi',
        "fi",
        'if [ -z "${VIRTUAL_ENV_DISABLE_PROMPT-}" ]; then',
    ]
    if dialect == "zsh":
        # % starts a prompt escape in zsh whether or not PROMPT_SUBST is on.
        lines += [
            f"    _VENVSEL_PROMPT={quote(op.prefix.replace('%', '%%'))}",
            "    if [[ -o promptsubst ]]; then",
            "        PS1='${_VENVSEL_PROMPT}'\"${_VENVSEL_OLD_PS1-}\"",
            "    else",
            '        PS1="${_VENVSEL_PROMPT}${_VENVSEL_OLD_PS1-}"',
            "    fi",
        ]
    elif dialect == "bash":
        lines += [
            f"    _VENVSEL_PROMPT={quote(op.prefix)}",
            "    if shopt -q promptvars 2>/dev/null; then",
            "        PS1='${_VENVSEL_PROMPT}'\"${_VENVSEL_OLD_PS1-}\"",
            "    else",
            # bash decodes backslash escapes in PS1 even without promptvars
            f"        PS1={quote(op.prefix.replace(chr(92), chr(92) * 2))}"
            '"${_VENVSEL_OLD_PS1-}"',
            "    fi",
        ]
    else:
        # POSIX requires parameter expansion of PS1, so the reference always works.
        lines += [
            f"    _VENVSEL_PROMPT={quote(op.prefix)}",
            "    PS1='${_VENVSEL_PROMPT}'\"${_VENVSEL_OLD_PS1-}\"",
        ]
    lines.append("fi")
    return lines


_RESTORE_PROMPT = [
    'if [ -n "${_VENVSEL_PS1_SAVED-}" ]; then',
    '    if [ -n "${_VENVSEL_OLD_PS1+x}" ]; then PS1=$_VENVSEL_OLD_PS1; else unset PS1; fi',
    "    unset _VENVSEL_PS1_SAVED _VENVSEL_OLD_PS1 _VENVSEL_PROMPT",
    "fi",
]

_DEACTIVATE_FOREIGN = [
    # A venv/virtualenv activate script saved the prompt in shell variables only its own
    # deactivate knows; let it put them back before this plan resets the variables.
    'if [ -n "${_OLD_VIRTUAL_PATH+x}" ]; then',
    "    if command -v deactivate >/dev/null 2>&1; then deactivate nondestructive; fi",
    "fi",
]


def _save_path(op: p.SavePath) -> list[str]:
    if op.keep:
        return []  # venvsel's saved PATH (exported, untouched by launchers) stays
    lines = ['_VENVSEL_OLD_PATH="${PATH-}"']
    for entry in op.remove:
        # Drop the first occurrence of the dir the previous env added: cut ":DIR:" out of
        # ":PATH:". The quoted parts of each pattern match literally in sh, bash and zsh.
        lines += [
            f"_venvsel_dir={quote(entry)}",
            'case ":${_VENVSEL_OLD_PATH}:" in',
            '    *:"${_venvsel_dir}":*)',
            '        _venvsel_p=":${_VENVSEL_OLD_PATH}:"',
            '        _venvsel_p="${_venvsel_p%%:"${_venvsel_dir}":*}:'
            '${_venvsel_p#*:"${_venvsel_dir}":}"',
            "        _venvsel_p=${_venvsel_p#:}",
            "        _VENVSEL_OLD_PATH=${_venvsel_p%:}",
            "        ;;",
            "esac",
        ]
    if op.remove:
        lines.append("unset _venvsel_dir _venvsel_p")
    lines.append("export _VENVSEL_OLD_PATH")
    return lines


def _save_var(op: p.SaveVar) -> list[str]:
    if op.keep:
        return []
    name, old = _name(op.name), _name(p.OLD_PREFIX + op.name)
    return [f'if [ -n "${{{name}+x}}" ]; then export {old}="${name}"; else unset {old}; fi']


def _restore_var(op: p.RestoreVar) -> list[str]:
    name, old = _name(op.name), _name(p.OLD_PREFIX + op.name)
    return [f'if [ -n "${{{old}+x}}" ]; then export {name}="${old}"; else unset {name}; fi']


# The prompt state an interactive shell keeps in shell variables (not exported); a frame
# saves it next to the exported variables.
_PROMPT_STATE = ("PS1", "_VENVSEL_PS1_SAVED", "_VENVSEL_OLD_PS1", "_VENVSEL_PROMPT")
# zsh: virtualenv's prompt refers to %9v, an element of psvar (PSVAR is its scalar twin).
_PROMPT_STATE_ZSH = (*_PROMPT_STATE, "PSVAR")


def _prompt_state(dialect: str) -> tuple[str, ...]:
    return _PROMPT_STATE_ZSH if dialect == "zsh" else _PROMPT_STATE


def _push_frame(op: p.PushFrame, dialect: str) -> list[str]:
    lines = []
    for name in op.names:
        name, saved = _name(name), _name(p.frame_var(op.depth, name))
        lines.append(f'if [ -n "${{{name}+x}}" ]; then export {saved}="${name}"; '
                     f"else unset {saved}; fi")
    lines.append(f"export {p.DEPTH}={op.depth}")
    mark = _name(f"_VENVSEL_P{op.depth}")
    lines.append(f"{mark}=1")
    for name in _prompt_state(dialect):
        saved = _name(f"{mark}_{name}")
        lines.append(f'if [ -n "${{{name}+x}}" ]; then {saved}=${name}; else unset {saved}; fi')
    return lines


def _pop_frame(op: p.PopFrame, dialect: str) -> list[str]:
    lines = []
    for name in op.names:
        name, saved = _name(name), _name(p.frame_var(op.depth, name))
        lines.append(f'if [ -n "${{{saved}+x}}" ]; then export {name}="${saved}"; '
                     f"else unset {name}; fi")
    lines.append("unset " + " ".join(p.frame_var(op.depth, name) for name in op.names))
    lines.append(f"export {p.DEPTH}={op.depth - 1}" if op.depth > 1 else f"unset {p.DEPTH}")
    mark = _name(f"_VENVSEL_P{op.depth}")
    lines.append(f'if [ -n "${{{mark}-}}" ]; then')
    for name in _prompt_state(dialect):
        saved = _name(f"{mark}_{name}")
        lines.append(f'    if [ -n "${{{saved}+x}}" ]; then {name}=${saved}; else unset {name}; fi')
    copies = " ".join(f"{mark}_{name}" for name in _prompt_state(dialect))
    lines.append(f"    unset {mark} {copies}")
    lines.append("fi")
    return lines


def _render_ops(ops: tuple[p.Op, ...], dialect: str) -> list[str]:
    out: list[str] = []
    for op in ops:
        if isinstance(op, p.SetVar):
            out.append(f"export {_name(op.name)}={quote(op.value)}")
        elif isinstance(op, p.UnsetVar):
            if out and out[-1].startswith("unset ") and not out[-1].startswith("unset -f"):
                out[-1] += " " + _name(op.name)  # one `unset A B C` line per run of names
            else:
                out.append(f"unset {_name(op.name)}")
        elif isinstance(op, p.SaveVar):
            out += _save_var(op)
        elif isinstance(op, p.RestoreVar):
            out += _restore_var(op)
        elif isinstance(op, p.SavePath):
            out += _save_path(op)
        elif isinstance(op, p.PrependPath):
            entries = quote(op.sep.join(op.entries))
            out.append(f'export PATH={entries}"${{_VENVSEL_OLD_PATH:+{op.sep}$_VENVSEL_OLD_PATH}}"')
        elif isinstance(op, p.RestorePath):
            out.append('export PATH="${_VENVSEL_OLD_PATH-}"')
        elif isinstance(op, p.SetPrompt):
            out += _set_prompt(op, dialect)
        elif isinstance(op, p.RestorePrompt):
            out += _RESTORE_PROMPT
        elif isinstance(op, p.DeactivateForeign):
            out += _DEACTIVATE_FOREIGN
        elif isinstance(op, p.DefineDeactivate):
            # `function NAME {` keeps an alias named deactivate from being expanded here.
            out.append("deactivate () {" if dialect == "sh" else "function deactivate {")
            out += ["    " + line for line in _render_ops(op.body, dialect)]
            out.append("}")
        elif isinstance(op, p.RemoveDeactivate):
            out.append("unset -f deactivate 2>/dev/null || :")
        elif isinstance(op, p.Rehash):
            out.append("rehash" if dialect == "zsh" else "hash -r 2>/dev/null || :")
        elif isinstance(op, p.PushFrame):
            out += _push_frame(op, dialect)
        elif isinstance(op, p.PopFrame):
            out += _pop_frame(op, dialect)
        else:  # pragma: no cover - every Op is handled above
            raise TypeError(op)
    return out


def render(plan: p.ActivationPlan, dialect: str = "sh") -> str:
    """Code for ``eval "$(...)"`` in ``dialect`` ("sh", "bash" or "zsh")."""
    if dialect not in DIALECTS:
        raise ValueError(dialect)
    return "\n".join(_render_ops(plan.ops, dialect)) + "\n"


__all__ = ["DIALECTS", "quote", "render"]
