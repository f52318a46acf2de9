"""The order in which envs are considered, stated once, with the reason for each position.

Tiers, best first:

1. **recorded** — the env ``venvsel use`` chose for this project;
2. **project** — an env the project's own tool files name (poetry, pipenv, hatch, pdm, uv,
   conda, a ``.venv`` dir, a pyenv-virtualenv env from ``.python-version``), in the order
   :func:`venvsel.projectenv.project_envs` gives;
3. **active** — ``$VIRTUAL_ENV`` / ``$CONDA_PREFIX``;
4. **other** — every other env found;
5. **base** — base interpreters (pyenv versions, a conda base install, system pythons),
   taken only when they meet the needs like any other env;

and **never**: an env that cannot run at all (broken, untrusted (venvsel/trust.py), a Python
too old to probe, or one the live probe found unsupported). Within a tier: newer CUDA build,
newer torch, newer Python, then the path in the one listing order scan uses
(:func:`venvsel.order.natural_key`: ``.venv``, ``.venv-gpu``, ``.venv310``).

Pure functions over records already built: no spawn, no file read beyond ``stat``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

from .model import EnvRecord
from .order import natural_key
from .projectenv import ProjectEnv
from .record import frozen

Tier = Literal["recorded", "project", "active", "other", "base", "never"]
TIERS: tuple[Tier, ...] = ("recorded", "project", "active", "other", "base", "never")
TIER_WORDS: dict[Tier, str] = {
    "recorded": "the project's recorded choice",
    "project": "the project's own env",
    "active": "the active env",
    "other": "another env",
    "base": "a base interpreter (last resort)",
    "never": "cannot run",
}
MIN_PYTHON = (3, 8)  # the probe's floor: older interpreters cannot be checked


@frozen
class Ranked:
    record: EnvRecord
    tier: Tier
    why: str  # the reason for the tier, in words

    @property
    def usable(self) -> bool:
        return self.tier != "never"


def _version(text: str | None) -> tuple[int, ...]:
    out: list[int] = []
    for part in (text or "").split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


def cannot_run(record: EnvRecord) -> str | None:
    """Why this env can never be chosen (None: it can run)."""
    env = record.env
    if env.broken:
        return f"broken: {env.broken}"
    if record.trust is not None and not record.trust.trusted:
        return f"{record.trust.reason} (fix: {record.trust.fix})"  # venvsel/trust.py
    probe = record.probe
    if probe is not None and probe.status == "unsupported":
        return f"its Python is too old to probe{f' ({probe.detail})' if probe.detail else ''}"
    version = _version((probe.python if probe and probe.ok else None)
                       or record.static.python_version)
    if version and version[:2] < MIN_PYTHON:
        return f"Python {'.'.join(map(str, version))} is too old to probe (3.8 or newer needed)"
    return None


def is_base(record: EnvRecord) -> bool:
    """A base interpreter rather than an env made for a project."""
    env = record.env
    if os.path.lexists(os.path.join(env.path, "pyvenv.cfg")):
        return False
    if env.kind == "conda":
        # An install (base env) carries envs/ or condabin/; a named env does not.
        return any(os.path.isdir(os.path.join(env.path, d)) for d in ("envs", "condabin"))
    return env.kind in ("pyenv", "unknown")


def _newest_first(text: str | None) -> tuple[int, tuple[int, ...]]:
    version = _version((text or "").split("+")[0])
    return (0 if version else 1, tuple(-x for x in version))


def rank(records: Sequence[EnvRecord], own: Sequence[ProjectEnv] = ()) -> list[Ranked]:
    """Every record with its tier and reason, best first (unusable ones last)."""
    # The project's envs keep the order their tools give, except that its local env dirs
    # (.venv, .venv310, ...) rank as equals: between them a need decides (newer CUDA/torch).
    order: dict[str, tuple[int, ProjectEnv]] = {}
    first_local: int | None = None
    for i, pe in enumerate(own):
        if pe.exists and pe.real not in order:
            if pe.tool == "local":
                first_local = i if first_local is None else first_local
                i = first_local
            order[pe.real] = (i, pe)
    out: list[tuple[tuple[object, ...], Ranked]] = []
    for rec in records:
        env = rec.env
        hit = order.get(os.path.realpath(env.path))
        reason = cannot_run(rec)
        tier: Tier
        if reason is not None:
            tier, why = "never", reason
        elif hit and hit[1].tool == "venvsel":
            tier, why = "recorded", hit[1].why
        elif hit and not hit[1].base:
            tier, why = "project", hit[1].why
        elif env.active:
            tier, why = "active", "the active env ($VIRTUAL_ENV / $CONDA_PREFIX)"
        elif hit:  # a base interpreter the project names (.python-version): before others
            tier, why = "other", hit[1].why
        elif is_base(rec):
            tier, why = "base", f"a base interpreter ({env.kind})"
        else:
            tier, why = "other", f"found by the {env.source} locator"
        torch = rec.static.torch
        probe = rec.probe
        cuda = (probe.torch_cuda if probe else None) or (torch.cuda if torch else None)
        tv = (probe.torch_version if probe else None) or (torch.version if torch else None)
        key = (TIERS.index(tier), hit[0] if hit else len(order), _newest_first(cuda),
               _newest_first(tv), _newest_first(rec.static.python_version),
               natural_key(env.path))
        out.append((key, Ranked(rec, tier, why)))
    out.sort(key=lambda kv: kv[0])
    return [r for _, r in out]


__all__ = ["MIN_PYTHON", "TIERS", "TIER_WORDS", "Ranked", "cannot_run", "is_base", "rank"]
