"""The plan: ordered, numbered :class:`Step` objects holding the exact argv of every command
(and the environment changes it runs with), rendered for ``--dry-run`` and the confirmation
prompt, then carried out step by step by :mod:`venvsel.repair.execute`.

Two modes. *In-place* (a healthy env that only needs its PyTorch family swapped or its
llama-cpp-python rebuilt): snapshot the env, then reinstall. *Rebuild* (the env is broken,
or ``--rebuild``): move the env aside, create a fresh one with virtualenv from the same base
interpreter, reinstall the user's other packages, then the PyTorch family and llama.

The user's packages come from a static read of the env's ``*.dist-info`` (name, version and
``direct_url.json``), not from ``pip freeze``: a rebuild is mostly needed when the env's
interpreter no longer runs, and a freeze is only a list of the same files anyway.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote, urlparse

from packaging.utils import canonicalize_name

from .. import proc
from ..contents import metadata_files, read_metadata
from ..discover import find_site_packages, read_pyvenv_cfg
from ..errors import UsageError
from ..machine import hides_all_gpus
from ..model import Env, StaticInfo
from ..paths import cache_dir
from ..probe import CHILD
from .backend import (
    FAMILY,
    LLAMA,
    Backend,
    FamilyPins,
    cuda_architectures,
    family_pins,
    find_nvcc,
    is_follower,
    list_versions,
    strict_env,
)
from .diagnose import Diagnosis

Mode = Literal["in-place", "rebuild", "none"]
Installer = Literal["pip", "uv"]
LlamaCheck = Literal["gpu", "cuda-build", "import", ""]

# What each step does. venvsel does "move", "snapshot", "copy-pth" and "verify" itself
# (see DOES_ITSELF); every other kind runs its ``argv``.
StepKind = Literal[
    "move", "snapshot", "ensurepip", "create", "install-others", "copy-pth", "install-torch",
    "install-torch-deps", "build-llama", "install-llama", "check", "verify",
]
DOES_ITSELF: frozenset[StepKind] = frozenset({"move", "snapshot", "copy-pth", "verify"})

# Where a repair stands, as its journal records it (venvsel.repair.recovery).
RepairState = Literal[
    "started", "moving", "snapshotting", "snapshotted", "creating", "installing", "verifying",
    "done", "restoring", "restored", "restore-failed",
]

# Generous per-step limits: a CUDA torch is several GB, a llama.cpp CUDA build takes many
# minutes on few cores; a hung network is still caught eventually.
TIMEOUT_CREATE = 600.0
TIMEOUT_INSTALL = 3600.0
TIMEOUT_TORCH = 7200.0
TIMEOUT_LLAMA = 7200.0
TIMEOUT_CHECK = 300.0

BACKUP_TAG = ".venvsel-backup-"
JOURNAL_SUFFIX = ".journal.json"


@dataclass(frozen=True)
class RepairRequest:
    """What the user asked for on the command line."""

    env: str | None
    backend: str = "auto"
    index_url: str | None = None
    find_links: str | None = None
    rebuild: bool = False
    python: str | None = None
    with_llama: bool | None = None  # None: on when the env has llama and the backend is CUDA
    installer: str = "auto"  # auto | pip | uv
    dry_run: bool = False
    yes: bool = False
    discard_backup: bool = False
    recover: bool = False
    probe_timeout: float | None = None


@dataclass(frozen=True)
class Step:
    """One numbered step: a command (``argv``) or something venvsel does itself (``action``)."""

    key: StepKind
    title: str
    argv: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()  # variables set for the command
    unset: tuple[str, ...] = ()  # variables removed for the command
    action: str = ""  # shown instead of a command for steps venvsel does itself
    timeout: float = TIMEOUT_INSTALL
    fatal: bool = True  # a failure rolls everything back (False: noted, repair goes on)
    state: RepairState = "installing"  # what the journal says while it runs

    def command(self) -> str:
        """The step as one shell line a user could paste (shell-quoted with shlex)."""
        if not self.argv:
            return self.action
        sets = [f"{k}={v}" for k, v in self.env]
        if self.unset:
            words = ["env"] + [w for name in self.unset for w in ("-u", name)]
            return shlex.join([*words, *sets, *self.argv])
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env)
        return (prefix + " " if prefix else "") + shlex.join(self.argv)


@dataclass(frozen=True)
class Expect:
    """What verification demands of the repaired env."""

    torch_cuda: str | None  # the CUDA version torch.version.cuda must report; None: CPU build
    kernel: bool  # a CUDA kernel must really run (a GPU machine asking for CUDA)
    torch_version: str | None = None  # the public torch version asked for
    # "gpu": llama_supports_gpu_offload() (a GPU is visible); "cuda-build": imports and ships
    # libggml-cuda (no GPU here, so offload cannot be confirmed); "import"; "": not checked
    llama: LlamaCheck = ""
    packages: tuple[tuple[str, str], ...] = ()  # the user's other packages (rebuild)
    # torch left alone (it already meets the backend): it must still be this version, and
    # still run a kernel when it did before
    torch_kept: str | None = None
    kernel_kept: bool = False

    def describe(self) -> str:
        if self.torch_kept:
            what = f"torch {self.torch_kept} is still there" + (
                " and still runs a CUDA kernel" if self.kernel_kept else "")
        elif self.torch_cuda is None:
            what = "torch imports and is a CPU build"
        elif self.kernel:
            what = f"torch is a CUDA {self.torch_cuda} build and a CUDA kernel runs on the GPU"
        else:
            what = (f"torch is a CUDA {self.torch_cuda} build (there is no usable GPU here, "
                    "so that is all a probe can confirm)")
        if self.llama == "gpu":
            what += "; llama_supports_gpu_offload() is True"
        elif self.llama == "cuda-build":
            what += "; llama_cpp imports and its lib has the CUDA backend"
        elif self.llama == "import":
            what += "; llama_cpp imports"
        if self.packages:
            what += f"; your {len(self.packages)} other packages are installed"
        return what


@dataclass(frozen=True)
class Plan:
    id: str
    env_path: str
    label: str
    mode: Mode
    backend: Backend
    reason: str  # why this mode
    steps: tuple[Step, ...] = ()
    installer: Installer = "pip"
    base_python: str | None = None  # rebuild: the interpreter the fresh env is made from
    backup_path: str = ""
    run_dir: str = ""  # working files (requirements) and the journal live here
    torch: FamilyPins | None = None
    llama: str | None = None  # "llama-cpp-python==0.3.36" when reinstalled
    llama_cuda: bool = False
    packages: tuple[str, ...] = ()  # the user's other packages, pinned (rebuild)
    skipped: tuple[tuple[str, str], ...] = ()  # (package, why it is not reinstalled as is)
    files: tuple[tuple[str, str], ...] = ()  # (path, text) written before the steps run
    copies: tuple[tuple[str, str], ...] = ()  # (file in the backup, destination): .pth files
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    blockers: tuple[str, ...] = ()  # reasons the plan must not run as it stands
    expect: Expect | None = None

    @property
    def journal_path(self) -> str:
        """The journal copy next to the backup (the other one is in the cache dir)."""
        return self.backup_path + JOURNAL_SUFFIX

    def render(self) -> str:
        if self.mode == "none":
            return f"Nothing to repair: {self.reason}"
        lines = [f"Plan for {self.label} ({self.mode}: {self.reason}):",
                 f"  Backend: {self.backend.reason}"]
        lines += [f"  Warning: {w}" for w in self.warnings]
        if self.torch is not None:
            lines.append(f"  PyTorch: {self.torch.note}")
        for i, step in enumerate(self.steps, 1):
            lines.append(f"  {i}. {step.title}")
            lines.append(f"       {step.command()}")
        if self.packages:
            lines.append(f"  Reinstalled as they were ({len(self.packages)}): "
                         + ", ".join(self.packages))
        if self.skipped:
            lines.append("  Not copied from the old env:")
            lines += [f"    - {name}: {why}" for name, why in self.skipped]
        lines += [f"  Note: {note}" for note in self.notes]
        if self.expect is not None:
            lines.append(f"  Success means: {self.expect.describe()}.")
        lines.append(f"  On any failure, Ctrl-C or SIGTERM the env is put back from "
                     f"{self.backup_path}, exactly as it was.")
        lines += [f"  Cannot run: {b}" for b in self.blockers]
        if self.torch is not None and self.torch.unreachable:
            lines.append(f"  Cannot run: {self.torch.unreachable}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- the env's packages


@dataclass(frozen=True)
class Installed:
    name: str  # canonical
    version: str
    direct_url: dict[str, object] | None = None
    egg: bool = False  # a legacy .egg-info / .egg-link install


def _sorted_entries(path: str) -> list[str]:
    """A site-packages dir's entries, sorted; none when it cannot be listed."""
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def installed_distributions(site_packages: tuple[str, ...]) -> list[Installed]:
    """Every distribution in the env's own site-packages, with its ``direct_url.json``."""

    found: dict[str, Installed] = {}
    for full, suffix, meta in metadata_files(site_packages):
        name, version = read_metadata(meta)
        if not name or not version:
            continue
        if suffix == ".egg-info":
            found.setdefault(canonicalize_name(name),
                             Installed(canonicalize_name(name), version, egg=True))
            continue
        direct = None
        with contextlib.suppress(OSError, ValueError):
            with open(os.path.join(full, "direct_url.json"), encoding="utf-8") as f:
                loaded = json.load(f)
            direct = loaded if isinstance(loaded, dict) else None
        found.setdefault(canonicalize_name(name),
                         Installed(canonicalize_name(name), version, direct))
    return sorted(found.values(), key=lambda d: d.name)


def _url_requirement(dist: Installed) -> tuple[str | None, str]:
    """``name @ file:///...whl`` when a URL install can be repeated; else None and why not."""
    direct = dist.direct_url or {}
    url = str(direct.get("url", ""))
    dir_info = direct.get("dir_info")
    if isinstance(dir_info, dict) and dir_info.get("editable"):
        return None, (f"editable install of {url}: reinstall it yourself "
                      f"(pip install -e {_path_of(url)})")
    if "vcs_info" in direct:
        return None, f"installed from {url} (version control): reinstall it yourself"
    if url.startswith("file://") and os.path.isfile(_path_of(url)):
        return f"{dist.name} @ {url}", ""
    return None, f"installed from {url}, which cannot be fetched again as it was"


def _path_of(url: str) -> str:
    return unquote(urlparse(url).path) if url.startswith("file:") else url


def user_pth_files(site_packages: tuple[str, ...]) -> list[str]:
    """``.pth`` files no installed package owns (none lists them in its RECORD): the user's
    own path settings, which a reinstall of the packages would not bring back."""
    owned: set[str] = set()
    found: list[str] = []
    for sp in site_packages:
        entries = _sorted_entries(sp)
        for entry in entries:
            if entry.endswith(".dist-info"):
                record = os.path.join(sp, entry, "RECORD")
                with contextlib.suppress(OSError), open(record, encoding="utf-8") as f:
                    for line in f:
                        path = line.split(",", 1)[0]
                        if path.endswith(".pth") and "/" not in path:
                            owned.add(path)
        found += [os.path.join(sp, e) for e in entries
                  if e.endswith(".pth") and os.path.isfile(os.path.join(sp, e))]
    return [p for p in found if os.path.basename(p) not in owned]


def split_packages(installed: list[Installed]) -> tuple[list[str], list[tuple[str, str]]]:
    """The user's packages to reinstall exactly (``name==version``) and those skipped, why."""
    keep: list[str] = []
    skipped: list[tuple[str, str]] = []
    for dist in installed:
        if dist.name in FAMILY:
            skipped.append((f"{dist.name} {dist.version}", "installed from the chosen backend"))
        elif is_follower(dist.name):
            skipped.append((f"{dist.name} {dist.version}",
                            "a CUDA runtime wheel: follows the new torch build"))
        elif dist.name == LLAMA:
            continue  # its own step
        elif dist.name == "pip":
            continue  # the fresh env has its own
        elif dist.egg:
            skipped.append((f"{dist.name} {dist.version}",
                            "a legacy egg install: reinstall it yourself"))
        elif dist.direct_url:
            req, why = _url_requirement(dist)
            if req:
                keep.append(req)
            else:
                skipped.append((f"{dist.name} {dist.version}", why))
        else:
            keep.append(f"{dist.name}=={dist.version}")
    return keep, skipped


# --------------------------------------------------------------------------- helpers


def new_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"


def backup_path_for(env_path: str, stamp: str) -> str:
    """``<env>.venvsel-backup-<stamp>``, a sibling: same filesystem, so os.rename is atomic."""
    base = f"{env_path.rstrip(os.sep)}{BACKUP_TAG}{stamp}"
    path, n = base, 1
    while os.path.lexists(path) or os.path.lexists(path + JOURNAL_SUFFIX):
        n += 1
        path = f"{base}-{n}"
    return path


def env_python(env: Env) -> str:
    if env.layout == "windows":
        return os.path.join(env.path, "Scripts", "python.exe")
    return os.path.join(env.path, "bin", "python")


def python_version_of(python: str) -> str:
    """``"3.11.7"`` by asking the interpreter (one short spawn); UsageError if it won't run."""
    code = "import sys; print('%d.%d.%d' % sys.version_info[:3])"
    try:
        done = proc.run([python, "-B", "-E", "-s", "-c", code], timeout=30, env=proc.clean_env())
    except OSError as exc:
        raise UsageError(f"cannot run {python}: {exc.strerror or exc}") from None
    out = done.stdout.decode("ascii", "replace").strip()
    if done.returncode != 0 or not out:
        raise UsageError(f"{python} does not run: {done.stderr_tail(2) or done.returncode}")
    return out


def base_interpreter(env: Env, static: StaticInfo, python: str | None) -> str:
    """The interpreter a fresh env is made from: ``--python``, else the one pyvenv.cfg names."""

    if python:
        found = python if os.sep in python else shutil.which(python)
        if not found or not os.path.exists(found):
            raise UsageError(f"--python {python}: no such interpreter")
        return os.path.abspath(found)
    cfg = read_pyvenv_cfg(env.path) or {}
    cands = [cfg.get("base-executable"), cfg.get("executable")]
    home = static.home or cfg.get("home")
    if home:
        short = ".".join((static.python_version or "").split(".")[:2])
        exe = ".exe" if env.layout == "windows" else ""
        cands += [os.path.join(home, f"python{short}{exe}") if short else None,
                  os.path.join(home, f"python3{exe}"), os.path.join(home, f"python{exe}")]
    for cand in cands:
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    named = home or "unknown"
    raise UsageError(
        f"the base Python of {env.shown_path or env.path} ({named}) is gone, so the env "
        "cannot be recreated from it.",
        hint="Pass --python PATH (an interpreter of the same version, e.g. from pyenv).",
    )


class _Installer:
    """Builds pip or uv command lines for one target interpreter."""

    def __init__(self, kind: Installer, python: str, uv: str | None) -> None:
        self.kind = kind
        self.python = python
        self.uv = uv

    def install(self, *args: str, strict: bool = False) -> tuple[str, ...]:
        if self.kind == "uv":
            assert self.uv is not None
            mapped = [{"--force-reinstall": "--reinstall", "--no-cache-dir": "--no-cache"}.get(a, a)
                      for a in args]
            extra = ["--no-config"] if strict else []
            return (self.uv, "pip", "install", "--python", self.python, *extra, *mapped)
        return (self.python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                "--progress-bar", "off", *args)

    def check(self) -> tuple[str, ...]:
        if self.kind == "uv":
            assert self.uv is not None
            return (self.uv, "pip", "check", "--python", self.python)
        return (self.python, "-m", "pip", "check", "--disable-pip-version-check")


def _choose_installer(
    wanted: str, static: StaticInfo, mode: Mode,
) -> tuple[Installer, str | None]:
    uv = shutil.which("uv")
    wanted = (wanted or "auto").lower()
    if wanted not in ("auto", "pip", "uv"):
        raise UsageError(f"--installer {wanted}: expected auto, pip or uv")
    if wanted == "uv":
        if not uv:
            raise UsageError("--installer uv: uv is not on PATH",
                             hint="Install uv, or use --installer pip.")
        return "uv", uv
    if wanted == "pip":
        return "pip", None
    has_pip = static.dist_version("pip") is not None
    if mode == "in-place" and not has_pip and uv:
        return "uv", uv  # a uv-made env without pip: let uv install into it
    return "pip", None


def _listing_pythons(
    mode: Mode, env: Env, static: StaticInfo, base: str | None, pyver: str | None
) -> list[tuple[str, str | None]]:
    short = ".".join(pyver.split(".")[:2]) if pyver else None
    out: list[tuple[str, str | None]] = []
    if mode == "in-place" and env.interpreter and static.dist_version("pip"):
        out.append((env.interpreter, None))
    if mode == "rebuild" and base:
        out.append((base, None))
    if short and not any(p == sys.executable for p, _ in out):
        out.append((sys.executable, short))
    return out


# --------------------------------------------------------------------------- making the plan


def choose_mode(req: RepairRequest, diag: Diagnosis) -> tuple[Mode, str]:
    if diag.rebuild_needed:
        first = next(f for f in diag.findings if f.rebuild)
        return "rebuild", f"the env is broken: {first.text.rstrip('.')}"
    if req.rebuild:
        return "rebuild", "asked for (--rebuild)"
    if req.python:
        return "rebuild", f"a fresh env from --python {req.python}"
    if diag.torch_needed and diag.llama_needed:
        return "in-place", "swap the PyTorch family and rebuild llama-cpp-python"
    if diag.torch_needed:
        return "in-place", "swap the PyTorch family"
    if diag.llama_needed and req.with_llama is not False:
        return "in-place", "rebuild llama-cpp-python"
    if req.with_llama and diag.static.llama is not None:
        return "in-place", "rebuild llama-cpp-python (--with-llama)"
    return "none", "nothing found that the chosen backend would change."


def make_plan(req: RepairRequest, diag: Diagnosis, backend: Backend) -> Plan:
    """The steps that turn ``diag.env`` into an env that meets ``backend``. Spawns only to
    list the torch versions the source offers (and to ask ``--python`` its version).

    The parts, in order: the mode and its refusals, the interpreter a rebuild starts from,
    the steps that keep the original safe (move aside, or snapshot) and bring the user's
    packages back, the PyTorch family, llama-cpp-python, the checks, and what success means.
    """

    env = diag.env
    mode, why = choose_mode(req, diag)
    if mode == "none":
        return Plan("", env.path, diag.label, mode, backend, why)
    _refuse_rebuild(mode, diag)

    rid = new_id()
    draft = _Draft()
    if backend.warning:
        draft.warnings.append(backend.warning)
    base, pyver = _rebuild_base(req, diag, mode, draft) if mode == "rebuild" \
        else (None, diag.static.python_version)
    installer_kind, uv = _choose_installer(req.installer, diag.static, mode)
    target_python = env_python(env) if mode == "rebuild" else (env.interpreter or env_python(env))
    t = _Target(req, diag, backend, mode,
                backup=backup_path_for(env.path, rid.rsplit("-", 1)[0]),
                run_dir=str(cache_dir() / "repair" / rid), base=base, pyver=pyver,
                installer=installer_kind, inst=_Installer(installer_kind, target_python, uv),
                python=target_python)

    if mode == "rebuild":
        _add_rebuild_steps(t, draft)
    else:
        _add_snapshot_steps(t, draft)
    torch_pins = _add_torch_steps(t, draft) if t.torch_wanted else None
    llama_req, llama_cuda = _add_llama_steps(t, draft)
    _add_check_steps(t, draft)
    expect = _expectation(t, torch_pins, llama_req, llama_cuda, draft.packages)
    if not t.torch_wanted:
        draft.notes.append("torch is left as it is.")
    return Plan(
        id=rid, env_path=env.path, label=diag.label, mode=mode, backend=backend, reason=why,
        steps=tuple(draft.steps), installer=installer_kind, base_python=base,
        backup_path=t.backup, run_dir=t.run_dir, torch=torch_pins, llama=llama_req,
        llama_cuda=llama_cuda, packages=tuple(draft.packages), skipped=tuple(draft.skipped),
        files=tuple(draft.files), copies=tuple(draft.copies), notes=tuple(draft.notes),
        warnings=tuple(draft.warnings), blockers=tuple(draft.blockers), expect=expect,
    )


@dataclass
class _Draft:
    """A plan being made: what each part of :func:`make_plan` adds, in order."""

    steps: list[Step] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)
    copies: list[tuple[str, str]] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Target:
    """What every part of a plan works from: the request, the env and how it is reached."""

    req: RepairRequest
    diag: Diagnosis
    backend: Backend
    mode: Mode
    backup: str
    run_dir: str
    base: str | None  # rebuild: the interpreter the fresh env is made from
    pyver: str | None  # the Python version the env will have
    installer: Installer
    inst: _Installer
    python: str  # the env's python that the installer targets

    @property
    def torch_wanted(self) -> bool:
        return self.mode == "rebuild" or self.diag.torch_needed


def _refuse_rebuild(mode: Mode, diag: Diagnosis) -> None:
    """A conda env, or the env venvsel runs from, is never rebuilt (exit 2)."""
    if mode == "rebuild" and diag.env.kind == "conda":
        raise UsageError(f"{diag.label} is a conda env; venvsel rebuilds virtualenvs only.",
                         hint="Recreate it with conda, or repair in place without --rebuild.")

    if mode == "rebuild" and os.path.realpath(sys.prefix) == diag.env.path:
        raise UsageError(f"venvsel itself runs from {diag.label}, so it cannot rebuild it.",
                         hint="Run venvsel from another env (e.g. installed with pipx).")


def _rebuild_base(req: RepairRequest, diag: Diagnosis, mode: Mode,
                  draft: _Draft) -> tuple[str, str]:
    """The interpreter a rebuild starts from and its version (a warning when it differs)."""
    pyver = diag.static.python_version
    base = base_interpreter(diag.env, diag.static, req.python)
    new_ver = python_version_of(base)
    if pyver and new_ver.split(".")[:2] != pyver.split(".")[:2]:
        draft.warnings.append(
            f"the env was Python {pyver}; {base} is Python {new_ver}: your packages are "
            "reinstalled for the new version and may not all exist for it.")
    return base, new_ver


def _add_rebuild_steps(t: _Target, draft: _Draft) -> None:
    """Move the env aside, create a fresh one, reinstall the user's packages and .pth files."""

    env, static = t.diag.env, t.diag.static
    draft.steps.append(Step("move", "Move the env aside (an atomic rename; renamed back on any "
                            "failure)", action=shlex.join(["mv", env.path, t.backup]),
                            state="moving"))
    cfg = read_pyvenv_cfg(env.path) or {}
    argv = [sys.executable, "-m", "virtualenv", "--no-periodic-update", "-p", t.base or ""]
    if static.include_system_site_packages:
        argv.append("--system-site-packages")
    if cfg.get("prompt"):
        argv += ["--prompt", cfg["prompt"]]
    argv.append(env.path)
    draft.steps.append(Step("create", f"Create a fresh env with virtualenv from {t.base}",
                            tuple(argv), timeout=TIMEOUT_CREATE, state="creating"))
    site = env.site_packages or find_site_packages(env.path, env.layout)
    packages, skipped = split_packages(installed_distributions(site))
    draft.packages += packages
    draft.skipped += skipped
    if static.include_system_site_packages:
        draft.notes.append("the env also sees its base Python's packages "
                           "(include-system-site-packages); those are not copied.")
    if packages:
        req_file = os.path.join(t.run_dir, "requirements.txt")
        draft.files.append((req_file, "\n".join(packages) + "\n"))
        draft.steps.append(Step(
            "install-others",
            f"Reinstall your {len(packages)} other packages at their versions "
            "(--no-deps: the list is already complete)",
            t.inst.install("--no-deps", "-r", req_file)))
    _add_pth_copies(t, draft, user_pth_files(site))


def _add_pth_copies(t: _Target, draft: _Draft, pth: list[str]) -> None:
    """Copy the user's own .pth files from the backup into the fresh env's site-packages."""
    if not pth:
        return
    env = t.diag.env
    short = ".".join((t.pyver or "").split(".")[:2])
    new_site = (os.path.join(env.path, "Lib", "site-packages") if env.layout == "windows"
                else os.path.join(env.path, "lib", f"python{short}", "site-packages"))
    draft.copies += [(os.path.join(t.backup, os.path.relpath(p, env.path)),
                      os.path.join(new_site, os.path.basename(p))) for p in pth]
    draft.steps.append(Step(
        "copy-pth",
        "Copy your own .pth files (no package installs them): "
        + ", ".join(os.path.basename(p) for p in pth),
        action=shlex.join(["cp", "-p", *(src for src, _ in draft.copies), new_site])))


def _add_snapshot_steps(t: _Target, draft: _Draft) -> None:
    """In place: snapshot the env first; give it a pip when it has none and pip installs."""
    draft.steps.append(Step("snapshot", "Snapshot the env (a full copy; put back on any failure)",
                            action=shlex.join(["cp", "-a", t.diag.env.path, t.backup]),
                            state="snapshotting"))
    if t.installer == "pip" and t.diag.static.dist_version("pip") is None:
        draft.steps.append(Step("ensurepip", "Give the env its own pip (it was made without one)",
                                (t.python, "-m", "ensurepip", "--default-pip"),
                                timeout=TIMEOUT_CREATE))


def _add_torch_steps(t: _Target, draft: _Draft) -> FamilyPins:
    """Install the PyTorch family from the backend's source alone, then what it depends on."""

    static, backend = t.diag.static, t.backend
    have = {n: v for n in FAMILY if (v := static.dist_version(n))}
    listing = list_versions(_listing_pythons(t.mode, t.diag.env, static, t.base, t.pyver),
                            backend.source)
    torch_pins = family_pins(have, listing, backend)
    if torch_pins.warning:
        draft.warnings.append(torch_pins.warning)
    sets, unset = strict_env(t.installer)
    force = ("--force-reinstall",) if t.mode == "in-place" else ()
    draft.steps.append(Step(
        "install-torch",
        f"Install the PyTorch family from {backend.source.describe()} alone "
        "(no other source can substitute a different build)",
        t.inst.install(*force, "--no-deps", *backend.source.strict_args(),
                       *torch_pins.requirements, strict=True),
        env=sets, unset=unset, timeout=TIMEOUT_TORCH))
    draft.steps.append(Step(
        "install-torch-deps",
        "Install what that torch build depends on "
        f"({'nvidia-*, triton, ...' if backend.is_cuda else 'sympy, networkx, ...'}) "
        f"with your {t.installer} configuration",
        t.inst.install(*backend.source.extra_args(), *torch_pins.requirements),
        timeout=TIMEOUT_TORCH))
    return torch_pins


def _add_llama_steps(t: _Target, draft: _Draft) -> tuple[str | None, bool]:
    """Rebuild llama-cpp-python with CUDA, or reinstall it as it was on a rebuild; its
    requirement (None: the env has none) and whether it is built with CUDA."""
    req, static, backend = t.req, t.diag.static, t.backend
    if static.llama is None:
        if req.with_llama:
            draft.notes.append("--with-llama: this env has no llama-cpp-python; nothing to "
                               "rebuild.")
        return None, False
    llama_req = f"{LLAMA}=={static.llama.version}"
    default = backend.is_cuda and (t.mode == "rebuild" or t.diag.llama_needed)
    llama_cuda = backend.is_cuda and (req.with_llama if req.with_llama is not None else default)
    if req.with_llama and not backend.is_cuda:
        draft.notes.append("--with-llama has no effect with --backend cpu.")
    if llama_cuda:
        _add_llama_cuda_build(t, draft, llama_req)
    elif t.mode == "rebuild":
        draft.steps.append(Step("install-llama", f"Reinstall {llama_req} as it was built before",
                                t.inst.install("--no-deps", llama_req), timeout=TIMEOUT_LLAMA))
        if backend.is_cuda and static.llama.backends:
            draft.notes.append("llama-cpp-python is reinstalled without CUDA flags "
                               "(--no-llama): pip may reuse a cached build.")
    elif req.with_llama is False and t.diag.llama_needed:
        draft.notes.append("llama-cpp-python stays a CPU-only build (--no-llama).")
    return llama_req, llama_cuda


def _add_llama_cuda_build(t: _Target, draft: _Draft, llama_req: str) -> None:
    """Build llama-cpp-python from source with CUDA for this machine's GPUs (needs nvcc)."""

    cmake = ["-DGGML_CUDA=on"]
    archs = cuda_architectures(t.diag.machine)
    if archs:
        cmake.append(f"-DCMAKE_CUDA_ARCHITECTURES={archs}")
    benv = [("CMAKE_ARGS", " ".join(cmake)), ("FORCE_CMAKE", "1"),
            ("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))]
    nvcc = find_nvcc()
    if nvcc is None:
        draft.blockers.append("a CUDA build of llama-cpp-python needs nvcc (the CUDA "
                              "toolkit), and none was found; install it, or pass --no-llama.")
    elif not shutil.which("nvcc"):
        benv.append(("CUDACXX", nvcc))
    # --no-binary: a CPU wheel (in --find-links, on an index or in pip's cache) must
    # never stand in for the build; the source given with --find-links/--index-url is
    # searched too (an offline machine has the sdist in a wheel folder).
    draft.steps.append(Step(
        "build-llama",
        f"Rebuild {llama_req} with CUDA (from source, no cached CPU wheel)",
        t.inst.install("--no-binary", LLAMA, *t.backend.source.extra_args(),
                       "--force-reinstall", "--no-cache-dir", "--no-deps", llama_req),
        env=tuple(benv), timeout=TIMEOUT_LLAMA))


def _add_check_steps(t: _Target, draft: _Draft) -> None:
    """The installer's requirement check (a report), then a live probe of the env."""

    draft.steps.append(Step("check", "Check that installed packages' requirements agree (a "
                            "report; not fatal)", t.inst.check(), timeout=TIMEOUT_CHECK,
                            fatal=False, state="verifying"))
    probe_argv = [t.python, "-B", "-E", "-s", str(CHILD)]
    draft.steps.append(Step("verify", "Verify with a live probe of the env's own python",
                            action=f"(venvsel) {shlex.join(probe_argv)}", state="verifying"))


def _expectation(t: _Target, torch_pins: FamilyPins | None, llama_req: str | None,
                 llama_cuda: bool, packages: list[str]) -> Expect:
    """What verification demands of the repaired env."""

    machine, static, backend = t.diag.machine, t.diag.static, t.backend
    gpu_here = bool(machine.gpus) and machine.has_driver and not hides_all_gpus(machine)
    llama_check: LlamaCheck
    if llama_cuda:
        llama_check = "gpu" if gpu_here else "cuda-build"
    else:
        llama_check = "import" if llama_req and t.mode == "rebuild" else ""
    probe = t.diag.probe if t.diag.probe is not None and t.diag.probe.ok else None
    kept = None
    if not t.torch_wanted:
        kept = (probe.torch_version if probe is not None else None) or (
            static.torch.version if static.torch else None)
    return Expect(
        torch_cuda=backend.cuda,
        kernel=backend.is_cuda and gpu_here,
        torch_version=None if torch_pins is None or not torch_pins.torch_version
        else torch_pins.torch_version.split("+")[0],
        llama=llama_check,
        packages=tuple(_name_version(p) for p in packages),
        torch_kept=kept,
        kernel_kept=bool(kept and probe is not None and probe.kernel_ok and gpu_here),
    )


def _name_version(requirement: str) -> tuple[str, str]:
    if " @ " in requirement:
        return requirement.split(" @ ", 1)[0], ""
    name, _, version = requirement.partition("==")
    return name, version


__all__ = [
    "DOES_ITSELF",
    "Expect",
    "Installed",
    "Plan",
    "RepairRequest",
    "RepairState",
    "Step",
    "StepKind",
    "backup_path_for",
    "base_interpreter",
    "choose_mode",
    "installed_distributions",
    "make_plan",
    "split_packages",
    "user_pth_files",
]
