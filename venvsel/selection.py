"""Needs → match → rank → reasons: which env to use, and why every other one was not chosen.

A need is answered from the live probe when one is cached, otherwise from the static
prediction; the chosen env is then confirmed live (one spawn, cached) for needs only a live
interpreter can prove (cuda, torch, llama, llama-gpu, rocm, mps). Requirement strings and
``--python`` are static facts and never spawn.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from .config import load_config
from .discover import discover, env_from_path
from .errors import UsageError
from .model import (
    Capability,
    Env,
    EnvRecord,
    Machine,
    Need,
    NeedKind,
    ProbeResult,
    Verdict,
    needs_text,
)
from .projectenv import project_envs
from .ranking import TIER_WORDS, rank
from .reasons import Reason, format_reasons, machine_causes
from .record import frozen
from .scan import Scanner

if TYPE_CHECKING:
    from .projectenv import ProjectEnv
    from .ranking import Ranked
    from .scan import Scanner

CAPABILITIES: tuple[Capability, ...] = ("cuda", "torch", "llama", "llama-gpu", "rocm", "mps")
LIVE_NEEDS: frozenset[NeedKind] = frozenset(CAPABILITIES)

YES: Final = "yes"
NO: Final = "no"
UNKNOWN: Final = "unknown"


def near_capability(text: str) -> str | None:
    """The built-in need ``text`` is a slip of (one letter changed, two swapped, or a
    separator off: "cdua", "toch", "llama_gpu"), or None. Anything with a version, extras or
    a marker is a requirement, never a slip."""
    word = text.strip().lower()
    if not word or any(c in word for c in "<>=!~[;@ "):
        return None
    squash = word.replace("_", "").replace("-", "").replace(".", "")
    for cap in CAPABILITIES:
        if squash == cap.replace("-", ""):
            return cap
        if len(word) != len(cap) or len(cap) < 4:
            continue
        diff = [i for i, (a, b) in enumerate(zip(word, cap)) if a != b]
        if len(diff) == 1:
            return cap
        if (len(diff) == 2 and diff[1] == diff[0] + 1
                and word[diff[0]] == cap[diff[1]] and word[diff[1]] == cap[diff[0]]):
            return cap
    return None


def parse_needs(needs: Sequence[str], python_spec: str | None = None) -> tuple[Need, ...]:
    """``["cuda", "torch>=2.3"]`` → Need objects; a bad string is a usage error (exit 2)."""
    out: list[Need] = []
    for raw in needs:
        text = raw.strip()
        capability = next((c for c in CAPABILITIES if c == text.lower()), None)
        if capability is not None:
            out.append(Need(capability))
            continue
        near = near_capability(text)
        if near is not None:
            raise UsageError(
                f"unknown need {text!r} — did you mean {near}?",
                hint=f'A package is written as a requirement with a version, e.g. "{text}>=0".',
            )
        # third-party, ~10 ms: only for requirement needs (tests/unit/test_fast.py holds it)
        from packaging.requirements import InvalidRequirement, Requirement

        try:
            Requirement(text)
        except InvalidRequirement as exc:
            raise UsageError(
                f"unknown need {raw!r}: expected one of {', '.join(CAPABILITIES)} "
                f'or a requirement such as "torch>=2.3" ({exc}).'
            ) from None
        out.append(Need("requirement", text))
    if python_spec:
        # third-party, ~10 ms: only for --python (tests/unit/test_fast.py holds it)
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            SpecifierSet(python_spec)
        except InvalidSpecifier:
            raise UsageError(
                f'--python {python_spec!r} is not a version specifier; try ">=3.10" or "==3.11.*".'
            ) from None
        out.append(Need("python", python_spec))
    return tuple(out)


def _repair_fix(label: str) -> str:
    return f"venvsel repair {label}"


def check(record: EnvRecord, need: Need, machine: Machine) -> Verdict:
    """Does this env satisfy ``need``? yes / no / unknown (= predicted, not yet confirmed).
    First whether the env can be judged at all, then the need's own check (``_CHECKS``)."""
    refusal = _cannot_be_judged(record, need)
    if refusal is not None:
        return refusal
    judge = _CHECKS.get(need.kind)
    if judge is None:  # pragma: no cover - parse_needs prevents it
        raise UsageError(f"unknown need {need}")
    return judge(record, need, machine)


def _label(record: EnvRecord) -> str:
    return record.env.shown_path or record.env.path


def _live(record: EnvRecord) -> ProbeResult | None:
    """The env's live probe when it answered; None when not probed (or the probe failed)."""
    probe = record.probe
    return probe if probe is not None and probe.ok else None


def _cannot_be_judged(record: EnvRecord, need: Need) -> Verdict | None:
    """No, whatever the need, for a broken or untrusted env, and for a live need when the
    env's python could not be probed; None when the need's own check decides."""
    env, probe = record.env, record.probe
    if env.broken:
        return Verdict(NO, f"broken env: {env.broken}", _repair_fix(_label(record)))
    if record.trust is not None and not record.trust.trusted:
        # Never chosen, never probed (venvsel/trust.py): the reason and the way to trust it.
        return Verdict(NO, record.trust.reason, record.trust.fix)
    if probe is not None and not probe.ok and need.kind in LIVE_NEEDS:
        detail = f": {probe.detail}" if probe.detail else ""
        return Verdict(
            NO,
            f"its python could not be probed ({probe.status}{detail})",
            _repair_fix(_label(record)) if probe.status in ("broken", "crashed") else None,
        )
    return None


def _check_torch(record: EnvRecord, need: Need, machine: Machine) -> Verdict:
    static, probe = record.static, _live(record)
    if probe is not None:
        if probe.torch_version:
            return Verdict(YES, f"torch {probe.torch_version} imports")
        return _no_torch(probe.torch_error, _label(record))
    if static.torch:
        return Verdict(UNKNOWN, f"torch {static.torch.version} installed")
    return _no_torch(None, _label(record))


def _check_cuda(record: EnvRecord, need: Need, machine: Machine) -> Verdict:
    probe, label = _live(record), _label(record)
    if probe is None:
        if record.static.torch is None:
            return _no_torch(None, label)
        return record.prediction.torch_cuda
    if not probe.torch_version:
        return _no_torch(probe.torch_error, label)
    if probe.cuda_available and probe.kernel_ok:
        dev = probe.cuda_devices[0].name if probe.cuda_devices else "the GPU"
        return Verdict(YES, f"a CUDA kernel ran on {dev} (torch {probe.torch_version})")
    if probe.cuda_available and probe.kernel_ok is False:
        return Verdict(
            NO, f"CUDA is available but a kernel failed: {probe.kernel_error}", _repair_fix(label)
        )
    if record.prediction.torch_cuda.outlook == NO:
        return record.prediction.torch_cuda
    return Verdict(
        NO,
        f"torch.cuda.is_available() is False (torch {probe.torch_version})",
        _repair_fix(label),
    )


def _check_llama(record: EnvRecord, need: Need, machine: Machine) -> Verdict:
    static, probe = record.static, _live(record)
    if probe is not None:
        if probe.llama_version:
            return Verdict(YES, f"llama-cpp-python {probe.llama_version} imports")
        return _no_llama(probe.llama_error)
    if static.llama:
        return Verdict(UNKNOWN, f"llama-cpp-python {static.llama.version} installed")
    return _no_llama(None)


def _check_llama_gpu(record: EnvRecord, need: Need, machine: Machine) -> Verdict:
    pred, probe = record.prediction.llama_gpu, _live(record)
    if pred.outlook == NO or probe is None:
        return pred
    if not probe.llama_version:
        return _no_llama(probe.llama_error)
    if probe.llama_gpu_offload:
        return Verdict(YES, f"llama-cpp-python {probe.llama_version} can offload; {pred.reason}")
    return Verdict(
        NO, "llama_supports_gpu_offload() is False: CPU-only build", _repair_fix(_label(record))
    )


def _check_rocm(record: EnvRecord, need: Need, machine: Machine) -> Verdict:
    static, probe = record.static, _live(record)
    if probe is not None:
        if probe.torch_hip and probe.cuda_available:
            return Verdict(YES, f"ROCm torch {probe.torch_version} sees a GPU")
        if not probe.torch_hip:
            return Verdict(NO, "not a ROCm build of torch" if probe.torch_version else "no torch")
        return Verdict(NO, "ROCm build, but no AMD GPU is available")
    if static.torch and static.torch.hip:
        return Verdict(UNKNOWN, f"ROCm {static.torch.hip} build of torch")
    return Verdict(NO, "not a ROCm build of torch" if static.torch else "no torch")


def _check_mps(record: EnvRecord, need: Need, machine: Machine) -> Verdict:
    probe = _live(record)
    if probe is not None:
        if probe.mps_available:
            return Verdict(YES, "torch.backends.mps.is_available() is True")
        return Verdict(NO, "MPS is not available (Apple silicon with macOS 12.3+ only)")
    if machine.os != "Darwin":
        return Verdict(NO, f"MPS exists only on macOS; this is {machine.os}")
    if record.static.torch:
        return Verdict(UNKNOWN, "torch installed on macOS")
    return _no_torch(None, _label(record))


def _check_requirement(record: EnvRecord, need: Need, machine: Machine) -> Verdict:
    # third-party, ~10 ms: off the warm path (tests/unit/test_fast.py holds it)
    from packaging.requirements import Requirement
    from packaging.version import InvalidVersion, Version

    req = Requirement(need.spec)
    have = record.static.dist_version(req.name)
    if have is None:
        return Verdict(
            NO, f"{req.name} is not installed", f"pip install '{need.spec}' into {_label(record)}"
        )
    try:
        ok = req.specifier.contains(Version(have), prereleases=True)
    except InvalidVersion:
        return Verdict(NO, f"{req.name} {have} is not a valid version to compare")
    if ok:
        return Verdict(YES, f"{req.name} {have} satisfies {need.spec}")
    return Verdict(NO, f"{req.name} {have} does not satisfy {need.spec}")


def _check_python(record: EnvRecord, need: Need, machine: Machine) -> Verdict:
    from packaging.specifiers import SpecifierSet  # third-party, ~10 ms: off the warm path

    probe = _live(record)
    version = (probe.python if probe is not None else None) or record.static.python_version
    if not version:
        return Verdict(NO, "its Python version is unknown")
    if SpecifierSet(need.spec).contains(version, prereleases=True):
        return Verdict(YES, f"Python {version}")
    return Verdict(NO, f"Python {version} does not satisfy {need.spec}")


# One check per kind of need (every NeedKind; tests/unit/test_ranking.py holds that).
_CHECKS: dict[NeedKind, Callable[[EnvRecord, Need, Machine], Verdict]] = {
    "torch": _check_torch,
    "cuda": _check_cuda,
    "llama": _check_llama,
    "llama-gpu": _check_llama_gpu,
    "rocm": _check_rocm,
    "mps": _check_mps,
    "requirement": _check_requirement,
    "python": _check_python,
}


def _no_torch(error: str | None, label: str) -> Verdict:
    if error:
        return Verdict(NO, f"torch does not import: {error}", _repair_fix(label))
    return Verdict(
        NO, "no torch installed", f"install torch into {label}, or venvsel repair {label}"
    )


def _no_llama(error: str | None) -> Verdict:
    if error:
        return Verdict(NO, f"llama_cpp does not import: {error}")
    return Verdict(NO, "no llama-cpp-python installed")


@frozen
class Evaluation:
    """One env's verdict for each need."""

    record: EnvRecord
    checks: tuple[tuple[Need, Verdict], ...]

    @property
    def failing(self) -> tuple[Need, Verdict] | None:
        """The first need this env does not meet, with the reason."""
        for need, verdict in self.checks:
            if verdict.outlook == NO:
                return need, verdict
        return None

    @property
    def confirmed(self) -> bool:
        return all(v.outlook == YES for _, v in self.checks)


def evaluate(record: EnvRecord, needs: Sequence[Need], machine: Machine) -> Evaluation:
    return Evaluation(record, tuple((n, check(record, n, machine)) for n in needs))


def confirm_live(scanner: Scanner, ev: Evaluation, *, timeout: float | None = None) -> Evaluation:
    """The rule for a live probe: an env that files say meets the needs, but that cannot be
    confirmed without running it (a capability such as cuda, no probe cached), is probed
    once (then cached) and judged again; otherwise ``ev`` as it is."""
    needs = [n for n, _ in ev.checks]
    if ev.failing is not None or ev.confirmed or not any(n.kind in LIVE_NEEDS for n in needs):
        return ev
    (probed,) = scanner.probe([ev.record], timeout=timeout)
    return evaluate(probed, needs, scanner.machine)


@frozen
class PickResult:
    """The chosen env (None when none fits) and every env's evaluation."""

    needs: tuple[Need, ...]
    chosen: EnvRecord | None
    evaluations: tuple[Evaluation, ...]  # every env, in rank order
    machine: Machine
    ranking: tuple[Ranked, ...] = ()  # every env with its tier and why (venvsel.ranking)

    def explain_ranking(self, chosen_path: str | None = None) -> str:
        """``pick --explain``: every env in rank order, the reason for its position and, with
        needs, whether it meets them; the chosen one marked."""

        chosen_path = chosen_path or (self.chosen.env.path if self.chosen else None)
        by_path = {ev.record.env.path: ev for ev in self.evaluations}
        wanted = needs_text(self.needs)
        head = (f"Ranking for {wanted}" if wanted else "Ranking (no --need)") + (
            ": the project's recorded choice, then the env its tool files name, then the "
            "active env, then other envs, base interpreters last; never one that cannot run.")
        lines = [head]
        for i, r in enumerate(self.ranking, 1):
            env = r.record.env
            mark = "→" if env.path == chosen_path else " "
            num = f"{i:>2}." if r.usable else " --"
            label = env.shown_path or env.path
            lines.append(f"{mark}{num} {label}  [{env.kind}, {env.source}]")
            lines.append(f"      {TIER_WORDS[r.tier]}: {r.why}")
            ev = by_path.get(env.path)
            if ev is not None and self.needs and r.usable:
                failing = ev.failing
                if failing is None:
                    state = "meets" if ev.confirmed else "should meet (not yet confirmed live)"
                    lines.append(f"      {state} {wanted}")
                else:
                    lines.append(f"      does not meet {failing[0]}: {failing[1].reason}")
        return "\n".join(lines)

    def explain(self) -> str:
        """Why nothing fits: a cause that belongs to the machine first, then each env with
        the first need it fails and the fix (grouped when many envs share a reason;
        :mod:`venvsel.reasons`)."""

        wanted = needs_text(self.needs) or "(no needs)"
        if not self.evaluations:
            return f"No Python environments were found, so none satisfies {wanted}."
        reasons = []
        for ev in self.evaluations:
            label = ev.record.env.shown_path or ev.record.env.path
            failing = ev.failing
            if failing is None:
                reasons.append(Reason(label, "", "not confirmed live"))
                continue
            need, verdict = failing
            reasons.append(Reason(label, str(need), verdict.reason, verdict.fix))
        lines = [f"No environment satisfies {wanted}:"]
        lines += format_reasons(reasons, causes=machine_causes(self.machine, self.needs))
        return "\n".join(lines)


def pick(
    needs: Sequence[str],
    python_spec: str | None = None,
    *,
    roots: Sequence[str] | None = None,
    include_global: bool = True,
    timeout: float | None = None,
) -> PickResult:
    """The best env for ``needs``; confirms it live (one spawn, then cached) when needed."""

    parsed = parse_needs(needs, python_spec)
    scanner = Scanner()
    own = _own_envs(roots)
    envs = _with_own(discover(roots, include_global=include_global, config=load_config(),
                              realpath=scanner.realpath), own)
    ranking = rank(scanner.records(envs), own)  # what was inspected: one cache transaction
    evaluations = [evaluate(r.record, parsed, scanner.machine) for r in ranking]
    chosen: EnvRecord | None = None
    for i, ev in enumerate(evaluations):
        if ev.failing is not None or not ranking[i].usable:
            continue
        ev = evaluations[i] = confirm_live(scanner, ev, timeout=timeout)
        if ev.failing is not None:
            continue
        chosen = ev.record
        break
    return PickResult(parsed, chosen, tuple(evaluations), scanner.machine, tuple(ranking))


def _own_envs(roots: Sequence[str] | None) -> list[ProjectEnv]:
    return project_envs(roots[0] if roots else None)


def _with_own(envs: list[Env], own: Sequence[ProjectEnv]) -> list[Env]:
    """The discovered envs plus the project's own ones that no locator saw (a pdm
    ``.pdm-python`` or poetry ``virtualenvs.path`` pointing elsewhere)."""

    seen = {e.path for e in envs}
    out = list(envs)
    for pe in own:
        if pe.exists and pe.real not in seen and os.path.isdir(pe.real):
            try:
                env = env_from_path(pe.path)
            except UsageError:
                continue
            seen.add(env.path)
            out.append(env)
    return out
