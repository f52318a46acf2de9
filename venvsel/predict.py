"""Predictions from files and machine facts alone: could this env run torch on the NVIDIA GPU,
and could its llama-cpp-python offload layers to a GPU? Each answer carries its reason in
words and, when something would change it, the fix.

Pure functions of (StaticInfo, Machine): no spawn, no file read. The live probe is the
truth; this is what ``scan --static`` shows and what selection starts from.
"""

from __future__ import annotations

from typing import Final

from .cuda import (
    arch_supported,
    arch_text,
    driver_os,
    driver_supports,
    family_min_driver,
    major_minor,
    max_cuda_for_driver,
    parse_version,
    version_ge,
)
from .machine import CVD_VAR, hides_all_gpus, visible_gpus
from .model import Gpu, LlamaInfo, Machine, Outlook, Prediction, StaticInfo, TorchInfo, Verdict

YES: Final = "yes"
NO: Final = "no"
UNKNOWN: Final = "unknown"

# ggml libraries in llama_cpp/lib that are not GPU backends.
_NOT_GPU = frozenset({"cpu", "blas", "rpc", "base", ""})


def predict(static: StaticInfo, machine: Machine, *, env_label: str = "ENV") -> Prediction:
    """The torch-on-CUDA and llama-GPU-offload outlooks of one env on ``machine``.

    ``env_label`` is how the user names the env (the shown path); it goes into the fix
    commands, e.g. ``venvsel repair .venv``.
    """
    return Prediction(
        torch_cuda=_torch_cuda(static.torch, machine, env_label),
        llama_gpu=_llama_gpu(static.llama, machine, env_label),
    )


# --------------------------------------------------------------------------- helpers


def _repair(label: str) -> str:
    return f"venvsel repair {label}"


def _source(machine: Machine, fact: str) -> str | None:
    return next((where for f, where in machine.sources if f == fact), None)


def _gpus_listed(machine: Machine) -> bool:
    """NVML or nvidia-smi listed the GPUs (possibly none); False when nobody could."""
    return _source(machine, "gpus") is not None


def _has_amd(machine: Machine) -> bool:
    return _source(machine, "amd_gpu") is not None


def _driver_cuda(machine: Machine) -> str | None:
    """The newest CUDA the driver runs, as the user should read it: ``"13.0"`` when the
    driver said so; ``"12.x"`` when it was derived from the table (a family, not a version)."""
    driver = machine.driver_version
    if driver is None:
        return None
    cuda = machine.cuda_driver or max_cuda_for_driver(driver, driver_os(machine))
    if cuda is None:
        return None
    source = _source(machine, "cuda_driver") or ""
    if not machine.cuda_driver or source.startswith("derived"):
        return f"{parse_version(cuda)[0]}.x"
    return cuda


def _hidden(machine: Machine) -> str:
    return f"{CVD_VAR}={machine.cuda_visible_devices!r} hides every GPU"


def _gpu_name(gpu: Gpu) -> str:
    return f"GPU {gpu.index} {gpu.name}"


# --------------------------------------------------------------------------- torch


def _torch_cuda(torch: TorchInfo | None, machine: Machine, label: str) -> Verdict:
    repair = _repair(label) if machine.has_driver else None
    if torch is None:
        return Verdict(NO, "no torch", repair)
    build = torch.build
    if build == "cpu":
        return Verdict(NO, f"CPU-only torch build ({torch.version})", repair)
    if build == "rocm":
        hip = f", HIP {torch.hip}" if torch.hip else ""
        if _has_amd(machine):
            return Verdict(NO, f"ROCm torch build ({torch.version}{hip}): it runs on the AMD "
                               "GPU, not on NVIDIA CUDA", repair)
        return Verdict(NO, f"ROCm torch build ({torch.version}{hip}), but this machine has no "
                           "AMD GPU driver (/dev/kfd is absent)", repair)

    cuda = major_minor(torch.cuda) if torch.cuda else None
    what = f"CUDA {cuda} build" if cuda else "CUDA build (torch/version.py names no CUDA version)"
    driver = machine.driver_version
    if driver is None:
        return Verdict(NO, f"{what}, but no NVIDIA driver on this machine")
    os_name = driver_os(machine)
    supports = _driver_cuda(machine)
    if cuda is None:
        ok_reason = f"{what}; driver {driver} supports up to {supports or 'unknown'}"
        driver_ok: bool | None = None
    else:
        ok_reason, driver_ok = _driver_verdict(what, cuda, driver, machine, os_name, supports)
    if driver_ok is False:
        return Verdict(NO, ok_reason, _repair(label))
    if hides_all_gpus(machine):
        return Verdict(NO, f"{what}, but {_hidden(machine)}", f"unset {CVD_VAR}")
    if _gpus_listed(machine) and not machine.gpus:
        return Verdict(NO, f"{what}, but driver {driver} lists no NVIDIA GPU")

    outlook: Outlook = YES if driver_ok else UNKNOWN
    work = ": should work" if driver_ok else ": probably works (the live probe will tell)"
    if not _gpus_listed(machine):
        return Verdict(outlook, ok_reason + work + " (GPUs not listed, architectures not checked)")
    gpus = visible_gpus(machine) or machine.gpus
    if cuda is None:
        return Verdict(outlook, ok_reason + work)
    return _arch_verdict(what, cuda, gpus, ok_reason + work, outlook, label)


def _driver_verdict(
    what: str, cuda: str, driver: str, machine: Machine, os_name: str, supports: str | None
) -> tuple[str, bool]:
    """(reason, driver runs the build). Newer drivers run every older CUDA; a driver older
    than the build's CUDA still runs it when it meets the family's minimum (minor-version
    compatibility); otherwise the build cannot start on this driver."""
    native = machine.cuda_driver
    derived = (_source(machine, "cuda_driver") or "").startswith("derived")
    if native and not derived and version_ge(native, cuda):
        return f"{what}; driver {driver} supports up to {native}", True
    if driver_supports(cuda, driver, os_name):
        if native and not derived:
            return (f"{what}; driver {driver} supports {native} and runs CUDA "
                    f"{parse_version(cuda)[0]}.x builds through minor-version compatibility"), True
        return f"{what}; driver {driver} supports up to {supports or native}", True
    need = family_min_driver(cuda, os_name)
    needs = f" (CUDA {parse_version(cuda)[0]}.x needs driver >= {need})" if need else ""
    if supports:
        return f"{what} but driver {driver} supports only {supports}: will fail{needs}", False
    return f"{what} but driver {driver} is too old for it: will fail{needs}", False


def _arch_verdict(
    what: str, cuda: str, gpus: tuple[Gpu, ...], ok: str, outlook: Outlook, label: str
) -> Verdict:
    results = [(g, arch_supported(cuda, g.capability) if g.capability else None) for g in gpus]
    bad = [g for g, r in results if r is False]
    good = [g for g, r in results if r is True]
    if bad and not good and all(r is False for _, r in results):
        first = bad[0]
        more = f" (and {len(bad) - 1} more GPU)" if len(bad) > 1 else ""
        return Verdict(
            NO,
            f"{what}: GPU compute capability {first.capability} ({first.name}){more} is not in "
            f"this build's architectures ({arch_text(cuda)}): kernels will fail",
            _repair(label),
        )
    if bad:
        names = ", ".join(f"{_gpu_name(g)} ({g.capability})" for g in bad)
        return Verdict(
            outlook,
            f"{ok} on {', '.join(_gpu_name(g) for g in good) or 'the other GPUs'}; "
            f"{names} not in this build's architectures ({arch_text(cuda)})",
        )
    if arch_text(cuda) == "unknown":
        return Verdict(outlook, f"{ok}; architectures of CUDA {cuda} builds are not in "
                                "venvsel's table, not checked")
    return Verdict(outlook, ok)


# --------------------------------------------------------------------------- llama


_BACKEND_NAMES = {
    "cuda": "CUDA", "metal": "Metal", "vulkan": "Vulkan", "hip": "HIP (ROCm)",
    "rocm": "HIP (ROCm)", "sycl": "SYCL", "opencl": "OpenCL", "musa": "MUSA", "cann": "CANN",
    "kompute": "Kompute",
}


def _llama_gpu(llama: LlamaInfo | None, machine: Machine, label: str) -> Verdict:
    if llama is None:
        fix = (f'CMAKE_ARGS="-DGGML_CUDA=on" pip install llama-cpp-python (inside {label})'
               if machine.has_driver else None)
        return Verdict(NO, "no llama-cpp-python", fix)
    backends = [b.lower() for b in llama.backends if b.lower() not in _NOT_GPU]
    if not backends:
        return Verdict(
            NO,
            f"CPU-only llama-cpp-python build {llama.version} (no GPU backend in llama_cpp/lib)",
            _repair(label) if machine.has_driver else None,
        )
    verdicts = [_backend_verdict(b, machine) for b in backends]
    for wanted in (YES, UNKNOWN, NO):
        for v in verdicts:
            if v.outlook == wanted:
                return v
    return verdicts[0]


def _backend_verdict(backend: str, machine: Machine) -> Verdict:
    name = _BACKEND_NAMES.get(backend, backend)
    if backend == "cuda":
        driver = machine.driver_version
        if driver is None:
            return Verdict(NO, "CUDA backend, but no NVIDIA driver on this machine")
        if hides_all_gpus(machine):
            return Verdict(NO, f"CUDA backend, but {_hidden(machine)}", f"unset {CVD_VAR}")
        if _gpus_listed(machine) and not machine.gpus:
            return Verdict(NO, f"CUDA backend, but driver {driver} lists no NVIDIA GPU")
        cuda = _driver_cuda(machine)
        runs = f" (CUDA {cuda})" if cuda else ""
        return Verdict(YES, f"CUDA backend present; driver {driver}{runs} should work")
    if backend == "metal":
        if machine.os == "Darwin":
            return Verdict(YES, "Metal backend on macOS: should work")
        return Verdict(NO, f"Metal backend, which runs only on macOS (this is {machine.os})")
    if backend in ("hip", "rocm"):
        if _has_amd(machine):
            return Verdict(YES, "HIP (ROCm) backend; an AMD GPU driver is present: should work")
        return Verdict(NO, "HIP (ROCm) backend, but no AMD GPU driver (/dev/kfd is absent)")
    return Verdict(UNKNOWN, f"{name} backend: works where a {name} driver is installed; "
                            "not checked from files")


__all__ = ["predict"]
