"""Real environments for the tests, built once and cached between runs.

Expensive envs (torch CPU, torch CUDA build, llama-cpp-python CPU build) are built into
``$VENVSEL_TEST_CACHE`` (default ``~/.cache/venvsel-tests``) under a directory named by the
sha256 of the spec that built them, so a changed spec builds a new one and the second run
is fast. Building is guarded by a file lock (several pytest processes may ask at once) and a
completion marker (an interrupted build is thrown away and redone).

Nothing here mocks anything: these are real interpreters with real packages.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

MARKER = ".venvsel-test-complete"

# Captured at import, before any test fixture changes HOME or PYENV_ROOT.
REAL_HOME = Path(os.path.expanduser("~"))
PYENV_ROOT = Path(os.environ.get("PYENV_ROOT") or REAL_HOME / ".pyenv")
PIP_CACHE_DIR = os.environ.get("PIP_CACHE_DIR") or str(REAL_HOME / ".cache" / "pip")
CACHE_ROOT = Path(os.environ.get("VENVSEL_TEST_CACHE") or REAL_HOME / ".cache" / "venvsel-tests")

def _wheel_python() -> str:
    """The interpreter this machine's local torch wheels are built for (cp311): the running
    one when it is 3.11, else pyenv's 3.11 (``test.sh --lowest`` runs venvsel on 3.9)."""
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    found = sorted((PYENV_ROOT / "versions").glob("3.11*/bin/python3.11"))
    return str(found[-1]) if found else sys.executable


# Target envs that repair tests plan torch for are made from this interpreter.
WHEEL_PYTHON = _wheel_python()


def python_facts(exe: str) -> tuple[str, str, str]:
    """(version, implementation, "X.Y") of the interpreter ``exe``, asked by running it."""
    code = ("import platform, sys; print(platform.python_version());"
            "print(platform.python_implementation()); print('%d.%d' % sys.version_info[:2])")
    out = subprocess.run([exe, "-c", code], capture_output=True, text=True, check=True,
                         env=tool_env()).stdout.split()
    return out[0], out[1], out[2]

# Versions pinned so the cache key (and what the tests assert) is stable.
TORCH_CPU = "torch==2.13.0"  # the CPU build that lies on this machine's disk
TORCH_CUDA = "torch==2.14.1"  # resolves to the multi-GB CUDA build (no driver here)
LLAMA = "llama-cpp-python==0.3.36"  # built from source, CPU only (pip caches the wheel)


@dataclass(frozen=True)
class EnvSpec:
    """How to build one env. Everything that changes the result is part of the key."""

    name: str
    python: str = sys.executable  # base interpreter
    packages: tuple[str, ...] = ()
    creator: str = "virtualenv"  # "virtualenv" | "venv" | "manual" (pyvenv.cfg + symlink only)
    extra_env: tuple[tuple[str, str], ...] = ()
    pip_args: tuple[str, ...] = field(default=())

    def key(self) -> str:
        real = os.path.realpath(self.python)
        blob = json.dumps({**asdict(self), "python": real}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def pyenv_interpreters() -> dict[str, Path]:
    """{"3.11": Path(.../bin/python3.11), "2.7": ...} for the pyenv versions present."""
    found: dict[str, Path] = {}
    versions = PYENV_ROOT / "versions"
    if not versions.is_dir():
        return found
    for d in sorted(versions.iterdir()):
        parts = d.name.split(".")
        if len(parts) < 2 or not parts[0].isdigit():
            continue
        short = f"{parts[0]}.{parts[1]}"
        exe = d / "bin" / f"python{short}"
        if exe.exists():
            found[short] = exe
    return found


def _run(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"building a test env failed: {' '.join(argv)}\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )


# The warning filter the tests give venvsel's own processes (tests/conftest.py); the
# third-party tools that build test envs (virtualenv, pip, uv, ...) run without it.
VENVSEL_WARNINGS = "error::DeprecationWarning"


def tool_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a third-party tool a test runs: no venvsel-only settings, no
    active env, no PYTHONPATH/PYTHONHOME, no warning filter of ours."""
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONWARNINGS")
    return {k: v for k, v in (os.environ if base is None else base).items() if k not in drop}


def create_env(spec: EnvSpec, dest: Path) -> Path:
    """Create the env described by ``spec`` at ``dest`` (no caching): a real env on disk."""
    env = tool_env()
    env["PIP_CACHE_DIR"] = PIP_CACHE_DIR
    env["HOME"] = str(REAL_HOME)
    env.update(dict(spec.extra_env))
    if spec.creator == "virtualenv":
        _run(
            [
                sys.executable,
                "-m",
                "virtualenv",
                "-q",
                "--no-periodic-update",
                "-p",
                spec.python,
                str(dest),
            ],
            env,
        )
    elif spec.creator == "venv":
        _run([spec.python, "-m", "venv", "--without-pip", str(dest)], env)
    elif spec.creator == "manual":
        make_manual_env(Path(spec.python), dest)
    else:
        raise ValueError(spec.creator)
    if spec.packages:
        py = dest / "bin" / "python"
        # A venv made --without-pip gets its packages from this interpreter's pip (--python):
        # nothing but the packages asked for lands in it.
        pip = ([sys.executable, "-m", "pip", "--python", str(py)] if spec.creator == "venv"
               else [str(py), "-m", "pip"])
        _run(
            [
                *pip,
                "install",
                "-q",
                "--disable-pip-version-check",
                *spec.pip_args,
                *spec.packages,
            ],
            env,
        )
    return dest


def make_manual_env(base_python: Path, dest: Path, version: str | None = None) -> Path:
    """The minimal venv layout by hand: pyvenv.cfg and bin/python -> base (for 2.7 and such)."""
    (dest / "bin").mkdir(parents=True)
    os.symlink(base_python, dest / "bin" / "python")
    if version is None:
        out = subprocess.run(
            [str(base_python), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        version = out
    short = ".".join(version.split(".")[:2])
    (dest / "lib" / f"python{short}" / "site-packages").mkdir(parents=True)
    (dest / "pyvenv.cfg").write_text(
        f"home = {base_python.parent}\ninclude-system-site-packages = false\nversion = {version}\n"
    )
    return dest


def cached_env(spec: EnvSpec) -> Path:
    """The env for ``spec``, built once into the test cache and reused afterwards."""
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    dest = CACHE_ROOT / f"{spec.name}-{spec.key()}"
    with FileLock(str(dest) + ".lock", timeout=3600):
        if (dest / MARKER).exists():
            return dest
        if dest.exists():
            shutil.rmtree(dest)
        create_env(spec, dest)
        (dest / MARKER).write_text(json.dumps(asdict(spec)))
    return dest


def seed_project() -> Path:
    """The seed's layout, built once: a project dir with .venv, .venv-gpu and .venv310.

    .venv     CPU-only torch and CPU-only llama-cpp-python (the env that fooled the team)
    .venv-gpu no torch at all
    .venv310  a CUDA build of torch (on this GPU-less machine: "CUDA build, no driver").
              Built from the default python: the CUDA wheel lies on local disk only for 3.11.
    """
    specs = {
        ".venv": EnvSpec("seed-venv", packages=(TORCH_CPU, LLAMA)),
        ".venv-gpu": EnvSpec("seed-venv-gpu"),
        ".venv310": EnvSpec("seed-venv310", packages=(TORCH_CUDA,)),
    }
    key = hashlib.sha256("".join(s.key() for s in specs.values()).encode()).hexdigest()[:12]
    root = CACHE_ROOT / f"seed-project-{key}"
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root) + ".lock", timeout=7200):
        if (root / MARKER).exists():
            return root
        if root.exists():
            shutil.rmtree(root)
        root.mkdir()
        for name, spec in specs.items():
            create_env(spec, root / name)
        (root / MARKER).write_text("ok")
    return root


def llama_cpp_scripts() -> Path:
    """llama.cpp's ``scripts/`` and ``requirements/`` from the llama-cpp-python sdist the
    seed builds from (``vendor/llama.cpp/``), fetched once with pip's own client, plus
    ``tools/llama-bench/llama-bench.cpp``. Returns the extracted ``vendor/llama.cpp`` dir."""
    import tarfile

    version = LLAMA.split("==")[1]
    dest = CACHE_ROOT / f"llama-cpp-python-{version}-scripts"
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest) + ".lock", timeout=3600):
        if (dest / MARKER).exists():
            return dest / "llama.cpp"
        if dest.exists():
            shutil.rmtree(dest)
        dl = dest / "sdist"
        dl.mkdir(parents=True)
        env = {**tool_env(), "PIP_CACHE_DIR": PIP_CACHE_DIR, "HOME": str(REAL_HOME)}
        _run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
              "--no-deps", "--no-binary", ":all:", LLAMA, "-d", str(dl)], env)
        (sdist,) = dl.glob("*.tar.gz")
        prefix = f"llama_cpp_python-{version}/vendor/llama.cpp/"
        wanted = ("scripts/", "requirements/", "tools/llama-bench/")
        with tarfile.open(sdist) as tf:
            members = []
            for m in tf.getmembers():
                rel = m.name[len(prefix):] if m.name.startswith(prefix) else ""
                if rel.startswith(wanted) and (m.isfile() or m.isdir()):
                    m.name = "llama.cpp/" + rel
                    members.append(m)
            # The "data" filter where tarfile has it (3.12+ warns without a filter).
            safe: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tf.extractall(dest, members=members, **safe)
        shutil.rmtree(dl)
        (dest / MARKER).write_text("ok")
    return dest / "llama.cpp"


def compare_llama_bench_env() -> Path:
    """An env with what llama.cpp's ``scripts/compare-llama-bench.py`` needs, installed from
    its own requirements file (tabulate, GitPython)."""
    src = llama_cpp_scripts()
    req = src / "requirements" / "requirements-compare-llama-bench.txt"
    pkgs = tuple(ln.strip() for ln in req.read_text().splitlines()
                 if ln.strip() and not ln.startswith("#"))
    return cached_env(EnvSpec("compare-llama-bench", packages=pkgs))
