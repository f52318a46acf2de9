"""Needs → match → rank → reasons: which env to use, and why every other one was not chosen.

A need is answered from the live probe when one is cached, otherwise from the static
prediction; the chosen env is then confirmed live (one spawn, cached) for needs only a live
interpreter can prove (cuda, torch, llama, llama-gpu, rocm, mps). Requirement strings and
``--python`` are static facts and never spawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from .errors import UnmetError, UsageError
from .model import Env, EnvRecord, Machine, Need, Verdict

CAPABILITIES = ("cuda", "torch", "llama", "llama-gpu", "rocm", "mps")
LIVE_NEEDS = frozenset(CAPABILITIES)

YES: Final = "yes"
NO: Final = "no"
UNKNOWN: Final = "unknown"


def parse_needs(needs: Sequence[str], python_spec: str | None = None) -> tuple[Need, ...]:
    """``["cuda", "torch>=2.3"]`` → Need objects; a bad string is a usage error (exit 2)."""
    out: list[Need] = []
    for raw in needs:
        text = raw.strip()
        if text.lower() in CAPABILITIES:
            out.append(Need(text.lower()))  # type: ignore[arg-type]
            continue
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
    """Does this env satisfy ``need``? yes / no / unknown (= predicted, not yet confirmed)."""
    env, static, probe = record.env, record.static, record.probe
    label = env.shown_path or env.path
    if env.broken:
        return Verdict(NO, f"broken env: {env.broken}", _repair_fix(label))
    live = probe is not None and probe.ok
    if probe is not None and not probe.ok and need.kind in LIVE_NEEDS:
        detail = f": {probe.detail}" if probe.detail else ""
        return Verdict(
            NO,
            f"its python could not be probed ({probe.status}{detail})",
            _repair_fix(label) if probe.status in ("broken", "crashed") else None,
        )

    if need.kind == "torch":
        if live:
            assert probe is not None
            if probe.torch_version:
                return Verdict(YES, f"torch {probe.torch_version} imports")
            return _no_torch(probe.torch_error, label)
        if static.torch:
            return Verdict(UNKNOWN, f"torch {static.torch.version} installed")
        return _no_torch(None, label)

    if need.kind == "cuda":
        if live:
            assert probe is not None
            if not probe.torch_version:
                return _no_torch(probe.torch_error, label)
            if probe.cuda_available and probe.kernel_ok:
                dev = probe.cuda_devices[0].name if probe.cuda_devices else "the GPU"
                return Verdict(YES, f"a CUDA kernel ran on {dev} (torch {probe.torch_version})")
            if probe.cuda_available and probe.kernel_ok is False:
                return Verdict(
                    NO,
                    f"CUDA is available but a kernel failed: {probe.kernel_error}",
                    _repair_fix(label),
                )
            if record.prediction.torch_cuda.outlook == NO:
                return record.prediction.torch_cuda
            return Verdict(
                NO,
                f"torch.cuda.is_available() is False (torch {probe.torch_version})",
                _repair_fix(label),
            )
        if static.torch is None:
            return _no_torch(None, label)
        return record.prediction.torch_cuda

    if need.kind == "llama":
        if live:
            assert probe is not None
            if probe.llama_version:
                return Verdict(YES, f"llama-cpp-python {probe.llama_version} imports")
            return _no_llama(probe.llama_error)
        if static.llama:
            return Verdict(UNKNOWN, f"llama-cpp-python {static.llama.version} installed")
        return _no_llama(None)

    if need.kind == "llama-gpu":
        pred = record.prediction.llama_gpu
        if pred.outlook == NO:
            return pred
        if live:
            assert probe is not None
            if not probe.llama_version:
                return _no_llama(probe.llama_error)
            if probe.llama_gpu_offload:
                return Verdict(
                    YES, f"llama-cpp-python {probe.llama_version} can offload; {pred.reason}"
                )
            return Verdict(
                NO, "llama_supports_gpu_offload() is False: CPU-only build", _repair_fix(label)
            )
        return pred

    if need.kind == "rocm":
        if live:
            assert probe is not None
            if probe.torch_hip and probe.cuda_available:
                return Verdict(YES, f"ROCm torch {probe.torch_version} sees a GPU")
            if not probe.torch_hip:
                return Verdict(
                    NO, "not a ROCm build of torch" if probe.torch_version else "no torch"
                )
            return Verdict(NO, "ROCm build, but no AMD GPU is available")
        if static.torch and static.torch.hip:
            return Verdict(UNKNOWN, f"ROCm {static.torch.hip} build of torch")
        return Verdict(NO, "not a ROCm build of torch" if static.torch else "no torch")

    if need.kind == "mps":
        if live:
            assert probe is not None
            if probe.mps_available:
                return Verdict(YES, "torch.backends.mps.is_available() is True")
            return Verdict(NO, "MPS is not available (Apple silicon with macOS 12.3+ only)")
        if machine.os != "Darwin":
            return Verdict(NO, f"MPS exists only on macOS; this is {machine.os}")
        return (
            Verdict(UNKNOWN, "torch installed on macOS") if static.torch else _no_torch(None, label)
        )

    if need.kind == "requirement":
        from packaging.requirements import Requirement
        from packaging.version import InvalidVersion, Version

        req = Requirement(need.spec)
        have = static.dist_version(req.name)
        if have is None:
            return Verdict(
                NO, f"{req.name} is not installed", f"pip install '{need.spec}' into {label}"
            )
        try:
            ok = req.specifier.contains(Version(have), prereleases=True)
        except InvalidVersion:
            return Verdict(NO, f"{req.name} {have} is not a valid version to compare")
        if ok:
            return Verdict(YES, f"{req.name} {have} satisfies {need.spec}")
        return Verdict(NO, f"{req.name} {have} does not satisfy {need.spec}")

    if need.kind == "python":
        from packaging.specifiers import SpecifierSet

        version = (probe.python if live and probe else None) or static.python_version
        if not version:
            return Verdict(NO, "its Python version is unknown")
        if SpecifierSet(need.spec).contains(version, prereleases=True):
            return Verdict(YES, f"Python {version}")
        return Verdict(NO, f"Python {version} does not satisfy {need.spec}")

    raise UsageError(f"unknown need {need}")  # pragma: no cover - parse_needs prevents it


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


@dataclass(frozen=True)
class Evaluation:
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


def _version_key(text: str | None) -> tuple[int, ...]:
    out: list[int] = []
    for part in (text or "").split("+")[0].split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


def _newest_first(text: str | None) -> tuple[int, tuple[int, ...]]:
    """Sort key: any version before none, newer versions first."""
    version = _version_key(text)
    return (0 if version else 1, tuple(-x for x in version))


def rank_key(record: EnvRecord) -> tuple[object, ...]:
    """Project-local over global, then the active env, then newer CUDA/torch, then shorter path."""
    torch = record.static.torch
    probe = record.probe
    cuda = (probe.torch_cuda if probe else None) or (torch.cuda if torch else None)
    tv = (probe.torch_version if probe else None) or (torch.version if torch else None)
    return (
        0 if record.env.source == "project" else 1,
        0 if record.env.active else 1,
        _newest_first(cuda),
        _newest_first(tv),
        len(record.env.path),
        record.env.path,
    )


@dataclass(frozen=True)
class PickResult:
    needs: tuple[Need, ...]
    chosen: EnvRecord | None
    evaluations: tuple[Evaluation, ...]  # every env, in rank order
    machine: Machine

    def explain(self) -> str:
        """Why nothing fits: each env with the first need it fails and the fix."""
        wanted = " and ".join(str(n) for n in self.needs) or "(no needs)"
        if not self.evaluations:
            return f"No Python environments were found, so none satisfies {wanted}."
        lines = [f"No environment satisfies {wanted}:"]
        for ev in self.evaluations:
            label = ev.record.env.shown_path or ev.record.env.path
            failing = ev.failing
            if failing is None:
                lines.append(f"  {label}: not confirmed live")
                continue
            need, verdict = failing
            fix = f"  → fix: {verdict.fix}" if verdict.fix else ""
            lines.append(f"  {label}: {need}: {verdict.reason}{fix}")
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
    from .config import load_config
    from .discover import discover
    from .scan import Scanner

    parsed = parse_needs(needs, python_spec)
    scanner = Scanner()
    envs = discover(roots, include_global=include_global, config=load_config())
    records = sorted((scanner.record(e) for e in envs), key=rank_key)
    evaluations = [evaluate(r, parsed, scanner.machine) for r in records]
    chosen: EnvRecord | None = None
    for i, ev in enumerate(evaluations):
        if ev.failing is not None:
            continue
        if not ev.confirmed and any(n.kind in LIVE_NEEDS for n in parsed):
            (probed,) = scanner.probe([ev.record], timeout=timeout)
            ev = evaluations[i] = evaluate(probed, parsed, scanner.machine)
            if ev.failing is not None:
                continue
        chosen = ev.record
        break
    return PickResult(parsed, chosen, tuple(evaluations), scanner.machine)


def resolve_env(env_arg: str | None, needs: Sequence[str], python_spec: str | None) -> Env:
    """The env a command should act on: an explicit ENV, or the best pick for the needs.

    With no ENV and no needs, the project's recorded needs (``venvsel use``) apply when the
    project has them, and the env it recorded is taken while it still exists and still
    satisfies them (else a warning says why, and the best env is picked again); with nothing
    recorded, the best env overall is taken.
    """
    if env_arg:
        from .discover import env_from_path

        return env_from_path(env_arg)
    roots = None
    if not needs and python_spec is None:
        from .project import find_project, recorded_choice

        needs, python_spec = project_needs()
        recorded = recorded_choice(needs, python_spec)
        if recorded is not None:
            return recorded
        project = find_project()
        roots = [project.root] if project is not None else None  # re-pick from a subdir too
    result = pick(needs, python_spec, roots=roots)
    if result.chosen is None:
        raise UnmetError(result.explain())
    return result.chosen.env


def project_needs() -> tuple[list[str], str | None]:
    """Needs recorded for the current project (``venvsel use``); ``([], None)`` when none."""
    from .project import recorded_needs

    return recorded_needs()
