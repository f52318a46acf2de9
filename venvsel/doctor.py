"""The root-cause report: the machine, every env with its verdict, the best env per need,
and numbered fixes — the seed's hour-long investigation as one command."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .machine import hides_all_gpus
from .model import EnvRecord, Machine, Need
from .projectenv import project_envs
from .ranking import rank
from .scan import ScanResult, scan
from .selection import NO, YES, Evaluation, evaluate

DOCTOR_NEEDS = ("cuda", "torch", "llama", "llama-gpu")


@dataclass(frozen=True)
class Best:
    need: str
    env: str | None  # shown path of the best env, None when nothing fits
    reason: str


@dataclass(frozen=True)
class DoctorReport:
    machine: Machine
    records: tuple[EnvRecord, ...]
    verdicts: tuple[
        tuple[str, tuple[tuple[str, str, str], ...]], ...
    ]  # env -> (need, outlook, reason)
    best: tuple[Best, ...]
    fixes: tuple[str, ...]


def _label(r: EnvRecord) -> str:
    return r.env.shown_path or r.env.path


def diagnose(result: ScanResult) -> DoctorReport:
    """Turn a live scan into verdicts, the best env per need, and what to do about it."""

    machine = result.machine
    records = [r.record for r in rank(result.records, project_envs())]  # pick's order
    needs = [Need(n) for n in DOCTOR_NEEDS]  # type: ignore[arg-type]
    evals = {r.env.path: evaluate(r, needs, machine) for r in records}

    best: list[Best] = []
    for need in needs:
        chosen = next(
            (r for r in records if _outlook(evals[r.env.path], need) == YES), None
        ) or next((r for r in records if _outlook(evals[r.env.path], need) != NO), None)
        if chosen is None:
            best.append(Best(str(need), None, "no env satisfies it"))
        else:
            verdict = dict(evals[chosen.env.path].checks)[need]
            best.append(Best(str(need), _label(chosen), verdict.reason))

    verdicts = tuple(
        (_label(r), tuple((str(n), v.outlook, v.reason) for n, v in evals[r.env.path].checks))
        for r in records
    )
    return DoctorReport(
        machine, tuple(records), verdicts, tuple(best), tuple(_fixes(machine, records, evals, best))
    )


def _outlook(ev: Evaluation, need: Need) -> str:
    return dict(ev.checks)[need].outlook


def _fixes(
    machine: Machine,
    records: Sequence[EnvRecord],
    evals: dict[str, Evaluation],
    best: Sequence[Best],
) -> list[str]:
    fixes: list[str] = []
    cuda_best = next(b for b in best if b.need == "cuda")

    hidden = hides_all_gpus(machine)
    if hidden:
        fixes.append(
            f"CUDA_VISIBLE_DEVICES={machine.cuda_visible_devices!r} hides every GPU from every "
            "env: unset it (`unset CUDA_VISIBLE_DEVICES`) unless that is what you want."
        )
    if not machine.has_driver:
        cuda_builds = [
            _label(r) for r in records if r.static.torch and r.static.torch.build == "cuda"
        ]
        where = f" ({', '.join(cuda_builds)} has a CUDA build of torch)" if cuda_builds else ""
        fixes.append(
            "This machine has no NVIDIA driver, so no env can run CUDA here"
            f"{where}. Run GPU work on a machine with an NVIDIA GPU and driver; "
            "repairs need an explicit backend here, e.g. --backend cu130."
        )
    for r in records:
        label = _label(r)
        if r.env.broken:
            fixes.append(f"{label} is broken ({r.env.broken}): `venvsel repair {label} --rebuild`.")
            continue
        if r.trust is not None and not r.trust.trusted:
            fixes.append(f"{label} is {r.trust.reason}, so venvsel will not run or choose it. "
                         f"Fix: {r.trust.fix}.")
            continue
        torch, llama = r.static.torch, r.static.llama
        if torch and torch.build == "cpu" and machine.has_driver:
            fixes.append(
                f"{label} has a CPU-only torch ({torch.version}): "
                f"`venvsel repair {label}` installs the CUDA build matched to driver "
                f"{machine.driver_version}."
            )
        elif torch and torch.build == "cpu":
            fixes.append(
                f"{label} has a CPU-only torch ({torch.version}): on a GPU machine, "
                f"`venvsel repair {label}` installs the CUDA build matched to its driver."
            )
        if llama and not llama.gpu_offload:
            fixes.append(
                f"{label} has a CPU-only llama-cpp-python ({llama.version}): every layer runs on "
                f"the CPU even with n_gpu_layers=-1. `venvsel repair {label} --with-llama` "
                "rebuilds it with CUDA."
            )
        probe = r.probe
        if probe is not None and probe.status in ("timeout", "crashed", "error"):
            fixes.append(f"{label}: its python {probe.status} when probed ({probe.detail}).")
    if cuda_best.env is not None and _any_yes(evals, "cuda"):
        fixes.append(
            f'Use {cuda_best.env} for GPU work: `eval "$(venvsel activate --need cuda)"` or '
            f"`venvsel run --need cuda -- python your_script.py`."
        )
    if not fixes:
        fixes.append("Nothing to fix: every need has an env that satisfies it.")
    return fixes


def _any_yes(evals: dict[str, Evaluation], need: str) -> bool:
    return any(v.outlook == YES for ev in evals.values() for n, v in ev.checks if str(n) == need)


def doctor(
    roots: Sequence[str] | None = None,
    *,
    refresh: bool = False,
    jobs: int | None = None,
    timeout: float | None = None,
    progress: bool = False,
) -> DoctorReport:
    return diagnose(
        scan(roots, live=True, refresh=refresh, jobs=jobs, timeout=timeout, progress=progress)
    )


__all__ = ["NO", "Best", "DoctorReport", "diagnose", "doctor"]
