"""Reasons that stay readable at scale.

Given one reason per env (why it does not satisfy a need), say a cause that belongs to the
machine once, first (no NVIDIA driver; CUDA_VISIBLE_DEVICES hiding every GPU), and fold
envs that fail for the same reason into one line with a count, so that 1,000 envs without
torch read as ``1000 envs: torch: no torch installed``, not as 1,000 lines. Up to
:data:`LIMIT` lines are printed; ``--verbose`` (:func:`set_verbose`) lists every env.

Only formatting lives here: which env fails which need, and in what order they are listed,
is selection's business (:mod:`venvsel.selection`); this takes its list as it comes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from .machine import hides_all_gpus
from .model import Machine, Need

LIMIT = 20  # lines of reasons shown without --verbose
EXAMPLES = 3  # env names shown for a group

_verbose = False


def set_verbose(on: bool = True) -> None:
    """List every env's reason (``--verbose``), for the rest of this process."""
    global _verbose
    _verbose = on


def verbose() -> bool:
    return _verbose


class Reason(NamedTuple):
    """Why one env was not chosen: the need it fails, in words, and the fix if any."""

    label: str  # the env as the user would write it
    need: str  # "cuda", "torch>=2.3", "" when none failed (not confirmed live)
    reason: str
    fix: str | None = None


def machine_causes(machine: Machine, needs: Sequence[Need]) -> list[str]:
    """Causes that no env can overcome on this machine, for these needs (plain sentences)."""

    gpu_needs = [str(n) for n in needs if n.kind in ("cuda", "llama-gpu")]
    if not gpu_needs:
        return []
    out = []
    if not machine.has_driver:
        out.append(f"no NVIDIA driver on this machine, so no env can satisfy "
                   f"{' or '.join(gpu_needs)} here; run the GPU work on a machine with an "
                   "NVIDIA GPU and driver (repairing an env cannot help)")
    elif hides_all_gpus(machine):
        out.append(f"CUDA_VISIBLE_DEVICES={machine.cuda_visible_devices!r} hides every GPU "
                   "from every env; unset it (`unset CUDA_VISIBLE_DEVICES`) to use them")
    return out


def _generic_fix(fix: str | None, label: str) -> str | None:
    """The fix with the env's name replaced by ENV, so envs of one group share it."""
    if not fix:
        return None
    return fix.replace(label, "ENV") if label else fix


def _line(r: Reason, show_fix: bool) -> str:
    need = f"{r.need}: " if r.need else ""
    fix = f"  → fix: {r.fix}" if r.fix and show_fix else ""
    return f"  {r.label}: {need}{r.reason}{fix}"


def format_reasons(
    reasons: Sequence[Reason], *, causes: Sequence[str] = (), limit: int | None = None,
    all_envs: bool | None = None,
) -> list[str]:
    """The lines that explain ``reasons`` (in the order given): machine causes first, then
    one line per env when they fit in ``limit`` lines (or with ``all_envs``), else one line
    per distinct reason with its count and a few of its envs."""
    limit = LIMIT if limit is None else limit
    everything = _verbose if all_envs is None else all_envs
    show_fix = not causes  # a machine cause is the fix; per-env repairs would mislead
    lines = [f"  {c[0].upper()}{c[1:]}." for c in causes]
    if everything or len(reasons) <= limit:
        return lines + [_line(r, show_fix) for r in reasons]
    groups: dict[tuple[str, str], list[Reason]] = {}
    for r in reasons:
        groups.setdefault((r.need, r.reason), []).append(r)
    ordered = sorted(groups.values(), key=lambda g: -len(g))  # stable: first seen first
    budget = max(limit - len(lines) - 2, 3)  # 2: the "… more" line and the --verbose hint
    shown = kinds = 0
    for group in ordered:
        cost = 1 if len(group) == 1 else 2
        if cost > budget:
            break
        first = group[0]
        if len(group) == 1:
            lines.append(_line(first, show_fix))
        else:
            need = f"{first.need}: " if first.need else ""
            fixes = {_generic_fix(r.fix, r.label) for r in group}
            fix = fixes.pop() if len(fixes) == 1 else None
            tail = f"  → fix: {fix}" if fix and show_fix else ""
            lines.append(f"  {len(group)} envs: {need}{first.reason}{tail}")
            names = ", ".join(r.label for r in group[:EXAMPLES])
            more = f" and {len(group) - EXAMPLES} more" if len(group) > EXAMPLES else ""
            lines.append(f"      {names}{more}")
        budget -= cost
        shown += len(group)
        kinds += 1
    if shown < len(reasons):
        rest, other = len(reasons) - shown, len(ordered) - kinds
        lines.append(f"  … and {rest} more env{'s' if rest != 1 else ''} "
                     f"({other} other reason{'s' if other != 1 else ''})")
    lines.append("  (--verbose lists every env)")
    return lines


__all__ = ["LIMIT", "Reason", "format_reasons", "machine_causes", "set_verbose", "verbose"]
