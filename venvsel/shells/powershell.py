"""Renderer for PowerShell: Windows PowerShell and pwsh on any OS
(``venvsel activate --shell pwsh | Out-String | Invoke-Expression``).

Quoting (ANCHORS.md): a verbatim ``'…'`` string in which every single-quote character is
doubled. PowerShell treats five characters as single quotes — ASCII ``'`` and U+2018, U+2019,
U+201A, U+201B — and a quote character followed by any quote character is one literal
character, so each of the five is written twice. Backticks and ``$`` are literal inside
``'…'``. The PATH separator comes from the plan (":" for pwsh on Linux/macOS, ";" on Windows).

Everything the code defines is global (``function global:…``, ``$global:…``): the hook runs
``Invoke-Expression`` inside a function, whose own scope would otherwise swallow it.
"""

from __future__ import annotations

import re

from ..errors import UsageError
from . import operations as p

QUOTES = "'\u2018\u2019\u201a\u201b"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def quote(value: str) -> str:
    """One PowerShell verbatim string whose value is exactly ``value``."""
    if "\0" in value:
        raise UsageError("a value contains a NUL character, which no shell can hold")
    for ch in value:
        if "\ud800" <= ch <= "\udfff":
            raise UsageError(
                f"{value!r} contains bytes that are not valid UTF-8; "
                "PowerShell strings cannot hold them",
                hint="Rename the directory to a UTF-8 name, or use bash, zsh or fish.",
            )
    return "'" + "".join(ch * 2 if ch in QUOTES else ch for ch in value) + "'"


def _name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a variable name: {name!r}")
    return name


_UNSET_HEAD = "Remove-Item -LiteralPath "
_UNSET_TAIL = " -ErrorAction SilentlyContinue"


def _unset(out: list[str], name: str) -> None:
    item = quote("env:/" + _name(name))
    last = out[-1] if out else ""
    if last.startswith(_UNSET_HEAD + "'env:/") and last.endswith(_UNSET_TAIL):
        # one Remove-Item per run of names: -LiteralPath takes a list
        out[-1] = last[: -len(_UNSET_TAIL)] + ", " + item + _UNSET_TAIL
    else:
        out.append(_UNSET_HEAD + item + _UNSET_TAIL)


def _set_prompt(op: p.SetPrompt) -> list[str]:
    return [
        "if ($null -eq (Get-Variable -Name '_VENVSEL_PROMPT_SAVED' -Scope Global "
        "-ErrorAction SilentlyContinue)) {",
        "    $global:_VENVSEL_PROMPT_SAVED = $true",
        "    $global:_VENVSEL_OLD_PROMPT_FN = (Get-Item -Path 'function:prompt' "
        "-ErrorAction SilentlyContinue).ScriptBlock",
        "}",
        "if (-not ${env:VIRTUAL_ENV_DISABLE_PROMPT}) {",
        f"    $global:_VENVSEL_PROMPT = {quote(op.prefix)}",
        "    function global:prompt {",
        "        Write-Host -NoNewline $global:_VENVSEL_PROMPT",
        "        if ($global:_VENVSEL_OLD_PROMPT_FN) { & $global:_VENVSEL_OLD_PROMPT_FN } else {",
        "            'PS ' + $executionContext.SessionState.Path.CurrentLocation + '> '",
        "        }",
        "    }",
        "}",
    ]


_RESTORE_PROMPT = [
    "if ($null -ne (Get-Variable -Name '_VENVSEL_PROMPT_SAVED' -Scope Global "
    "-ErrorAction SilentlyContinue)) {",
    "    if ($global:_VENVSEL_OLD_PROMPT_FN) {",
    "        Set-Item -Path 'function:global:prompt' -Value $global:_VENVSEL_OLD_PROMPT_FN",
    "    } else {",
    "        Remove-Item -Path 'function:global:prompt' -ErrorAction SilentlyContinue",
    "    }",
    "    Remove-Variable -Name '_VENVSEL_PROMPT_SAVED', '_VENVSEL_OLD_PROMPT_FN', "
    "'_VENVSEL_PROMPT' -Scope Global -ErrorAction SilentlyContinue",
    "}",
]

_DEACTIVATE_FOREIGN = [
    "if ((Test-Path -LiteralPath 'env:/_OLD_VIRTUAL_PATH') -and "
    "(Test-Path -Path 'function:global:deactivate')) {",
    "    deactivate -NonDestructive",
    "}",
]


def _save_path(op: p.SavePath) -> list[str]:
    if op.keep:
        return []  # venvsel's saved PATH (untouched by launchers) stays
    if not op.remove:
        return ["${env:_VENVSEL_OLD_PATH} = ${env:PATH}"]
    sep = quote(op.sep)
    # Windows compares paths without regard to case; Linux and macOS do not.
    eq = "-eq" if op.sep == ";" else "-ceq"
    dirs = ", ".join(quote(entry) for entry in op.remove)
    return [
        "& {",
        "    $parts = [System.Collections.Generic.List[string]]::new("
        f"([string]${{env:PATH}}).Split([char]{sep}))",
        f"    foreach ($dir in @({dirs})) {{",
        "        for ($i = 0; $i -lt $parts.Count; $i++) {",
        f"            if ($parts[$i].TrimEnd([char[]]'\\/') {eq} $dir.TrimEnd([char[]]'\\/')) {{",
        "                $parts.RemoveAt($i)",
        "                break",
        "            }",
        "        }",
        "    }",
        f"    ${{env:_VENVSEL_OLD_PATH}} = $parts -join {sep}",
        "}",
    ]


def _copy_var(source: str, dest: str) -> list[str]:
    """``dest = source``, or remove ``dest`` when ``source`` is not set."""
    source, dest = _name(source), _name(dest)
    return [
        f"if (Test-Path -LiteralPath {quote('env:/' + source)}) "
        f"{{ ${{env:{dest}}} = ${{env:{source}}} }}"
        f" else {{ {_UNSET_HEAD}{quote('env:/' + dest)}{_UNSET_TAIL} }}"
    ]


def _save_var(op: p.SaveVar) -> list[str]:
    return [] if op.keep else _copy_var(op.name, p.OLD_PREFIX + op.name)


def _restore_var(op: p.RestoreVar) -> list[str]:
    return _copy_var(p.OLD_PREFIX + op.name, op.name)


def _push_frame(op: p.PushFrame) -> list[str]:
    lines = []
    for name in op.names:
        lines += _copy_var(name, p.frame_var(op.depth, name))
    lines.append(f"${{env:{p.DEPTH}}} = {quote(str(op.depth))}")
    mark = _name(f"_VENVSEL_P{op.depth}")
    lines += [
        f"$global:{mark} = @{{",
        "    Fn = (Get-Item -Path 'function:prompt' -ErrorAction SilentlyContinue).ScriptBlock",
        "    Saved = ($null -ne (Get-Variable -Name '_VENVSEL_PROMPT_SAVED' -Scope Global "
        "-ErrorAction SilentlyContinue))",
        "    OldFn = $global:_VENVSEL_OLD_PROMPT_FN",
        "    Prompt = $global:_VENVSEL_PROMPT",
        "}",
    ]
    return lines


def _pop_frame(op: p.PopFrame) -> list[str]:
    lines = []
    for name in op.names:
        lines += _copy_var(p.frame_var(op.depth, name), name)
    out: list[str] = []
    for name in op.names:
        _unset(out, p.frame_var(op.depth, name))
    lines += out
    if op.depth > 1:
        lines.append(f"${{env:{p.DEPTH}}} = {quote(str(op.depth - 1))}")
    else:
        lines.append(f"{_UNSET_HEAD}{quote('env:/' + p.DEPTH)}{_UNSET_TAIL}")
    mark = _name(f"_VENVSEL_P{op.depth}")
    lines += [
        f"$venvselFrame = $global:{mark}",
        "if ($null -ne $venvselFrame) {",
        "    if ($venvselFrame.Fn) {",
        "        Set-Item -Path 'function:global:prompt' -Value $venvselFrame.Fn",
        "    } else {",
        "        Remove-Item -Path 'function:global:prompt' -ErrorAction SilentlyContinue",
        "    }",
        "    Remove-Variable -Name '_VENVSEL_PROMPT_SAVED', '_VENVSEL_OLD_PROMPT_FN', "
        "'_VENVSEL_PROMPT' -Scope Global -ErrorAction SilentlyContinue",
        "    if ($venvselFrame.Saved) { $global:_VENVSEL_PROMPT_SAVED = $true }",
        "    if ($null -ne $venvselFrame.OldFn) "
        "{ $global:_VENVSEL_OLD_PROMPT_FN = $venvselFrame.OldFn }",
        "    if ($null -ne $venvselFrame.Prompt) "
        "{ $global:_VENVSEL_PROMPT = $venvselFrame.Prompt }",
        f"    Remove-Variable -Name {quote(mark)} -Scope Global -ErrorAction SilentlyContinue",
        "}",
    ]
    return lines


def _render_ops(ops: tuple[p.Op, ...]) -> list[str]:
    out: list[str] = []
    for op in ops:
        if isinstance(op, p.SetVar):
            out.append(f"${{env:{_name(op.name)}}} = {quote(op.value)}")
        elif isinstance(op, p.UnsetVar):
            _unset(out, op.name)
        elif isinstance(op, p.SaveVar):
            out += _save_var(op)
        elif isinstance(op, p.RestoreVar):
            out += _restore_var(op)
        elif isinstance(op, p.SavePath):
            out += _save_path(op)
        elif isinstance(op, p.PrependPath):
            entries = quote(op.sep.join(op.entries))
            rest = f"{quote(op.sep)} + ${{env:_VENVSEL_OLD_PATH}}"
            out.append(f"${{env:PATH}} = {entries} + "
                       f"$(if (${{env:_VENVSEL_OLD_PATH}}) {{ {rest} }} else {{ '' }})")
        elif isinstance(op, p.RestorePath):
            out.append("${env:PATH} = ${env:_VENVSEL_OLD_PATH}")
        elif isinstance(op, p.SetPrompt):
            out += _set_prompt(op)
        elif isinstance(op, p.RestorePrompt):
            out += _RESTORE_PROMPT
        elif isinstance(op, p.DeactivateForeign):
            out += _DEACTIVATE_FOREIGN
        elif isinstance(op, p.DefineDeactivate):
            out.append("function global:deactivate {")
            out += ["    " + line for line in _render_ops(op.body)]
            out.append("}")
        elif isinstance(op, p.RemoveDeactivate):
            out.append(
                "Remove-Item -Path 'function:global:deactivate' -ErrorAction SilentlyContinue"
            )
        elif isinstance(op, p.Rehash):
            pass  # PowerShell does not cache command locations
        elif isinstance(op, p.PushFrame):
            out += _push_frame(op)
        elif isinstance(op, p.PopFrame):
            out += _pop_frame(op)
        else:  # pragma: no cover
            raise TypeError(op)
    return out


def render(plan: p.ActivationPlan) -> str:
    """Code for ``… | Out-String | Invoke-Expression``."""
    return "\n".join(_render_ops(plan.ops)) + "\n"


__all__ = ["QUOTES", "quote", "render"]
