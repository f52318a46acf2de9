"""Renderer for cmd.exe, which has no eval.

The output is ``NAME=VALUE`` lines; the helper ``venvsel.bat`` (resources/shell) writes them
to a temporary file and applies each with ``FOR /F "usebackq tokens=1* delims==" … DO SET
"%%A=%%B"``, as conda's activate does. An empty value removes the variable (cmd cannot hold an
empty one). FOR variables are substituted after cmd has parsed the line, so the values are
not re-parsed — but ``%`` and ``!`` still expand in other contexts and a ``"`` flips quoting
in every ``SET "…"``, so rather than escape them (virtualenv GHSA-x78j-v8h9-3j2q launched a
program through a crafted prompt) any value holding ``" & | < > ^ ! %``, a newline, a NUL
or a leading ``=`` is refused, before anything is printed.

cmd keeps its prompt in the PROMPT environment variable, so the prompt is an ordinary
variable here: the old value is saved in ``_VENVSEL_OLD_PROMPT``, and ``$`` in the env name
is written ``$$`` (``$`` starts a PROMPT code). cmd has no functions: ``deactivate`` is
``venvsel deactivate`` through the helper.
"""

from __future__ import annotations

import re

from ..errors import UsageError
from . import operations as p

UNSAFE = '"&|<>^!%\r\n\0'
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
DEFAULT_PROMPT = "$P$G"


def check(value: str, what: str) -> str:
    """``value`` when cmd.exe can hold it safely; UsageError naming ``what`` otherwise."""
    bad = sorted({ch for ch in value if ch in UNSAFE})
    if bad or value.startswith("="):
        shown = ", ".join(
            {"\n": "a newline", "\r": "a carriage return", "\0": "NUL"}.get(ch, repr(ch))
            for ch in bad
        ) or "a leading '='"
        raise UsageError(
            f"cannot activate for cmd.exe: {what} contains {shown}, "
            "which cmd.exe cannot hold safely",
            hint="Use PowerShell (--shell powershell), or move the environment to a plain path.",
        )
    return value


def quote(value: str) -> str:
    """cmd needs no quoting in the KEY=VALUE format; refusal is its only rule."""
    return check(value, "a value")


def _line(name: str, value: str, what: str | None = None) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a variable name: {name!r}")
    return f"{name}={check(value, what or name)}"


def _render_ops(ops: tuple[p.Op, ...]) -> list[str]:
    out: list[str] = []
    for op in ops:
        if isinstance(op, p.SetVar):
            what = "the environment path" if op.name in ("VIRTUAL_ENV", "CONDA_PREFIX") else op.name
            out.append(_line(op.name, op.value, what))
        elif isinstance(op, p.UnsetVar):
            out.append(_line(op.name, ""))
        elif isinstance(op, p.SaveVar):
            if not op.keep:
                out.append(_line(p.OLD_PREFIX + op.name, op.literal or "", op.name))
        elif isinstance(op, p.RestoreVar):
            out.append(_line(op.name, op.literal or ""))
        elif isinstance(op, p.SavePath):
            # cmd cannot compute: the PATH venvsel saw is saved as it is.
            if not op.keep:
                out.append(_line(p.OLD_PATH, op.literal or "", "PATH"))
        elif isinstance(op, p.PrependPath):
            for entry in op.entries:
                check(entry, "the environment path")
            out.append(_line("PATH", op.value))
        elif isinstance(op, p.RestorePath):
            out.append(_line("PATH", op.literal or ""))
        elif isinstance(op, p.SetPrompt):
            base = op.env_prompt if op.env_prompt is not None else ""
            check(op.prefix, "the prompt (the env name)")
            out.append(_line(p.OLD_ENV_PROMPT, base, "PROMPT"))
            out.append(_line("PROMPT", op.prefix.replace("$", "$$") + (base or DEFAULT_PROMPT)))
        elif isinstance(op, p.RestorePrompt):
            out.append(_line("PROMPT", op.env_prompt or ""))
            out.append(_line(p.OLD_ENV_PROMPT, ""))
        elif isinstance(op, p.DefineDeactivate):
            # No functions in cmd: the helper runs `venvsel deactivate`, which reads the
            # saved _VENVSEL_OLD_* variables. Still check the values it will restore.
            _render_ops(op.body)
        elif isinstance(op, p.PushFrame):
            # cmd cannot compute: the values venvsel saw are saved as they are.
            for name, value in zip(op.names, op.literals):
                out.append(_line(p.frame_var(op.depth, name), value or "", name))
            out.append(_line(p.DEPTH, str(op.depth)))
        elif isinstance(op, p.PopFrame):
            for name, value in zip(op.names, op.literals):
                out.append(_line(name, value or ""))
            out += [_line(p.frame_var(op.depth, name), "") for name in op.names]
            out.append(_line(p.DEPTH, str(op.depth - 1) if op.depth > 1 else ""))
        elif isinstance(op, (p.DeactivateForeign, p.RemoveDeactivate, p.Rehash)):
            pass
        else:  # pragma: no cover
            raise TypeError(op)
    return out


def render(plan: p.ActivationPlan) -> str:
    """KEY=VALUE lines for venvsel.bat (FOR /F reads LF line ends as well as CRLF)."""
    return "".join(line + "\n" for line in _render_ops(plan.ops))


__all__ = ["DEFAULT_PROMPT", "UNSAFE", "check", "quote", "render"]
