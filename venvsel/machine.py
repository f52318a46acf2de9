"""Machine facts: the NVIDIA driver, the newest CUDA it runs, every GPU (name, compute
capability, memory), CUDA_VISIBLE_DEVICES — and where each fact came from.

Where facts come from, first answer wins:

* driver version: ``VENVSEL_CUDA_DRIVER`` (an override, applied on top of what is observed)
  → NVML (``pynvml``, the ``nvml`` extra) → ``nvidia-smi --query-gpu`` (every line: mixed
  GPUs; found on PATH or in ``/usr/lib/wsl/lib``) → ``/sys/module/nvidia/version`` →
  ``/proc/driver/nvidia/version``.
* newest CUDA the driver runs: NVML's ``nvmlSystemGetCudaDriverVersion`` → the driver
  library's own ``cuDriverGetVersion`` (ctypes; needs no ``cuInit``, so an odd
  CUDA_VISIBLE_DEVICES cannot break it) → the ``CUDA Version:`` of nvidia-smi's header →
  derived from the driver version by the table in cuda.py (said so in ``sources``).
* GPUs: NVML → nvidia-smi. Without either, the driver may be known while the GPUs are not;
  ``sources`` has a ``gpus`` entry only when they were listed.

No driver and no GPU is a normal state, described in ``notes``. Nothing here raises for the
machine's behaviour; only a malformed ``VENVSEL_CUDA_DRIVER`` is a UsageError.

Cost: reading NVML or spawning nvidia-smi costs 20-200 ms (seconds on idle GPUs), so the
observed facts are cached in ``<cache dir>/machine.json``, keyed by a spawn-free key
(driver version files, host, boot). Two fingerprints, two meanings:

* :func:`driver_fingerprint` — cheap, spawn-free; changes when the loaded driver, the
  override, CUDA_VISIBLE_DEVICES or the host changes. Probe cache entries are keyed by it,
  so a warm ``pick``/``activate`` never starts nvidia-smi.
* ``Machine.fingerprint()`` (model.py) — computed from full facts (driver, CUDA, GPU models
  and capabilities, CUDA_VISIBLE_DEVICES); for reports and for comparing two readings.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from . import fsutil, paths
from .cuda import cuda_from_int, driver_os, family_min_driver, max_cuda_for_driver, parse_version
from .errors import UsageError
from .log import debug
from .model import Gpu, Machine, to_json
from .owners import state_dir_ok

if TYPE_CHECKING:
    from pathlib import Path

OVERRIDE_VAR = "VENVSEL_CUDA_DRIVER"
CVD_VAR = "CUDA_VISIBLE_DEVICES"

# Module-level so tests can point them at fixture files (real formats, real parsing).
SYS_VERSION = "/sys/module/nvidia/version"
PROC_VERSION = "/proc/driver/nvidia/version"
BOOT_ID = "/proc/sys/kernel/random/boot_id"
OSRELEASE = "/proc/sys/kernel/osrelease"
WSL_LIB = "/usr/lib/wsl/lib"
AMD_KFD = "/dev/kfd"  # the ROCm kernel driver's device: an AMD GPU is usable
USE_NVML = True  # tests that stand in a driver's files and nvidia-smi turn the real NVML off

SMI_TIMEOUT = 10.0  # nvidia-smi takes ~20 ms, up to seconds when idle GPUs wake up
SMI_FIELDS = ("index", "name", "driver_version", "compute_cap", "memory.total", "uuid")

CACHE_FILE = "machine.json"
CACHE_SCHEMA = 1

_VERSION_RE = re.compile(r"\d+\.\d+(?:\.\d+)*")

# --------------------------------------------------------------------------- parsers (pure)


def parse_sys_version(text: str | None) -> str | None:
    """``/sys/module/nvidia/version`` holds the bare version: ``"580.159.04\\n"``."""
    value = (text or "").strip()
    return value if _VERSION_RE.fullmatch(value) else None


def parse_proc_version(text: str | None) -> str | None:
    """The driver version from ``/proc/driver/nvidia/version``, whose first line is e.g.
    ``NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.04  Thu Oct ...`` or, for the
    open modules, ``NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.95.05  ...``."""
    for line in (text or "").splitlines():
        if not line.startswith("NVRM version:"):
            continue
        for token in line.split()[2:]:
            if _VERSION_RE.fullmatch(token):
                return token
    return None


_NOT_A_VALUE = ("N/A", "Not Supported", "Unknown Error", "Insufficient Permissions")


def _na(value: str) -> str | None:
    value = value.strip()
    if not value or value.strip("[]") in _NOT_A_VALUE:
        return None
    return value


def parse_nvidia_smi_csv(
    text: str, fields: tuple[str, ...] = SMI_FIELDS
) -> tuple[tuple[Gpu, ...], str | None]:
    """Every GPU line of ``nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits``
    and the driver version they report. Lines that are not GPU rows (error messages such as
    "No devices were found") are skipped. Values nvidia-smi cannot read (``[N/A]``,
    ``[Not Supported]``) become None; a unit left on a number (``143771 MiB``) is dropped."""
    gpus: list[Gpu] = []
    driver: str | None = None
    name_at = fields.index("name") if "name" in fields else -1
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < len(fields):
            continue
        extra = len(parts) - len(fields)
        if extra and name_at >= 0:  # a comma inside the GPU's name
            parts[name_at : name_at + extra + 1] = [", ".join(parts[name_at : name_at + extra + 1])]
        elif extra:
            continue
        row = dict(zip(fields, parts))
        index = row.get("index", str(len(gpus))).strip()
        if not index.isdigit():
            continue
        memory = _na(row.get("memory.total", ""))
        mem_match = re.match(r"\d+", memory or "")
        cap = _na(row.get("compute_cap", ""))
        gpus.append(
            Gpu(
                index=int(index),
                name=_na(row.get("name", "")) or "unknown NVIDIA GPU",
                capability=cap if cap and _VERSION_RE.fullmatch(cap) else None,
                memory_mib=int(mem_match.group(0)) if mem_match else None,
                uuid=_na(row.get("uuid", "")),
            )
        )
        drv = _na(row.get("driver_version", ""))
        if driver is None and drv and _VERSION_RE.fullmatch(drv):
            driver = drv
    return tuple(gpus), driver


def parse_nvidia_smi_header(text: str) -> tuple[str | None, str | None]:
    """(driver version, CUDA version) from plain ``nvidia-smi``'s banner:
    ``| NVIDIA-SMI 580.95.05   Driver Version: 580.95.05   CUDA Version: 13.0   |``."""
    drv = re.search(r"Driver Version:\s*(\d+\.\d+(?:\.\d+)*)", text)
    cuda = re.search(r"CUDA Version:\s*(\d+\.\d+)", text)
    return (drv.group(1) if drv else None), (cuda.group(1) if cuda else None)


def visible_gpus(machine: Machine) -> tuple[Gpu, ...] | None:
    """The GPUs a CUDA program sees under ``machine.cuda_visible_devices``; None when that
    cannot be told (MIG entries, or the GPU list is unknown).

    CUDA reads the variable as a comma-separated list of indexes or ``GPU-<uuid>`` prefixes
    and stops at the first entry it cannot use: ``""``, ``"-1"`` and ``"NoDevFiles"`` hide
    every GPU; ``"0,7"`` on a one-GPU machine shows GPU 0. Indexes are matched in
    nvidia-smi's (PCI) order, which is CUDA's order when CUDA_DEVICE_ORDER=PCI_BUS_ID or the
    GPUs are alike.
    """
    cvd = machine.cuda_visible_devices
    if cvd is None:
        return machine.gpus
    entries = [e.strip() for e in cvd.split(",")] if cvd.strip() else []
    chosen: list[Gpu] = []
    for entry in entries:
        if entry.isdigit():
            if not machine.gpus:
                return None
            gpu = next((g for g in machine.gpus if g.index == int(entry)), None)
        elif entry.startswith("GPU-"):
            if not machine.gpus:
                return None
            matches = [g for g in machine.gpus if g.uuid and g.uuid.startswith(entry)]
            gpu = matches[0] if len(matches) == 1 else None
        elif entry.startswith("MIG-"):
            return None
        else:
            gpu = None
        if gpu is None or gpu in chosen:
            break
        chosen.append(gpu)
    return tuple(chosen)


def hides_all_gpus(machine: Machine) -> bool:
    """CUDA_VISIBLE_DEVICES is set so that CUDA programs see no GPU at all."""
    return machine.cuda_visible_devices is not None and visible_gpus(machine) == ()


# --------------------------------------------------------------------------- small readers


def _read_text(path: str, limit: int = 4096) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(limit)
    except OSError:
        return None


def _os_name() -> str:
    """platform.system() without importing platform (the warm path stays lean)."""
    if sys.platform.startswith("linux"):
        return "Linux"
    if sys.platform == "win32":
        return "Windows"
    if sys.platform == "darwin":
        return "Darwin"
    import platform  # only when the machine facts are read afresh (a cache miss)

    return platform.system()


def _host() -> str:
    if hasattr(os, "uname"):
        return os.uname().nodename
    return os.environ.get("COMPUTERNAME", "")


def _is_wsl() -> bool:
    return os.path.isdir(WSL_LIB) or "microsoft" in (_read_text(OSRELEASE) or "").lower()


def _windows_smi() -> str:
    root = os.environ.get("SYSTEMROOT", r"C:\Windows")  # Windows env names are case-blind
    return os.path.join(root, "System32", "nvidia-smi.exe")


def _stat_part(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return ""
    return f"{st.st_size}:{st.st_mtime_ns}"


def _driver_parts() -> list[str]:
    """Spawn-free evidence of the installed driver: version files, or (WSL, Windows, where
    there are none) the size and mtime of the driver's nvidia-smi."""
    parts = [
        "sys=" + (_read_text(SYS_VERSION) or "").strip(),
        "proc=" + (_read_text(PROC_VERSION) or "").strip().split("\n", 1)[0],
    ]
    os_name = _os_name()
    if os_name == "Linux" and os.path.isdir(WSL_LIB):
        parts.append("wsl=" + _stat_part(os.path.join(WSL_LIB, "nvidia-smi")))
    elif os_name == "Windows":
        parts.append("win=" + _stat_part(_windows_smi()))
    return parts


def driver_fingerprint() -> str:
    """A cheap, spawn-free string that changes when the loaded NVIDIA driver, the
    VENVSEL_CUDA_DRIVER override, CUDA_VISIBLE_DEVICES or the host changes.

    Parts are ``name=value``; an absent file gives an empty value, and CUDA_VISIBLE_DEVICES
    unset is ``cvd`` (no ``=``) so that it differs from ``cvd=`` (set to "": GPUs hidden).
    """
    cvd = os.environ.get(CVD_VAR)
    parts = [
        "host=" + _host(),
        "override=" + os.environ.get(OVERRIDE_VAR, "").strip(),
        *_driver_parts(),
        "cvd" if cvd is None else "cvd=" + cvd,
    ]
    return "|".join(parts)


def _hardware_key() -> str:
    """Key of the cached observation: the driver evidence, the host and this boot (GPUs are
    swapped only across a reboot). The override and CUDA_VISIBLE_DEVICES are applied on top
    of a cached observation, so changing them never costs a new one."""
    boot = (_read_text(BOOT_ID) or "").strip()
    return "|".join([f"v{CACHE_SCHEMA}", _os_name(), "host=" + _host(), "boot=" + boot,
                     *_driver_parts()])


# --------------------------------------------------------------------------- observing


def find_nvidia_smi() -> str | None:
    """nvidia-smi on PATH, else where WSL and Windows drivers put it."""
    import shutil  # only when the machine facts are read afresh (a cache miss)

    found = shutil.which("nvidia-smi")
    if found:
        return found
    candidates = [os.path.join(WSL_LIB, "nvidia-smi")]
    if _os_name() == "Windows":
        candidates += [_windows_smi(),
                       r"C:\Program Files\NVIDIA Corporation\NVSMI\nvidia-smi.exe"]
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _run_smi(argv: list[str]) -> tuple[int | None, str, str]:
    """(returncode or None, stdout, why-it-failed) through the one subprocess wrapper."""
    # Lazy: proc imports subprocess (and signal, selectors), which a warm pick, reading the
    # machine facts from the cache, never needs.
    from . import proc

    try:
        res = proc.run(argv, timeout=SMI_TIMEOUT, output_cap=1 << 20)
    except OSError as exc:
        return None, "", f"could not be started ({exc.strerror or exc})"
    out = res.stdout.decode("utf-8", "replace")
    if res.timed_out:
        return None, out, f"did not answer within {SMI_TIMEOUT:g} s"
    if res.returncode != 0:
        first = (out.strip() or res.stderr_tail(2)).splitlines()
        detail = first[0].strip() if first else ""
        why = f"failed (exit {res.returncode})" + (f": {detail}" if detail else "")
        return res.returncode, out, why
    return 0, out, ""


def _query_smi(smi: str, notes: list[str]) -> tuple[tuple[Gpu, ...], str | None] | None:
    fields: tuple[str, ...] = SMI_FIELDS
    argv = [smi, "--query-gpu=" + ",".join(fields), "--format=csv,noheader,nounits"]
    rc, out, why = _run_smi(argv)
    if rc not in (0, None) and "compute_cap" in out:
        # Drivers before ~510 don't know the compute_cap field: ask again without it.
        fields = tuple(f for f in SMI_FIELDS if f != "compute_cap")
        argv = [smi, "--query-gpu=" + ",".join(fields), "--format=csv,noheader,nounits"]
        rc, out, why = _run_smi(argv)
        if rc == 0:
            notes.append("This nvidia-smi cannot report compute capability (driver too old "
                         "for the compute_cap field): GPU architectures are unknown.")
    if rc != 0:
        notes.append(f"nvidia-smi ({smi}) {why}.")
        return None
    return parse_nvidia_smi_csv(out, fields)


def _s(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _nvml_field(fn: Callable[..., Any], *args: object) -> Any:
    """One NVML query; a field this GPU or NVML version can't report stays unknown (None)."""
    try:
        return fn(*args)
    except Exception:  # NVMLError subclasses: NotSupported, NoPermission, FunctionNotFound
        return None


def _read_nvml(
    notes: list[str], driver_hint: bool
) -> tuple[str, str | None, tuple[Gpu, ...]] | None:
    """(driver, CUDA, GPUs) from NVML, or None when nvidia-ml-py is absent or NVML fails."""
    if not USE_NVML:
        return None
    try:
        import pynvml  # optional (the nvml extra)
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError subclasses, OSError from the library loader
        if driver_hint:  # on a machine without a driver, "library not found" is no news
            notes.append(f"NVML (nvidia-ml-py) could not start: {_s(exc)}.")
        return None
    try:
        driver = _s(pynvml.nvmlSystemGetDriverVersion())
        cuda_int = _nvml_field(pynvml.nvmlSystemGetCudaDriverVersion)
        gpus = []
        for i in range(int(pynvml.nvmlDeviceGetCount())):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            cap = _nvml_field(pynvml.nvmlDeviceGetCudaComputeCapability, handle)
            mem = _nvml_field(pynvml.nvmlDeviceGetMemoryInfo, handle)
            uuid = _nvml_field(pynvml.nvmlDeviceGetUUID, handle)
            gpus.append(Gpu(
                index=i,
                name=_s(pynvml.nvmlDeviceGetName(handle)),
                capability=f"{int(cap[0])}.{int(cap[1])}" if cap else None,
                memory_mib=int(mem.total) // (1024 * 1024) if mem is not None else None,
                uuid=_s(uuid) if uuid else None,
            ))
        cuda = cuda_from_int(int(cuda_int)) if cuda_int else None
        return driver, cuda, tuple(gpus)
    except Exception as exc:  # e.g. "Driver/library version mismatch"
        notes.append(f"NVML (nvidia-ml-py) failed: {_s(exc)}.")
        return None
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


def _libcuda_version(os_name: str, wsl: bool) -> str | None:
    """The driver library's own ``cuDriverGetVersion`` (13000 → "13.0"). It needs no
    ``cuInit``, so it cannot hang or trip over CUDA_VISIBLE_DEVICES; loading the library
    only maps it."""
    import ctypes  # only when NVML is asked directly (a cache miss on a GPU machine)

    if os_name == "Windows":
        names = ["nvcuda.dll"]
    elif os_name == "Linux":
        names = ([os.path.join(WSL_LIB, "libcuda.so.1")] if wsl else []) + ["libcuda.so.1"]
    else:
        return None
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            fn = lib.cuDriverGetVersion
        except (OSError, AttributeError):
            continue
        value = ctypes.c_int(0)
        try:
            rc = fn(ctypes.byref(value))
        except OSError:
            continue
        if rc == 0 and value.value > 0:
            return cuda_from_int(value.value)
    return None


def _observe() -> Machine:
    """Look at the machine (NVML, nvidia-smi, /sys, /proc, libcuda): the slow, cached part."""
    os_name = _os_name()
    wsl = os_name == "Linux" and _is_wsl()
    sources: list[tuple[str, str]] = []
    notes: list[str] = []
    sys_ver = parse_sys_version(_read_text(SYS_VERSION))
    proc_ver = parse_proc_version(_read_text(PROC_VERSION))
    kernel_module = sys_ver or proc_ver

    driver: str | None = None
    cuda: str | None = None
    gpus: tuple[Gpu, ...] | None = None  # None: not listed (differs from "listed, none")
    smi = find_nvidia_smi()

    nvml = _read_nvml(notes, driver_hint=bool(kernel_module or smi))
    if nvml is not None:
        driver, cuda, gpus = nvml
        sources.append(("driver_version", "NVML (nvidia-ml-py)"))
        if cuda:
            sources.append(("cuda_driver", "NVML nvmlSystemGetCudaDriverVersion"))
        sources.append(("gpus", "NVML (nvidia-ml-py)"))
    if gpus is None and smi is not None:
        got = _query_smi(smi, notes)
        if got is not None:
            gpus, smi_driver = got
            sources.append(("gpus", f"{smi} --query-gpu"))
            if driver is None and smi_driver:
                driver = smi_driver
                sources.append(("driver_version", f"{smi} --query-gpu"))
    if driver is None and sys_ver:
        driver = sys_ver
        sources.append(("driver_version", SYS_VERSION))
    if driver is None and proc_ver:
        driver = proc_ver
        sources.append(("driver_version", PROC_VERSION))

    if wsl:
        sources.append(("driver_os", "Windows (WSL: the Windows host's driver answers)"))
    if os.path.exists(AMD_KFD):
        sources.append(("amd_gpu", f"{AMD_KFD} (ROCm kernel driver)"))

    if driver is not None and cuda is None:
        cuda = _libcuda_version(os_name, wsl)
        if cuda:
            sources.append(("cuda_driver", "libcuda cuDriverGetVersion"))
    if driver is not None and cuda is None and smi is not None and gpus is not None:
        rc, out, _why = _run_smi([smi])
        cuda = parse_nvidia_smi_header(out)[1] if rc == 0 else None
        if cuda:
            sources.append(("cuda_driver", f"{smi} (header)"))
    if driver is not None and cuda is None:
        table_os = "Windows" if (wsl or os_name == "Windows") else "Linux"
        cuda = max_cuda_for_driver(driver, table_os)
        if cuda:
            sources.append(("cuda_driver", f"derived from driver {driver} (minor-version table)"))

    if driver is not None and kernel_module and driver != kernel_module and not wsl:
        notes.append(
            f"The loaded kernel module is {kernel_module} but the driver libraries are {driver}: "
            "a driver update is half applied; reboot (or reload the nvidia module)."
        )
    notes.extend(_state_notes(os_name, wsl, driver, gpus, smi))
    return Machine(
        os=os_name,
        driver_version=driver,
        cuda_driver=cuda,
        gpus=gpus or (),
        sources=tuple(sources),
        cuda_visible_devices=None,
        notes=tuple(notes),
    )


def _state_notes(
    os_name: str, wsl: bool, driver: str | None, gpus: tuple[Gpu, ...] | None,
    smi: str | None,
) -> list[str]:
    if driver is None:
        if os_name == "Darwin":
            return ["No NVIDIA driver: macOS has no CUDA support (Metal/MPS is the GPU path)."]
        if wsl:
            return [f"No NVIDIA driver found: WSL exposes none ({WSL_LIB}/nvidia-smi is absent); "
                    "install the NVIDIA driver on Windows."]
        if os_name == "Windows":
            return ["No NVIDIA driver found: nvidia-smi is absent."]
        if smi is None:
            return [f"No NVIDIA driver found: {PROC_VERSION} and nvidia-smi are absent."]
        return [f"No NVIDIA driver answered: {PROC_VERSION} is absent and nvidia-smi failed."]
    if gpus is None:
        how = "nvidia-smi failed" if smi else "nvidia-smi is not found"
        return [f"Driver {driver} is installed but the GPUs could not be listed ({how} and "
                "nvidia-ml-py is not usable): GPU architectures are not checked."]
    if not gpus:
        return [f"Driver {driver} is loaded but lists no GPU."]
    return []


# --------------------------------------------------------------------------- overlays


def _check_override(value: str) -> None:
    try:
        parts = parse_version(value)
    except ValueError:
        parts = ()
    if parts and parts[0] >= 100 and _VERSION_RE.fullmatch(value):
        return
    hint = "Set it to the driver version nvidia-smi shows as 'Driver Version', e.g. 580.159.04."
    if parts and parts[0] < 100:
        need = family_min_driver(value)
        extra = f" (CUDA {value} needs driver >= {need})" if need else ""
        raise UsageError(
            f"{OVERRIDE_VAR}={value!r} looks like a CUDA version, not a driver version{extra}.",
            hint=hint,
        )
    raise UsageError(f"{OVERRIDE_VAR}={value!r} is not a driver version.", hint=hint)


def _overlay(hw: Machine) -> Machine:
    """Apply what the environment says on top of an observation: the driver override and
    CUDA_VISIBLE_DEVICES (cheap, so they are never cached)."""
    sources, notes = list(hw.sources), list(hw.notes)
    driver, cuda = hw.driver_version, hw.cuda_driver
    override = os.environ.get(OVERRIDE_VAR, "").strip()
    if override:
        _check_override(override)
        driver = override
        cuda = max_cuda_for_driver(override, driver_os(hw))
        sources = [s for s in sources if s[0] not in ("driver_version", "cuda_driver")]
        sources.append(("driver_version", OVERRIDE_VAR))
        if cuda:
            sources.append(("cuda_driver", f"derived from {OVERRIDE_VAR} (minor-version table)"))
        real = (f"the observed driver is {hw.driver_version}" if hw.driver_version
                else "no driver was found")
        notes.append(f"{OVERRIDE_VAR}={override} overrides the driver version ({real}).")
    cvd = os.environ.get(CVD_VAR)
    machine = replace(hw, driver_version=driver, cuda_driver=cuda, cuda_visible_devices=cvd)
    if cvd is not None:
        sources.append(("cuda_visible_devices", f"{CVD_VAR} (environment)"))
        seen = visible_gpus(machine)
        if seen == ():
            notes.append(f"{CVD_VAR}={cvd!r} hides every GPU from CUDA programs.")
        elif seen is not None and len(seen) < len(hw.gpus):
            shown = ", ".join(str(g.index) for g in seen)
            notes.append(f"{CVD_VAR}={cvd!r} shows {len(seen)} of {len(hw.gpus)} GPUs to CUDA "
                         f"programs (GPU {shown}).")
    return replace(machine, sources=tuple(sources), notes=tuple(notes))


# --------------------------------------------------------------------------- cache + entry


def cache_path() -> Path:
    return paths.cache_dir() / CACHE_FILE


def _cache_file() -> str:
    return os.path.join(paths.cache_dir_str(), CACHE_FILE)


def _load_cached(key: str) -> Machine | None:
    if not state_dir_ok(paths.cache_dir(), "cache"):
        return None  # someone else could have written it: observe again
    try:
        with open(_cache_file(), encoding="utf-8") as f:
            data = json.loads(f.read())
        if data.get("schema") != CACHE_SCHEMA or data.get("key") != key:
            return None
        return Machine.from_json(data["machine"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # absent, corrupt or from another version: observe again


def _store(key: str, hw: Machine) -> None:
    path = cache_path()
    try:
        fsutil.ensure_cache_dir(path.parent)
        fsutil.atomic_write_text(
            path, json.dumps({"schema": CACHE_SCHEMA, "key": key, "machine": to_json(hw)}, indent=1)
        )
    except OSError as exc:  # a read-only cache costs speed, not correctness
        debug(__name__, "could not write %s: %s", path, exc)


def read_machine(*, use_cache: bool = True) -> Machine:
    """The machine's facts. With ``use_cache`` a stored observation whose key still matches
    (same driver files, host and boot) is reused, so NVML/nvidia-smi run only when the
    driver changes; without it the machine is observed again (and the store refreshed).
    ``VENVSEL_CUDA_DRIVER`` and ``CUDA_VISIBLE_DEVICES`` are applied on every call."""
    key = _hardware_key()
    hw = _load_cached(key) if use_cache else None
    if hw is None:
        hw = _observe()
        _store(key, hw)
    return _overlay(hw)


__all__ = [
    "driver_fingerprint",
    "find_nvidia_smi",
    "hides_all_gpus",
    "parse_nvidia_smi_csv",
    "parse_nvidia_smi_header",
    "parse_proc_version",
    "parse_sys_version",
    "read_machine",
    "visible_gpus",
]
