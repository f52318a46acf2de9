"""What is wrong with an env, in words: static facts (files) plus the live probe, judged
against the backend the repair is aiming for.

Each :class:`Finding` also says what it takes to fix: a new torch build, a rebuilt
llama-cpp-python, or a whole new env (the interpreter or its base Python is gone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..cuda import (
    arch_supported,
    arch_text,
    driver_os,
    driver_supports,
    major_minor,
    max_cuda_for_driver,
)
from ..machine import hides_all_gpus
from ..model import Env, Machine, ProbeResult, StaticInfo
from .backend import Backend

FindingCode = Literal[
    "env-broken", "python-fails", "gpus-hidden", "torch-import", "torch-missing", "wrong-build",
    "torch-rocm", "torch-cpu", "wrong-cuda", "driver-too-old", "arch-missing", "cuda-unavailable",
    "kernel-failed", "llama-import", "llama-cpu",
]


@dataclass(frozen=True)
class Finding:
    code: FindingCode
    text: str  # one plain sentence
    torch: bool = False  # fixed by installing another torch build
    llama: bool = False  # fixed by rebuilding llama-cpp-python
    rebuild: bool = False  # only a fresh env fixes it


@dataclass(frozen=True)
class Diagnosis:
    env: Env
    static: StaticInfo
    probe: ProbeResult | None  # None: the env is too broken to run anything
    machine: Machine
    findings: tuple[Finding, ...]

    @property
    def rebuild_needed(self) -> bool:
        return any(f.rebuild for f in self.findings)

    @property
    def torch_needed(self) -> bool:
        return any(f.torch for f in self.findings)

    @property
    def llama_needed(self) -> bool:
        return any(f.llama for f in self.findings)

    @property
    def label(self) -> str:
        return self.env.shown_path or self.env.path

    def render(self) -> str:
        lines = [f"Diagnosis of {self.label} ({self.env.path}):"]
        lines += [f"  - {f.text}" for f in self.findings] or ["  - nothing wrong found"]
        return "\n".join(lines)


def _mm(cuda: str) -> str:
    try:
        return major_minor(cuda)
    except ValueError:
        return cuda


def _torch_findings(
    static: StaticInfo, probe: ProbeResult | None, machine: Machine, backend: Backend | None
) -> list[Finding]:
    live = probe is not None and probe.ok
    version = (probe.torch_version if live and probe else None) or (
        static.torch.version if static.torch else None)
    if live and probe is not None and probe.torch_error:
        return [Finding("torch-import", f"torch does not import: {probe.torch_error}", torch=True)]
    if not version:
        return [Finding("torch-missing", "torch missing: no torch is installed in this env.",
                        torch=True)]
    if live and probe is not None:
        build_cuda = probe.torch_cuda
        hip = probe.torch_hip
    else:
        build_cuda = static.torch.cuda if static.torch else None
        hip = static.torch.hip if static.torch else None
    out: list[Finding] = []
    if backend is not None and not backend.is_cuda:
        if build_cuda or hip:
            kind = f"CUDA {build_cuda}" if build_cuda else f"ROCm {hip}"
            out.append(Finding("wrong-build", f"torch {version} is a {kind} build; "
                               "--backend cpu asks for the CPU build.", torch=True))
        return out
    if hip:
        out.append(Finding("torch-rocm", f"torch {version} is a ROCm {hip} build, not CUDA.",
                           torch=True))
        return out
    if not build_cuda:
        out.append(Finding("torch-cpu", f"CPU-only torch build: torch {version} has no CUDA "
                           "support, so torch.cuda.is_available() is always False.", torch=True))
        return out
    cuda = _mm(build_cuda)
    if backend is not None and backend.explicit and backend.cuda and _mm(backend.cuda) != cuda:
        out.append(Finding("wrong-cuda", f"torch {version} is a CUDA {cuda} build; "
                           f"--backend {backend.name} asks for CUDA {backend.cuda}.", torch=True))
    os_name = driver_os(machine)
    driver = machine.driver_version
    if driver and not driver_supports(cuda, driver, os_name):
        best = max_cuda_for_driver(driver, os_name)
        family = best.split(".")[0] + ".x" if best else "none"
        out.append(Finding("driver-too-old", f"CUDA {cuda} build but driver {driver} supports "
                           f"CUDA {family}: the driver is too old for this build.", torch=True))
    for gpu in machine.gpus:
        if gpu.capability and arch_supported(cuda, gpu.capability) is False:
            out.append(Finding(
                "arch-missing",
                f"CUDA {cuda} build carries code for compute capability {arch_text(cuda)}, "
                f"not {gpu.capability} ({gpu.name}): kernels fail with 'no kernel image'.",
                torch=True))
    if live and probe is not None and machine.gpus and not out:
        if probe.cuda_available is False:
            out.append(Finding("cuda-unavailable", f"torch {version} is a CUDA {cuda} build, "
                               "but torch.cuda.is_available() is False.", torch=True))
        elif probe.kernel_ok is False:
            out.append(Finding("kernel-failed", "CUDA is available but a kernel failed: "
                               f"{probe.kernel_error or 'unknown error'}", torch=True))
    return out


def _llama_findings(
    static: StaticInfo, probe: ProbeResult | None, backend: Backend | None
) -> list[Finding]:
    if static.llama is None:
        return []
    live = probe is not None and probe.ok
    version = static.llama.version
    if live and probe is not None and probe.llama_error:
        return [Finding("llama-import", f"llama_cpp does not import: {probe.llama_error}",
                        llama=True)]
    gpu = (probe.llama_gpu_offload if live and probe and probe.llama_gpu_offload is not None
           else static.llama.gpu_offload)
    if "cuda" in static.llama.backends or (gpu and not static.llama.backends):
        return []
    if backend is not None and not backend.is_cuda:
        return []  # a CPU llama build is what --backend cpu means
    what = (f"has a {', '.join(static.llama.backends)} backend but no CUDA"
            if static.llama.backends else "is a CPU-only build")
    return [Finding("llama-cpu", f"llama-cpp-python {version} {what} (nothing in "
                    "llama_cpp/lib for CUDA): models load on the CPU even with n_gpu_layers=-1.",
                    llama=True)]


def diagnose(
    env: Env,
    static: StaticInfo,
    probe: ProbeResult | None,
    machine: Machine,
    backend: Backend | None,
) -> Diagnosis:
    """Findings for ``env`` against ``backend`` (None: facts only, before a backend exists)."""
    findings: list[Finding] = []
    if env.broken:
        findings.append(Finding("env-broken", f"interpreter gone: {env.broken}.", rebuild=True))
    elif probe is not None and probe.status in ("broken", "crashed", "error", "unsupported"):
        detail = f": {probe.detail}" if probe.detail else ""
        findings.append(Finding("python-fails",
                                f"its python does not run ({probe.status}{detail}).",
                                rebuild=True))
    # A broken env is judged from its files alone: what the rebuild will have to replace.
    live = probe if not findings else None
    findings += _torch_findings(static, live, machine, backend)
    findings += _llama_findings(static, live, backend)

    if hides_all_gpus(machine):
        findings.append(Finding("gpus-hidden", "CUDA_VISIBLE_DEVICES hides every GPU: "
                                "no CUDA check can pass until it is unset."))
    return Diagnosis(env, static, probe, machine, tuple(findings))


__all__ = ["Diagnosis", "Finding", "diagnose"]
