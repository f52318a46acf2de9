"""Frozen records that flow through the pipeline: discover → inspect → probe → select → act.

Every record converts to plain JSON with :func:`to_json` and back with its ``from_json``
classmethod (the cache stores them). Tuples, not lists, keep them hashable and immutable.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from typing import Any, Literal

from .record import frozen

# --------------------------------------------------------------------------- machine


@frozen
class Gpu:
    """One NVIDIA GPU as the driver lists it."""

    index: int
    name: str
    capability: str | None = None  # "9.0"
    memory_mib: int | None = None
    uuid: str | None = None


@frozen
class Machine:
    """What the host offers, read without starting any Python interpreter."""

    os: str  # platform.system(): "Linux", "Windows", "Darwin"
    driver_version: str | None = None  # "580.159.04"
    cuda_driver: str | None = None  # newest CUDA the driver runs, "13.0"
    gpus: tuple[Gpu, ...] = ()
    # fact -> where it came from, e.g. (("driver_version", "/sys/module/nvidia/version"), ...)
    sources: tuple[tuple[str, str], ...] = ()
    cuda_visible_devices: str | None = None  # the raw variable, None when unset
    notes: tuple[str, ...] = ()  # plain-language remarks ("nvidia-smi not found", ...)

    @property
    def has_driver(self) -> bool:
        return self.driver_version is not None

    def fingerprint(self) -> str:
        """Changes whenever a fact that could change a probe's answer changes."""
        gpus = ",".join(f"{g.name}/{g.capability}" for g in self.gpus)
        return f"{self.driver_version}|{self.cuda_driver}|{gpus}|{self.cuda_visible_devices}"

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Machine:
        return cls(
            os=d["os"],
            driver_version=d.get("driver_version"),
            cuda_driver=d.get("cuda_driver"),
            gpus=tuple(Gpu(**g) for g in d.get("gpus", ())),
            sources=tuple((str(a), str(b)) for a, b in d.get("sources", ())),
            cuda_visible_devices=d.get("cuda_visible_devices"),
            notes=tuple(d.get("notes", ())),
        )


# --------------------------------------------------------------------------- discovery

EnvKind = Literal[
    "venv", "virtualenv", "uv", "conda", "pyenv", "poetry", "pipenv", "hatch", "pdm", "unknown"
]


@frozen
class Env:
    """One environment on disk, as a locator found it. Never spawns to build one."""

    path: str  # real path (symlinks resolved): the identity of the env
    kind: EnvKind
    source: str  # locator that found it: "project", "active", "conda", "pyenv", "workon", ...
    layout: Literal["posix", "windows"] = "posix"
    interpreter: str | None = None  # <path>/bin/python or <path>\Scripts\python.exe, unresolved
    site_packages: tuple[str, ...] = ()
    broken: str | None = None  # plain-language reason, None when the env looks usable
    active: bool = False  # it is $VIRTUAL_ENV / $CONDA_PREFIX
    shown_path: str | None = None  # the path as the user would write it (relative to a ROOT)

    @property
    def bin_dir(self) -> str:
        return os.path.join(self.path, "Scripts" if self.layout == "windows" else "bin")

    @property
    def name(self) -> str:
        return os.path.basename(self.path.rstrip("/\\")) or self.path

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Env:
        d = dict(d)
        d["site_packages"] = tuple(d.get("site_packages", ()))
        return cls(**d)


# --------------------------------------------------------------------------- static inspection


@frozen
class TorchInfo:
    """torch's build, read from torch/version.py and torch/lib."""

    version: str  # "2.13.0+cpu" as in torch/version.py
    cuda: str | None = None  # "12.1" on a CUDA build
    hip: str | None = None  # ROCm version on a ROCm build
    has_cuda_lib: bool = False  # torch/lib/libtorch_cuda.so or torch_cuda.dll present

    @property
    def build(self) -> Literal["cuda", "rocm", "cpu"]:
        if self.cuda or self.has_cuda_lib:
            return "cuda"
        if self.hip:
            return "rocm"
        return "cpu"


@frozen
class LlamaInfo:
    """llama-cpp-python's version and the GPU backends its libraries carry."""

    version: str
    backends: tuple[str, ...] = ()  # GPU backends found in llama_cpp/lib: "cuda", "metal", ...
    lib_dir: str | None = None

    @property
    def gpu_offload(self) -> bool:
        return bool(self.backends)


@frozen
class StaticInfo:
    """Facts read from files alone (pyvenv.cfg, dist-info, torch/version.py, llama_cpp/lib)."""

    python_version: str | None = None  # "3.11.7"
    implementation: str | None = None  # "CPython", "PyPy"
    home: str | None = None  # base interpreter dir from pyvenv.cfg
    include_system_site_packages: bool = False
    uv: bool = False  # made by uv (`uv =` in pyvenv.cfg)
    # normalised distribution name -> version
    distributions: tuple[tuple[str, str], ...] = ()
    torch: TorchInfo | None = None
    llama: LlamaInfo | None = None
    nvidia_wheels: tuple[str, ...] = ()  # "nvidia-cublas-cu12==12.1.3.1", ...

    def dist_version(self, name: str) -> str | None:
        # third-party, ~10 ms: off the warm path (tests/unit/test_fast.py holds it)
        from packaging.utils import canonicalize_name

        want = canonicalize_name(name)
        for n, v in self.distributions:
            if n == want:
                return v
        return None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> StaticInfo:
        d = dict(d)
        d["distributions"] = tuple((a, b) for a, b in d.get("distributions", ()))
        d["nvidia_wheels"] = tuple(d.get("nvidia_wheels", ()))
        if d.get("torch"):
            d["torch"] = TorchInfo(**d["torch"])
        if d.get("llama"):
            ll = dict(d["llama"])
            ll["backends"] = tuple(ll.get("backends", ()))
            d["llama"] = LlamaInfo(**ll)
        return cls(**d)


# --------------------------------------------------------------------------- prediction

Outlook = Literal["yes", "no", "unknown"]


@frozen
class Verdict:
    """An answer with its reason in words: "CPU-only torch build", "should work: ..."."""

    outlook: Outlook
    reason: str
    fix: str | None = None  # a command or action that would change the answer


@frozen
class Prediction:
    """What files + machine facts say each env can do, before any interpreter runs."""

    torch_cuda: Verdict
    llama_gpu: Verdict

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Prediction:
        return cls(torch_cuda=Verdict(**d["torch_cuda"]), llama_gpu=Verdict(**d["llama_gpu"]))


# --------------------------------------------------------------------------- live probe

ProbeStatus = Literal["ok", "broken", "timeout", "crashed", "unsupported", "error", "untrusted"]


@frozen
class CudaDevice:
    """A GPU as torch saw it in a live probe."""

    index: int
    name: str
    capability: str | None = None
    memory_mib: int | None = None


@frozen
class ProbeResult:
    """What the env's own interpreter said about itself (probe/_child.py)."""

    status: ProbeStatus
    detail: str = ""  # plain words: the error's last lines, the signal, the timeout
    python: str | None = None  # "3.11.7"
    executable: str | None = None
    torch_version: str | None = None
    torch_cuda: str | None = None  # torch.version.cuda
    torch_hip: str | None = None
    torch_error: str | None = None  # import failed: the exception in one line
    cuda_available: bool | None = None
    cuda_devices: tuple[CudaDevice, ...] = ()
    arch_list: tuple[str, ...] = ()
    kernel_ok: bool | None = None  # torch.ones(1, device="cuda") + 1 really ran
    kernel_error: str | None = None  # "no kernel image is available ..." and friends
    mps_available: bool | None = None
    llama_version: str | None = None
    llama_error: str | None = None
    llama_gpu_offload: bool | None = None
    llama_system_info: str | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ProbeResult:
        d = dict(d)
        d["cuda_devices"] = tuple(CudaDevice(**x) for x in d.get("cuda_devices", ()))
        d["arch_list"] = tuple(d.get("arch_list", ()))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


# --------------------------------------------------------------------------- trust


@frozen
class Trust:
    """Whether venvsel may start anything of the env (the rule lives in venvsel/trust.py)."""

    trusted: bool
    reason: str  # "trusted", "trusted by `venvsel trust` (...)", "untrusted: owned by uid ..."
    fix: str | None = None  # what would make it trusted, in words with the commands
    command: str | None = None  # the exact `venvsel trust '<path>'` line, when untrusted
    owner_uid: int | None = None  # the env dir's owner
    explicit: bool = False  # trusted only because `venvsel trust` said so


# --------------------------------------------------------------------------- the full record


@frozen
class EnvRecord:
    """Everything venvsel knows about one env: the unit that scan, pick and doctor work on."""

    env: Env
    static: StaticInfo
    prediction: Prediction
    probe: ProbeResult | None = None  # None: not probed live (static scan)
    probe_cached: bool = False  # the probe came from the cache, not a fresh spawn
    trust: Trust | None = None  # None: not judged (e.g. the interpreter running venvsel itself)

    @property
    def untrusted(self) -> bool:
        return self.trust is not None and not self.trust.trusted

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> EnvRecord:
        return cls(
            env=Env.from_json(d["env"]),
            static=StaticInfo.from_json(d["static"]),
            prediction=Prediction.from_json(d["prediction"]),
            probe=ProbeResult.from_json(d["probe"]) if d.get("probe") else None,
            probe_cached=bool(d.get("probe_cached", False)),
            trust=Trust(**d["trust"]) if d.get("trust") else None,
        )


# --------------------------------------------------------------------------- needs


Capability = Literal["cuda", "torch", "llama", "llama-gpu", "rocm", "mps"]
NeedKind = Literal[Capability, "requirement", "python"]


@frozen
class Need:
    """One thing the user requires of an env: a capability or a requirement string."""

    kind: NeedKind
    spec: str = ""  # the requirement string ("torch>=2.3") or python specifier (">=3.10")

    def __str__(self) -> str:
        if self.kind == "requirement":
            return self.spec
        if self.kind == "python":
            return f"python{self.spec}"
        return self.kind


def needs_text(needs: Iterable[str | Need], python: str | None = None) -> str:
    """The needs in words, as every message says them: "torch and cuda and python>=3.10"
    ("" when there are none). ``python`` is a specifier recorded beside string needs."""
    return " and ".join([*(str(n) for n in needs), *([f"python{python}"] if python else [])])


def to_json(obj: Any) -> Any:
    """A dataclass tree as plain JSON-able data (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_json(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): to_json(v) for k, v in obj.items()}
    return obj


__all__ = [
    "CudaDevice",
    "Env",
    "EnvRecord",
    "Gpu",
    "LlamaInfo",
    "Machine",
    "Need",
    "Prediction",
    "ProbeResult",
    "StaticInfo",
    "TorchInfo",
    "Trust",
    "Verdict",
    "to_json",
]
