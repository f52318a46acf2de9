"""``venvsel.require(...)`` for scripts and ``venvsel require`` for shells.

The running interpreter is checked in-process with the probe's own code (the truth for this
very process, at the cost the script pays anyway for importing torch). When it falls short,
the message names an env that would work, found in the cache (no slow scan), and the exact
command to switch to it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from .cache import Cache
from .discover import env_from_path
from .errors import UsageError, VenvselError
from .machine import read_machine
from .model import EnvRecord, Need, ProbeResult, needs_text
from .predict import predict
from .probe import _child
from .projectenv import project_envs
from .ranking import rank
from .reasons import machine_causes
from .resolve import project_needs
from .scan import Scanner
from .selection import LIVE_NEEDS, NO, YES, check, parse_needs
from .shells.sh import quote
from .trust import check as trust_check


@dataclass(frozen=True)
class GuardResult:
    ok: bool
    env: str  # the env that was checked
    failing: tuple[tuple[str, str], ...]  # (need, reason)
    alternative: str | None  # an env known (cached) to satisfy every need
    command: str | None  # the command that switches to it
    message: str


def _probe_in_process(needs: Sequence[Need]) -> ProbeResult:
    """This interpreter's own answers, gathered by the probe's code without a spawn."""

    fields: dict[str, Any] = dict(_child.python_fields())

    def send(record: dict[str, Any]) -> None:
        if record.get("event") == "data":
            fields.update(record["fields"])

    kinds = {n.kind for n in needs}
    if kinds & {"torch", "cuda", "rocm", "mps"}:
        _child.probe_torch(send)
    if kinds & {"llama", "llama-gpu"}:
        _child.probe_llama(send)
    return ProbeResult.from_json({"status": "ok", **fields})


def _alternative(needs: Sequence[Need], exclude: str) -> EnvRecord | None:
    """The best cached env that satisfies every need, judged from the cache alone."""

    machine = read_machine()
    candidates = []
    for entry in Cache().entries():
        if os.path.realpath(entry.path) == exclude or not os.path.isdir(entry.path):
            continue
        try:
            env = env_from_path(entry.path)
        except VenvselError:  # no longer an env: just not a candidate
            continue
        trust = trust_check(env)
        if not trust.trusted or entry.owner_uid != trust.owner_uid:
            continue  # never name an untrusted env, nor trust a probe from another owner
        prediction = predict(entry.static, machine, env_label=env.path)
        record = EnvRecord(env, entry.static, prediction, entry.probe, True, trust)
        if all(check(record, n, machine).outlook == YES for n in needs):
            candidates.append(record)

    usable = [r.record for r in rank(candidates, project_envs()) if r.usable]  # pick's order
    return usable[0] if usable else None


def evaluate_running(
    needs: Sequence[str], python_spec: str | None, record: EnvRecord, script: str | None = None
) -> GuardResult:
    """Judge ``record`` (with its live probe) against the needs; name a better env if it fails."""

    parsed = parse_needs(needs, python_spec)
    machine = read_machine()
    failing = []
    for n in parsed:
        v = check(record, n, machine)
        if v.outlook == NO or (v.outlook != YES and n.kind in LIVE_NEEDS):
            failing.append((str(n), v.reason))
    label = record.env.path
    if not failing:
        return GuardResult(True, label, (), None, None, "")
    alt = _alternative(parsed, record.env.path)
    wanted = needs_text(parsed)

    failed = {need for need, _ in failing}
    causes = machine_causes(machine, [n for n in parsed if str(n) in failed])
    lines = [f"venvsel: this environment ({label}) does not satisfy {wanted}:"]
    lines += [f"  {c[0].upper()}{c[1:]}." for c in causes]  # the machine's, said first
    lines += [f"  {need}: {reason}" for need, reason in failing]
    command = None
    if alt is not None:
        alt_path = alt.env.path

        command = f'eval "$(venvsel activate {quote(alt_path)})"'
        job = f"python {quote(script)}" if script else "your command"
        lines.append(f"{alt_path} does. Switch to it with:  {command}")
        lines.append(f"or run this job inside it:  venvsel run --env {quote(alt_path)} -- {job}")
    else:
        lines.append(
            "No env known to venvsel satisfies it. Run `venvsel doctor` for the reasons and fixes."
        )
    return GuardResult(
        False, label, tuple(failing), alt.env.path if alt else None, command, "\n".join(lines)
    )


def _record(prefix: str) -> tuple[Any, EnvRecord]:
    scanner = Scanner()
    return scanner, scanner.record(env_from_path(prefix))


def require(*needs: str, python: str | None = None) -> None:
    """Return quietly when this interpreter satisfies ``needs``; else print why and exit 1.

    With no needs, the project's recorded needs (``venvsel use``) apply."""
    if not needs and python is None:
        recorded, python = project_needs()
        needs = tuple(recorded)
    parsed = parse_needs(needs, python)
    _, record = _record(sys.prefix)
    # This interpreter is already running: trust (about starting one) does not apply to it.
    record = replace(record, probe=_probe_in_process(parsed), probe_cached=False, trust=None)
    argv0 = sys.argv[0] if sys.argv else ""
    result = evaluate_running(
        needs, python, record, argv0 if argv0 not in ("", "-c", "-m") else None
    )
    if not result.ok:
        sys.stderr.write(result.message + "\n")
        raise SystemExit(1)


def _shell_prefix() -> str:
    """$VIRTUAL_ENV or $CONDA_PREFIX, else the env that the `python` on PATH belongs to."""
    prefix = os.environ.get("VIRTUAL_ENV") or os.environ.get("CONDA_PREFIX")
    if prefix:
        return prefix
    exe = shutil.which("python") or shutil.which("python3")
    if exe is None:
        raise UsageError("No active env and no `python` on PATH to check.")
    # bin/python of a venv is a link to the base interpreter: the env is the link's parent.
    return os.path.dirname(os.path.dirname(os.path.abspath(exe)))


def check_shell_env(needs: Sequence[str], python_spec: str | None) -> GuardResult:
    """For ``venvsel require`` in a shell: probe (or use the cached probe of) the active env."""
    if not needs and python_spec is None:
        recorded, python_spec = project_needs()
        needs = tuple(recorded)
    scanner, record = _record(_shell_prefix())
    if record.probe is None and any(n.kind in LIVE_NEEDS for n in parse_needs(needs, python_spec)):
        (record,) = scanner.probe([record])
    return evaluate_running(needs, python_spec, record)
