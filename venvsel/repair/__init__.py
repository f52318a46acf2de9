"""``venvsel repair``: diagnose → plan → execute, never losing the user's env.

:func:`run_repair` is the one entry point the CLI calls. First it finishes any repair of the
env that was interrupted (journal → restore), then it diagnoses the env from its files and a
live probe, chooses the wheels (:mod:`.backend`), builds a numbered plan (:mod:`.plan`),
and — confirmed, not a dry run — carries it out with backup, verification and rollback
(:mod:`.execute`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import load_config
from ..contents import inspect_env
from ..discover import env_from_path
from ..errors import UsageError
from ..machine import read_machine
from ..model import to_json
from ..probe import probe_env
from ..trust import require_trusted
from .backend import Backend, choose_backend
from .diagnose import Diagnosis, Finding, diagnose
from .execute import Outcome, execute
from .plan import Plan, RepairRequest, Step, make_plan
from .recovery import env_lock, real_env_path, recover_pending


@dataclass(frozen=True)
class RepairReport:
    env: str | None
    recovered: tuple[str, ...] = ()
    diagnosis: Diagnosis | None = None
    plan: Plan | None = None
    outcome: Outcome | None = None
    dry_run: bool = False

    @property
    def cannot_run(self) -> tuple[str, ...]:
        """Why the plan would fail as it stands (its blockers, a source that could not be
        reached); a dry run that finds any exits 1 instead of giving an all-clear."""
        p = self.plan
        if p is None or p.mode == "none":
            return ()
        return (*p.blockers, *((p.torch.unreachable,) if p.torch and p.torch.unreachable
                               else ()))

    def to_data(self) -> dict[str, Any]:
        """The JSON payload: plain facts, commands as argv lists and as shell lines."""
        data: dict[str, Any] = {"env": self.env, "recovered": list(self.recovered),
                                "dry_run": self.dry_run, "cannot_run": list(self.cannot_run)}
        if self.diagnosis is not None:
            data["findings"] = [to_json(f) for f in self.diagnosis.findings]
        if self.plan is not None:
            p = self.plan
            data["plan"] = {
                "mode": p.mode, "reason": p.reason, "backend": to_json(p.backend),
                "installer": p.installer, "base_python": p.base_python,
                "backup": p.backup_path or None,
                "torch": to_json(p.torch), "llama": p.llama, "llama_cuda": p.llama_cuda,
                "packages": list(p.packages),
                "skipped": [{"package": a, "why": b} for a, b in p.skipped],
                "steps": [{"n": i, "key": s.key, "title": s.title, "argv": list(s.argv),
                           "env": dict(s.env), "unset": list(s.unset), "command": s.command()}
                          for i, s in enumerate(p.steps, 1)],
                "notes": list(p.notes), "warnings": list(p.warnings),
                "blockers": list(p.blockers), "expect": to_json(p.expect),
            }
        if self.outcome is not None:
            data["outcome"] = to_json(self.outcome)
        return data


def run_repair(
    req: RepairRequest,
    *,
    confirm: Callable[[Plan], bool],
    say: Callable[[str], None],
) -> RepairReport:
    """Recover, diagnose, plan and (unless a dry run) execute. ``say`` shows the diagnosis
    and the plan; ``confirm`` is asked before anything changes unless ``req.yes``.

    Raises UsageError (2) for bad input, a refused backend or an unconfirmed plan that cannot
    be asked about, OperationFailed (3) when the repair failed and the env was restored.
    """
    if req.env is None:
        if not req.recover:
            raise UsageError("which env? Give its path, e.g. `venvsel repair .venv`.")
        recovered = recover_pending(None, say)
        if not recovered:
            say("No interrupted repair to recover.")
        return RepairReport(None, tuple(recovered))
    key = real_env_path(req.env)
    with env_lock(key):
        recovered = recover_pending(key, say)
        if req.recover:
            if not recovered:
                say(f"No interrupted repair of {req.env} to recover.")
            return RepairReport(key, tuple(recovered))
        return _repair(req, tuple(recovered), confirm, say)


def _repair(
    req: RepairRequest,
    recovered: tuple[str, ...],
    confirm: Callable[[Plan], bool],
    say: Callable[[str], None],
) -> RepairReport:
    assert req.env is not None

    env = env_from_path(req.env)
    require_trusted(env)  # repair probes and runs pip in the env: never an untrusted one
    machine = read_machine()
    static = inspect_env(env)
    timeout = req.probe_timeout or load_config().probe_timeout
    probe = None if env.broken else probe_env(env, timeout=timeout)
    try:
        backend = choose_backend(machine, req.backend, index_url=req.index_url,
                                 find_links=req.find_links)
    except UsageError:
        say(diagnose(env, static, probe, machine, None).render())
        raise
    diag = diagnose(env, static, probe, machine, backend)
    say(diag.render())
    plan = make_plan(req, diag, backend)
    say(plan.render())
    report = RepairReport(env.path, recovered, diag, plan, dry_run=req.dry_run)
    if req.dry_run or plan.mode == "none":
        return report
    if plan.blockers:
        raise UsageError("the plan cannot run: " + " ".join(plan.blockers))
    if not req.yes and not confirm(plan):
        raise UsageError("not confirmed; nothing was changed.")
    outcome = execute(plan, diag, discard_backup=req.discard_backup,
                      verify_timeout=max(timeout, 180.0))
    return RepairReport(env.path, recovered, diag, plan, outcome)


__all__ = [
    "Backend",
    "Diagnosis",
    "Finding",
    "Outcome",
    "Plan",
    "RepairReport",
    "RepairRequest",
    "Step",
    "choose_backend",
    "diagnose",
    "execute",
    "make_plan",
    "run_repair",
]
