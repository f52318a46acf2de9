"""Which wheels, from where: ``--backend``/``--index-url``/``--find-links`` plus the machine's
facts become a :class:`Backend` (a PyTorch index and the CUDA version it must deliver), the
exact torch/torchvision/torchaudio requirements, and the pip or uv arguments that fetch them.

The PyTorch family is fetched from the chosen source *alone*: pip runs with
``PIP_CONFIG_FILE=/dev/null`` and without the ``PIP_*`` source variables (uv with
``--no-config`` and without ``UV_*`` source variables), so a CPU build from another index or a
``find-links`` folder can never stand in for the CUDA build that was asked for. Its
dependencies (nvidia-*, triton, sympy, ...) then resolve with the user's own configuration.

The driver table and the architecture lists live in :mod:`venvsel.cuda`; nothing here
duplicates them.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from .. import cuda, proc
from ..errors import UsageError
from ..model import Machine

FAMILY = ("torch", "torchvision", "torchaudio")

# Installed as torch's own dependencies: they follow the torch build that is installed and
# are never copied from the old env (a cu12 nvidia-cublas next to a cu13 torch breaks it).
FOLLOWER_PREFIXES = ("nvidia-",)
FOLLOWERS = frozenset({
    "triton", "pytorch-triton", "pytorch-triton-rocm", "pytorch-triton-xpu",
    "cuda-toolkit", "cuda-bindings", "cuda-pathfinder",
})

if TYPE_CHECKING:
    from packaging.version import Version

LLAMA = "llama-cpp-python"

# Variables that would add other package sources to a "from this source only" install.
PIP_SOURCE_VARS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX",
                   "PIP_CONSTRAINT", "PIP_REQUIREMENT", "PIP_CONFIG_FILE")
UV_SOURCE_VARS = ("UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_DEFAULT_INDEX",
                  "UV_FIND_LINKS", "UV_NO_INDEX", "UV_CONSTRAINT", "UV_OVERRIDE",
                  "UV_INDEX_STRATEGY")

LIST_TIMEOUT = 180.0  # listing versions reads one index page; a slow mirror gets time


def is_follower(name: str) -> bool:
    return name in FOLLOWERS or name.startswith(FOLLOWER_PREFIXES)


@dataclass(frozen=True)
class Source:
    """Where the PyTorch family comes from: an index, a local folder of wheels, or both."""

    index_url: str | None = None
    find_links: str | None = None

    def strict_args(self) -> tuple[str, ...]:
        """This source and nothing else (``--no-index`` when there is no index URL)."""
        args: tuple[str, ...] = (
            ("--index-url", self.index_url) if self.index_url else ("--no-index",)
        )
        if self.find_links:
            args += ("--find-links", self.find_links)
        return args

    def extra_args(self) -> tuple[str, ...]:
        """This source in addition to the user's configured ones (for dependencies: the
        user's own index stays the main one)."""
        args: tuple[str, ...] = ("--extra-index-url", self.index_url) if self.index_url else ()
        if self.find_links:
            args += ("--find-links", self.find_links)
        return args

    def describe(self) -> str:
        parts = []
        if self.index_url:
            parts.append(self.index_url)
        if self.find_links:
            parts.append(f"{self.find_links} (local wheels)")
        return " + ".join(parts) or "nowhere"


@dataclass(frozen=True)
class Backend:
    """The build to install: ``cu130`` means torch.version.cuda must read 13.0 afterwards."""

    name: str  # "cpu", "cu130", ...
    cuda: str | None  # "13.0"; None for the CPU build
    reason: str
    source: Source
    warning: str | None = None
    explicit: bool = False  # --backend named it (not auto)

    @property
    def is_cuda(self) -> bool:
        return self.cuda is not None


def choose_backend(
    machine: Machine,
    wanted: str = "auto",
    *,
    index_url: str | None = None,
    find_links: str | None = None,
) -> Backend:
    """``--backend`` + ``--index-url``/``--find-links`` + machine facts → a :class:`Backend`.

    ``auto`` with no driver raises UsageError (exit 2) saying to pass ``--backend``.
    """

    wanted = (wanted or "auto").strip().lower()
    try:
        choice = cuda.choose_index(machine, wanted=wanted)
    except UsageError as err:
        if wanted == "auto" and not machine.has_driver:
            raise UsageError(
                "No NVIDIA driver found on this machine, so `--backend auto` has no CUDA "
                "version to match.",
                hint="Pass --backend cu130 (or cu128, cu126, ... for an older driver) to "
                "install a CUDA build anyway, or --backend cpu for the CPU build.",
            ) from None
        raise err
    if find_links is not None and not os.path.isdir(find_links):
        raise UsageError(f"--find-links {find_links}: not a directory")
    if index_url is None and find_links is None:
        source = Source(index_url=choice.index.url)
    else:
        source = Source(index_url=index_url,
                        find_links=os.path.abspath(find_links) if find_links else None)
    reason = choice.reason
    if index_url or find_links:
        reason += f" Wheels from {source.describe()} instead of the PyTorch index."
    return Backend(
        name=choice.index.name,
        cuda=choice.index.cuda,
        reason=reason,
        source=source,
        warning=choice.warning,
        explicit=wanted != "auto",
    )


def strict_env(installer: str, base: Mapping[str, str] | None = None) -> tuple[
    tuple[tuple[str, str], ...], tuple[str, ...]
]:
    """(variables to set, variables to remove) so an install sees only the chosen source.

    Only variables present in ``base`` (default: os.environ) are listed for removal, so the
    plan shows what really changes.
    """
    base = os.environ if base is None else base
    if installer == "uv":
        return (), tuple(v for v in UV_SOURCE_VARS if v in base)
    unset = tuple(v for v in PIP_SOURCE_VARS if v in base and v != "PIP_CONFIG_FILE")
    return (("PIP_CONFIG_FILE", os.devnull),), unset


# --------------------------------------------------------------------------- versions


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def public(version: str) -> str:
    """``"2.13.0+cpu"`` → ``"2.13.0"`` (the part every index agrees on)."""

    try:
        return Version(version).public
    except InvalidVersion:
        return version.split("+", 1)[0]


# pip says "No matching distribution" for an index it could not reach as well: these tell
# an unreachable source (unknown) from one that answered without torch (empty).
_UNREACHABLE = re.compile(
    r"Could not fetch URL|Connection|Max retries|Retrying|timed out|Name or service|"
    r"Temporary failure|No such file|does not exist|SSLError|ProxyError|403|401|404",
)

_AVAILABLE = re.compile(r"^Available versions:\s*(.*)$", re.MULTILINE)


def parse_index_versions(stdout: str) -> list[str] | None:
    """The versions ``pip index versions`` printed, or None when it printed none."""
    m = _AVAILABLE.search(stdout)
    if not m:
        return None
    return [v.strip() for v in m.group(1).split(",") if v.strip()]


def list_versions_argv(
    python: str, source: Source, package: str = "torch", *, python_version: str | None = None
) -> list[str]:
    """``pip index versions`` against the chosen source alone. ``python_version`` lets an
    interpreter other than the target's answer for the target's Python (binary wheels only)."""
    # -B: asking must not write bytecode into the env being repaired (or dry-run)
    # --retries/--timeout: a listing only informs the plan; an unreachable index should not
    # hold it up for pip's default five retries
    argv = [python, "-B", "-m", "pip", "index", "versions", package, "--disable-pip-version-check",
            "--no-input", "--retries", "1", "--timeout", "20", *source.strict_args()]
    if python_version:
        argv += ["--python-version", python_version, "--only-binary", ":all:"]
    return argv


@dataclass(frozen=True)
class VersionListing:
    versions: tuple[str, ...] | None  # None: the source could not be listed
    detail: str  # how it was asked, or why it failed
    unreachable: bool = False  # no interpreter could reach the source at all


def list_versions(
    pythons: Sequence[tuple[str, str | None]], source: Source, package: str = "torch",
    *, installer: str = "pip",
) -> VersionListing:
    """Ask each ``(python, python_version)`` in turn until one lists ``package`` on ``source``.

    An empty listing is an answer ("the source has no torch for this Python"); a failure to
    run pip (no pip in that interpreter, pip too old for ``index``) moves on to the next.
    """
    sets, unset = strict_env("pip")
    env = proc.clean_env(drop=(*proc.PYTHON_LEAKS, *unset), extra=dict(sets))
    errors: list[str] = []
    for python, pyver in pythons:
        argv = list_versions_argv(python, source, package, python_version=pyver)
        try:
            done = proc.run(argv, timeout=LIST_TIMEOUT, env=env)
        except OSError as exc:
            errors.append(f"{python}: {exc.strerror or exc}")
            continue
        out = done.stdout.decode("utf-8", "replace")
        err = done.stderr.decode("utf-8", "replace")
        if done.timed_out:
            errors.append(f"listing {package} on {source.describe()} timed out")
            continue
        if done.returncode == 0:
            found = parse_index_versions(out)
            return VersionListing(tuple(found or ()), f"pip index versions {package}")
        if "No matching distribution found" in err and not _UNREACHABLE.search(err):
            return VersionListing((), f"{source.describe()} offers no {package} for this Python")
        if _UNREACHABLE.search(err):
            # pip's retry warnings and tracebacks say one thing: no connection.
            errors.append(f"{source.describe()} could not be reached")
            continue
        errors.append(done.stderr_tail(2) or f"{python} exited with {done.returncode}")
    said = list(dict.fromkeys(e for e in errors if e))  # each interpreter asked may say the same
    unreachable = bool(said) and all(e.endswith((" could not be reached", " timed out"))
                                     for e in said)
    return VersionListing(None, "; ".join(said) or "no interpreter to ask", unreachable)


def _newest(versions: Sequence[str]) -> str | None:
    good: list[tuple[str, Version]] = []
    for v in versions:
        parsed = _version(v)
        if parsed is not None:
            good.append((v, parsed))
    pool = [vp for vp in good if not vp[1].is_prerelease] or good
    if not pool:
        return None
    return max(pool, key=lambda vp: vp[1])[0]


def companion_series(package: str, torch_version: str) -> str | None:
    """The release series of ``package`` built against ``torch_version``: torchvision 0.29.*
    goes with torch 2.14, torchaudio 2.14.* with torch 2.14 (torch 1.x: 0.(m+1) / 0.m)."""
    parts = public(torch_version).split(".")
    if len(parts) < 2 or not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    major, minor = int(parts[0]), int(parts[1])
    if package == "torchvision":
        if major == 2:
            return f"0.{minor + 15}.*"
        if major == 1:
            return f"0.{minor + 1}.*"
    if package == "torchaudio":
        if major == 2:
            return f"2.{minor}.*"
        if major == 1:
            return f"0.{minor}.*"
    return None


@dataclass(frozen=True)
class FamilyPins:
    """The requirements for the PyTorch family, and the sentence that explains them."""

    requirements: tuple[str, ...]  # ("torch==2.14.1", "torchvision==0.29.*")
    torch_version: str | None  # the torch version asked for, None when unpinned
    kept: bool  # the user's torch version is kept
    note: str
    warning: str | None = None  # the source's build looks like another backend's
    unreachable: str | None = None  # the source could not be reached: the install would fail


def _label_mismatch(version: str | None, backend: Backend, where: str) -> str | None:
    """``2.13.0+cpu`` from a source meant to give cu130 builds: say so before installing."""
    if not version or "+" not in version:
        return None
    label = version.split("+", 1)[1]
    if label == backend.name or not (label == "cpu" or label.startswith(("cu", "rocm"))):
        return None
    return (f"{where} offers torch {version}, a {label} build, but the backend is "
            f"{backend.name}: verification will fail and the env will be put back, unless "
            "the source is changed.")


def family_pins(
    have: Mapping[str, str], listing: VersionListing, backend: Backend
) -> FamilyPins:
    """Keep the user's torch version when the source has it; otherwise say which and why.

    ``have`` maps family members present in the env to their versions (torch may be absent:
    a missing torch is installed at the newest version the source has).
    """
    where = backend.source.describe()
    old = have.get("torch")
    chosen: str | None = None
    kept = False
    unreachable = None
    if listing.versions is None:
        # Name the source once: "X could not be reached", not "on X (X could not be reached)".
        why = (f"{where} could not be reached" if listing.unreachable
               else f"Could not list the torch versions on {where} ({listing.detail})")
        unreachable = f"{where} could not be reached" if listing.unreachable else None
        if old:
            chosen, kept = public(old), True
            note = f"{why}; asking for your version, {chosen}."
        else:
            note = f"{why}; asking for the newest torch it has."
    elif not listing.versions:
        raise UsageError(
            f"{where} offers no torch wheel for this env's Python and platform.",
            hint="Check the index URL / wheel folder, or choose another --backend.",
        )
    else:
        matches = [v for v in listing.versions if old and public(v) == public(old)]
        if matches:
            local = [v for v in matches if v.endswith("+" + backend.name)]
            plain = [v for v in matches if "+" not in v]
            chosen, kept = (local or plain or matches)[0], True
            note = f"Keeps your torch version {public(old or chosen)} ({chosen} from {where})."
        else:
            chosen = _newest(listing.versions)
            if chosen is None:
                raise UsageError(f"{where} lists no valid torch version: {listing.versions!r}")
            if old:
                note = (f"torch {public(old)} (your version) is not offered by {where} for this "
                        f"Python; it offers {_short_list(listing.versions)}, so the newest, "
                        f"{chosen}, is installed instead.")
            else:
                note = f"torch was not installed; installing the newest on {where}, {chosen}."
    reqs = [f"torch=={chosen}" if chosen else "torch"]
    for pkg in FAMILY[1:]:
        if pkg not in have:
            continue
        if kept:
            reqs.append(f"{pkg}=={public(have[pkg])}")
        else:
            series = companion_series(pkg, chosen) if chosen else None
            reqs.append(f"{pkg}=={series}" if series else pkg)
    return FamilyPins(tuple(reqs), chosen, kept, note, _label_mismatch(chosen, backend, where),
                      unreachable)


def _short_list(versions: Sequence[str], n: int = 5) -> str:
    vs = list(versions)
    return ", ".join(vs[:n]) + (f" and {len(vs) - n} more" if len(vs) > n else "")


def cuda_architectures(machine: Machine) -> str | None:
    """``"90;120"`` for CMAKE_CUDA_ARCHITECTURES: build llama.cpp only for this machine's
    GPUs (a build for every architecture takes several times longer)."""
    caps = sorted({g.capability.replace(".", "") for g in machine.gpus if g.capability})
    return ";".join(caps) or None


def find_nvcc() -> str | None:
    """The CUDA compiler a llama.cpp CUDA build will use, or None."""

    for cand in (os.environ.get("CUDACXX"), shutil.which("nvcc"),
                 os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", "nvcc"),
                 "/usr/local/cuda/bin/nvcc"):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


__all__ = [
    "FAMILY",
    "LLAMA",
    "Backend",
    "FamilyPins",
    "Source",
    "VersionListing",
    "choose_backend",
    "companion_series",
    "cuda_architectures",
    "family_pins",
    "find_nvcc",
    "is_follower",
    "list_versions",
    "parse_index_versions",
    "public",
    "strict_env",
]
