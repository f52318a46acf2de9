"""The CUDA tables, in one place: which driver runs which CUDA, which GPU architectures each
PyTorch CUDA build carries, and the choice of a PyTorch wheel index for a machine.

Everything here is a pure function of its arguments (no file reads, no spawns), so the
predictions (predict.py), the repair planner (repair/) and the tests share one truth.

Sources (see ../shared/ANCHORS.md): NVIDIA's minor-version compatibility table, as uv and
light-the-torch use it; the architecture lists come from PyTorch's wheel build script
(``.ci/manywheel/build_cuda.sh``) and ``torch.cuda.get_arch_list()`` of released wheels —
they change between torch releases, so a static answer is a prediction and the live probe
(a real kernel) stays the truth.
"""

from __future__ import annotations

import re

from .errors import UsageError
from .model import Gpu, Machine
from .record import frozen

# --------------------------------------------------------------------------- versions

_LEADING_NUMBERS = re.compile(r"\s*v?(\d+(?:\.\d+)*)")


def parse_version(s: str) -> tuple[int, ...]:
    """``"580.159.04"`` → (580, 159, 4); ``"13.0"`` → (13, 0); ``"12.1.105"``, ``"v12.1"``,
    ``"2.13.0+cpu"`` → their leading dotted numbers. Raises ValueError when ``s`` does not
    start with a number (a silent ``()`` would compare lower than every real version)."""
    m = _LEADING_NUMBERS.match(s or "")
    if not m:
        raise ValueError(f"not a version: {s!r}")
    return tuple(int(p) for p in m.group(1).split("."))


def _cmp(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """Compare with missing parts as zeros: (580,) == (580, 0, 0)."""
    n = max(len(a), len(b))
    pa, pb = a + (0,) * (n - len(a)), b + (0,) * (n - len(b))
    return (pa > pb) - (pa < pb)


def version_ge(a: str, b: str) -> bool:
    """``a >= b`` for dotted versions (``"580.0" >= "580"``)."""
    return _cmp(parse_version(a), parse_version(b)) >= 0


def major_minor(cuda: str) -> str:
    """``"12.1.105"`` → ``"12.1"``; ``"13"`` → ``"13.0"``."""
    parts = parse_version(cuda)
    return f"{parts[0]}.{parts[1] if len(parts) > 1 else 0}"


def cuda_from_int(value: int) -> str:
    """The driver API's integer form: 13000 → ``"13.0"``, 12020 → ``"12.2"``."""
    return f"{value // 1000}.{(value % 1000) // 10}"


# --------------------------------------------------------------------------- driver → CUDA

# Minimum driver per CUDA major version under NVIDIA's minor-version compatibility: a
# driver that meets the family's minimum runs every X.y build of that family (features that
# need a newer driver, and PTX JIT of newer code, aside). (linux, windows).
DRIVER_FAMILIES: dict[int, tuple[str, str]] = {
    13: ("580", "580"),
    12: ("525.60.13", "528.33"),
    11: ("450.80.02", "452.39"),
}


def family_min_driver(cuda: str, os_name: str = "Linux") -> str | None:
    """The oldest driver that runs CUDA ``cuda`` builds, or None when the table has no row
    for that major version (CUDA 10 and older had no minor-version compatibility)."""
    row = DRIVER_FAMILIES.get(parse_version(cuda)[0])
    if row is None:
        return None
    return row[1] if os_name == "Windows" else row[0]


def driver_supports(cuda: str, driver: str, os_name: str = "Linux") -> bool:
    """Can a driver of version ``driver`` run a CUDA ``cuda`` build (minor-version
    compatibility: the major family's minimum)? False for a major the table doesn't know."""
    need = family_min_driver(cuda, os_name)
    return need is not None and version_ge(driver, need)


# --------------------------------------------------------------------------- PyTorch indexes


@frozen
class TorchIndex:
    """One PyTorch wheel index: ``cu130`` carries CUDA 13.0 builds."""

    name: str  # "cu130", "cpu"
    cuda: str | None  # "13.0"; None for "cpu"
    min_driver_linux: str  # "0" for cpu: no driver needed
    min_driver_windows: str

    @property
    def url(self) -> str:
        return index_url(self.name)

    def min_driver(self, os_name: str = "Linux") -> str:
        return self.min_driver_windows if os_name == "Windows" else self.min_driver_linux


def _cu(cuda: str) -> TorchIndex:
    linux, windows = DRIVER_FAMILIES[parse_version(cuda)[0]]
    return TorchIndex("cu" + cuda.replace(".", ""), cuda, linux, windows)


CPU_INDEX = TorchIndex("cpu", None, "0", "0")

# Oldest to newest; ``choose_index`` walks it backwards.
INDEXES: tuple[TorchIndex, ...] = (
    CPU_INDEX,
    _cu("11.8"),
    _cu("12.1"),
    _cu("12.4"),
    _cu("12.6"),
    _cu("12.8"),
    _cu("12.9"),
    _cu("13.0"),
)

INDEX_BASE = "https://download.pytorch.org/whl/"


def index_url(name: str) -> str:
    """``"cu130"`` → the PyTorch wheel index URL for it."""
    return INDEX_BASE + name


def get_index(name: str) -> TorchIndex:
    """The index called ``name`` (case-insensitive); UsageError listing the known ones."""
    wanted = name.strip().lower()
    for idx in INDEXES:
        if idx.name == wanted:
            return idx
    known = ", ".join(i.name for i in INDEXES)
    raise UsageError(f"unknown backend {name!r}: expected auto or one of {known}.")


def max_cuda_for_driver(driver: str, os_name: str = "Linux") -> str | None:
    """The CUDA version of the newest PyTorch index this driver can run, per the table:
    ``"13.0"`` for >= 580, ``"12.9"`` for >= 525.60.13, ``"11.8"`` for >= 450.80.02, else
    None. This is a *compatibility* ceiling: a 535 driver natively reports CUDA 12.2 but runs
    12.9 builds through minor-version compatibility; a future 590 driver may natively
    report 13.1 while this says 13.0 (the newest index venvsel knows)."""
    for idx in reversed(INDEXES):
        if idx.cuda is not None and driver_supports(idx.cuda, driver, os_name):
            return idx.cuda
    return None


# --------------------------------------------------------------------------- architectures

# Compute capabilities (SASS) carried by PyTorch's CUDA wheels, per CUDA version. One stored
# set per family; releases differ (torch 2.11 dropped 7.0 from its 12.x builds), so these
# are predictions. Provenance:
#   11.8  torch.cuda.get_arch_list() of a 2.x cu118 wheel: sm_37 sm_50 sm_60 sm_61 sm_70
#         sm_75 sm_80 sm_86 sm_90 (+ compute_37).
#   12.1, 12.4  GUESS from memory of released wheels' get_arch_list(): sm_50 … sm_90.
#   12.6, 12.8, 13.0  ANCHORS.md (PyTorch's build script lists 7.5 for 12.6 too; 7.0 SASS
#         runs on 7.5, so the answer is the same).
#   12.9  PyTorch's build script: 7.0 7.5 8.0 8.6 9.0 10.0 12.0(+PTX).
TORCH_ARCHS: dict[str, tuple[str, ...]] = {
    "11.8": ("3.7", "5.0", "6.0", "6.1", "7.0", "7.5", "8.0", "8.6", "9.0"),
    "12.1": ("5.0", "6.0", "7.0", "7.5", "8.0", "8.6", "9.0"),
    "12.4": ("5.0", "6.0", "7.0", "7.5", "8.0", "8.6", "9.0"),
    "12.6": ("5.0", "6.0", "7.0", "8.0", "8.6", "9.0"),
    "12.8": ("7.0", "8.0", "8.6", "9.0", "10.0", "12.0"),
    "12.9": ("7.0", "7.5", "8.0", "8.6", "9.0", "10.0", "12.0"),
    "13.0": ("7.5", "8.0", "8.6", "9.0", "10.0", "11.0", "12.0"),
}


def _cap(capability: str) -> tuple[int, int]:
    parts = parse_version(capability)
    return parts[0], parts[1] if len(parts) > 1 else 0


def arch_supported(torch_cuda: str, capability: str) -> bool | None:
    """Does a PyTorch CUDA ``torch_cuda`` build carry code for a GPU of ``capability``?

    True when the build has SASS for the same major architecture at an equal or lower minor
    (binary compatibility: sm_86 code runs on an 8.9 GPU, sm_70 on 7.5). False otherwise —
    including a GPU newer than every listed architecture: such a GPU could only JIT-compile
    PTX, which most of these wheels don't ship, and the usual outcome is "no kernel image is
    available for execution on the device". None when the table has no row for that build.
    """
    archs = TORCH_ARCHS.get(major_minor(torch_cuda))
    if archs is None:
        return None
    major, minor = _cap(capability)
    return any(a[0] == major and a[1] <= minor for a in map(_cap, archs))


def arch_text(torch_cuda: str) -> str:
    """``"7.0 8.0 8.6 9.0 10.0 12.0"`` for reasons; ``"unknown"`` when not in the table."""
    archs = TORCH_ARCHS.get(major_minor(torch_cuda))
    return " ".join(archs) if archs else "unknown"


def newer_than_all_known(capability: str) -> bool:
    """A GPU newer than every architecture of every build in the table (a future GPU)."""
    newest = max(_cap(a) for archs in TORCH_ARCHS.values() for a in archs)
    return _cap(capability)[0] > newest[0]


# --------------------------------------------------------------------------- machine helpers


def driver_os(machine: Machine) -> str:
    """Which column of the driver table applies: under WSL the Windows host's driver is
    the one that answers, so read_machine records ("driver_os", "Windows ...") then."""
    for fact, where in machine.sources:
        if fact == "driver_os":
            return "Windows" if where.startswith("Windows") else "Linux"
    return "Windows" if machine.os == "Windows" else "Linux"


def gpu_label(gpu: Gpu) -> str:
    return f"GPU {gpu.index} ({gpu.name}, compute capability {gpu.capability or 'unknown'})"


# --------------------------------------------------------------------------- index choice


@frozen
class IndexChoice:
    """The index to install the PyTorch family from, and why, in words. ``warning`` is set
    when the choice cannot run here (explicit choices are honoured: a GPU-less machine may
    build a CUDA env on purpose)."""

    index: TorchIndex
    reason: str
    warning: str | None = None

    @property
    def url(self) -> str:
        return self.index.url


def _uncovered(cuda: str, gpus: tuple[Gpu, ...]) -> list[Gpu]:
    return [g for g in gpus if g.capability and arch_supported(cuda, g.capability) is False]


def choose_index(machine: Machine, *, wanted: str = "auto") -> IndexChoice:
    """The PyTorch index for ``machine``.

    ``auto``: the newest CUDA index whose driver minimum the driver meets and whose
    architecture list covers every GPU's compute capability, walking back to older indexes
    for older GPUs. No driver → UsageError (suggesting --backend). An explicit name is
    honoured, with ``warning`` saying why it would not run here.
    """
    os_name = driver_os(machine)
    driver = machine.driver_version
    gpus = tuple(g for g in machine.gpus if g.capability)
    if wanted.strip().lower() != "auto":
        idx = get_index(wanted)
        return _explicit(idx, machine, os_name, gpus)

    if driver is None:
        raise UsageError(
            "No NVIDIA driver found on this machine, so there is no CUDA wheel to match it to; "
            "pass --backend cpu or --backend cuXXX (e.g. cu128) to choose one yourself.",
        )
    runnable = [i for i in reversed(INDEXES) if i.cuda and driver_supports(i.cuda, driver, os_name)]
    if not runnable:
        oldest = next(i for i in INDEXES if i.cuda)
        raise UsageError(
            f"NVIDIA driver {driver} is older than any PyTorch CUDA index venvsel knows "
            f"({oldest.name} needs >= {oldest.min_driver(os_name)}); update the driver, "
            "or pass --backend cpu."
        )
    newest = runnable[0]
    drv = (f"driver {driver} runs (CUDA {_family(newest.cuda)}.x needs "
           f">= {newest.min_driver(os_name)})")
    if not gpus:
        why = "no GPU is listed" if not machine.gpus else "the GPUs' capabilities are unknown"
        return IndexChoice(
            newest,
            f"{newest.name}: the newest PyTorch index {drv}; {why}, "
            "so architectures were not checked.",
        )
    skipped: list[tuple[str, str]] = []  # (index, capabilities it lacks)
    for idx in runnable:
        assert idx.cuda is not None
        missing = _uncovered(idx.cuda, gpus)
        if not missing:
            caps = ", ".join(f"{g.capability} ({g.name})" for g in gpus)
            reason = (f"{idx.name}: the newest PyTorch index that driver {driver} runs "
                      f"and whose architectures ({arch_text(idx.cuda)}) cover compute "
                      f"capability {caps}")
            if skipped:
                reason += "; skipped " + _skipped_text(skipped)
            return IndexChoice(idx, reason + ".")
        skipped.append((idx.name, ", ".join(sorted({g.capability or "" for g in missing}))))
    # Nothing covers every GPU. A GPU newer than every known build (a future architecture)
    # gets the newest index, with a warning: it is the only one with a chance.
    not_newest = _uncovered(newest.cuda or "", gpus)
    if all(newer_than_all_known(g.capability or "0") for g in not_newest):
        return IndexChoice(
            newest,
            f"{newest.name}: the newest PyTorch index {drv}.",
            warning=(
                "; ".join(gpu_label(g) for g in not_newest)
                + ": newer than every PyTorch build venvsel knows; the newest index is the "
                "best chance, and the live probe will tell whether a kernel runs."
            ),
        )
    old = [g for g in gpus
           if not any(arch_supported(i.cuda or "", g.capability or "0") for i in runnable)]
    if old:
        raise UsageError(
            f"No PyTorch CUDA build that driver {driver} runs carries code for "
            + "; ".join(gpu_label(g) for g in old)
            + "; pass --backend cpu, or --backend cuXXX to try one anyway.",
        )
    raise UsageError(
        "No single PyTorch CUDA index covers every GPU here ("
        + "; ".join(gpu_label(g) for g in gpus)
        + "); pass --backend cuXXX for the GPU you will use, and select that GPU with "
        "CUDA_VISIBLE_DEVICES.",
    )


def _skipped_text(skipped: list[tuple[str, str]]) -> str:
    """``cu130, cu129, cu128 (no code for compute capability 6.1)``, grouped by what lacks."""
    groups: list[tuple[list[str], str]] = []
    for name, caps in skipped:
        if groups and groups[-1][1] == caps:
            groups[-1][0].append(name)
        else:
            groups.append(([name], caps))
    return "; ".join(f"{', '.join(names)} (no code for compute capability {caps})"
                     for names, caps in groups)


def _family(cuda: str | None) -> str:
    return str(parse_version(cuda)[0]) if cuda else "?"


def _explicit(
    idx: TorchIndex, machine: Machine, os_name: str, gpus: tuple[Gpu, ...]
) -> IndexChoice:
    if idx.cuda is None:
        return IndexChoice(idx, "cpu: asked for (--backend cpu); a CPU-only build.")
    asked = f"{idx.name}: asked for (--backend {idx.name})"
    driver = machine.driver_version
    if driver is None:
        return IndexChoice(
            idx, asked + ".",
            warning=(f"No NVIDIA driver on this machine: a CUDA {idx.cuda} build will not run "
                     "here (fine when the env is meant for another machine)."),
        )
    if not driver_supports(idx.cuda, driver, os_name):
        best = max_cuda_for_driver(driver, os_name)
        return IndexChoice(
            idx, asked + ".",
            warning=(f"Driver {driver} is too old for CUDA {idx.cuda} builds (needs >= "
                     f"{idx.min_driver(os_name)}); it runs up to CUDA {best or 'none'}. "
                     "torch will not see the GPU until the driver is updated."),
        )
    missing = _uncovered(idx.cuda, gpus)
    if missing:
        return IndexChoice(
            idx, asked + ".",
            warning=(", ".join(gpu_label(g) for g in missing)
                     + f" is not in the architectures of CUDA {idx.cuda} builds "
                     f"({arch_text(idx.cuda)}): kernels will fail with 'no kernel image'."),
        )
    return IndexChoice(idx, f"{asked}; driver {driver} runs it.")


__all__ = [
    "CPU_INDEX",
    "DRIVER_FAMILIES",
    "INDEXES",
    "TORCH_ARCHS",
    "IndexChoice",
    "TorchIndex",
    "arch_supported",
    "arch_text",
    "choose_index",
    "cuda_from_int",
    "driver_os",
    "driver_supports",
    "family_min_driver",
    "get_index",
    "index_url",
    "major_minor",
    "max_cuda_for_driver",
    "parse_version",
    "version_ge",
]
