"""Static inspection: what an env holds, read from its files alone (no interpreter starts).

Sources, cheapest first: ``pyvenv.cfg`` (version, implementation, home, uv), ``conda-meta/``
(the exact python version of a conda env), ``include/pythonX.Y/patchlevel.h`` and the
``lib/pythonX.Y`` dir name; ``*.dist-info/METADATA`` and ``*.egg-info`` for distributions
(only the first lines are read); ``torch/version.py`` (parsed as text, never imported) and
``torch/lib/libtorch_cuda.so`` / ``torch_cuda.dll``; ``llama_cpp/lib`` for llama.cpp's
GPU backend libraries.

Besides the env's own site-packages, the dirs its interpreter will also import from are
read, as ``site.py`` would find them: the directories named by plain path lines of its
``*.pth`` files (one level, like site.py; ``import`` lines are code and are not run), and
with ``include-system-site-packages = true`` the base Python's site-packages. The env's own
dirs come first, so its own copy of a package wins, as on ``sys.path``. (Found on the H200:
an env that sees the machine's CUDA torch through a ``.pth`` file was reported "no torch".)

Nothing here raises on strange files: an unreadable METADATA, a binary version.py or a
directory where a file should be is skipped, and the fact is simply unknown.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator

from .discover import find_site_packages, read_pyvenv_cfg
from .model import Env, LlamaInfo, StaticInfo, TorchInfo

# llama.cpp backend library stems (libggml-<x>.so, ggml-<x>.dll, libggml-<x>.dylib) -> the
# GPU backend they mean. ggml-blas and ggml-cpu are CPU code, not offload targets.
_LLAMA_BACKENDS = (
    ("cuda", "cuda"),
    ("metal", "metal"),
    ("vulkan", "vulkan"),
    ("hip", "rocm"),
    ("rocm", "rocm"),
    ("sycl", "sycl"),
    ("opencl", "opencl"),
    ("cann", "cann"),
    ("musa", "musa"),
    ("kompute", "kompute"),
)

_VERSION_PREFIX = re.compile(r"\d+(?:\.\d+){0,2}")
_LIB_PYTHON = re.compile(r"^(python|pypy)(\d+)\.(\d+)")
_PATCHLEVEL = re.compile(rb'#define\s+PY_VERSION\s+"([^"]+)"')
_CONDA_PYTHON = re.compile(r"^(python|pypy|pypy3\.\d+)-(\d+\.\d+(?:\.\d+)?)-.*\.json$")
_PY_DLL = re.compile(r"^python(\d)(\d+)\.dll$", re.IGNORECASE)
_DIR_VERSION = re.compile(r"^(\d+\.\d+(?:\.\d+)?)(?:[a-z]+\d*)?$")


def _assign(name: str) -> re.Pattern[bytes]:
    # `name = '1.0'`, `name: str = "1.0"`, `name: Optional[str] = None`
    return re.compile(
        rb"^" + name.encode() + rb"""\s*(?::[^=\n]*)?=\s*(?:['"]([^'"\n]*)['"]|None)""",
        re.MULTILINE,
    )


_TORCH_FIELDS = {k: _assign(k) for k in ("__version__", "cuda", "hip", "rocm")}
_LLAMA_VERSION = _assign("__version__")


def canonicalize(name: str) -> str:
    """PEP 503 normal form ("Llama_CPP.Python" -> "llama-cpp-python"), without packaging."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _read_head(path: str, limit: int) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except (OSError, ValueError):
        return None


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except (OSError, ValueError):
        return []


def _short_version(text: str) -> str | None:
    """"3.11.7.final.0" -> "3.11.7"; "3.13.0" -> "3.13.0"; junk -> None."""
    m = _VERSION_PREFIX.match(text.strip())
    return m.group(0) if m and "." in m.group(0) else None


# --------------------------------------------------------------------------- python itself


def _lib_python_dirs(path: str) -> list[tuple[str, str]]:
    """(implementation, "X.Y") for each lib/pythonX.Y or lib/pypyX.Y dir, newest first."""
    found: list[tuple[tuple[int, int], str, str]] = []
    for name in _listdir(os.path.join(path, "lib")):
        m = _LIB_PYTHON.match(name)
        if m:
            impl = "PyPy" if m.group(1) == "pypy" else "CPython"
            found.append(((int(m.group(2)), int(m.group(3))), impl, f"{m.group(2)}.{m.group(3)}"))
    found.sort(reverse=True)
    return [(impl, ver) for _, impl, ver in found]


def _conda_python(path: str) -> tuple[str, str] | None:
    for name in _listdir(os.path.join(path, "conda-meta")):
        m = _CONDA_PYTHON.match(name)
        if m:
            return ("PyPy" if m.group(1).startswith("pypy") else "CPython", m.group(2))
    return None


def _patchlevel(path: str, short: str | None) -> str | None:
    """PY_VERSION from include/pythonX.Y/patchlevel.h (base interpreters ship the headers)."""
    inc = os.path.join(path, "include")
    names = [f"python{short}"] if short else sorted(_listdir(inc), reverse=True)
    for name in names:
        if not name.startswith("python"):
            continue
        head = _read_head(os.path.join(inc, name, "patchlevel.h"), 16 * 1024)
        if head:
            m = _PATCHLEVEL.search(head)
            if m:
                return _short_version(m.group(1).decode("ascii", "replace"))
    return None


def _windows_dll_version(env: Env) -> str | None:
    for d in (env.path, env.bin_dir):
        for name in _listdir(d):
            m = _PY_DLL.match(name)
            if m:
                return f"{m.group(1)}.{m.group(2)}"
    return None


def _python_facts(env: Env, cfg: dict[str, str] | None) -> tuple[str | None, str | None]:
    """(version, implementation) from the cheapest source that knows."""
    cfg = cfg or {}
    impl = cfg.get("implementation") or None
    version = _short_version(cfg.get("version_info", "")) or _short_version(cfg.get("version", ""))
    libs = _lib_python_dirs(env.path)
    if impl is None and libs:
        impl = libs[0][0]
    if impl is None and os.path.isdir(os.path.join(env.path, "lib_pypy")):
        impl = "PyPy"
    if version is None:
        conda = _conda_python(env.path)
        if conda:
            version = conda[1]
            impl = impl or conda[0]
    if version is None:
        version = _patchlevel(env.path, libs[0][1] if libs else None)
    if version is None and env.kind == "pyenv":
        m = _DIR_VERSION.match(os.path.basename(env.path))
        version = m.group(1) if m else None
    if version is None and libs:
        version = libs[0][1]
    if version is None and env.layout == "windows":
        version = _windows_dll_version(env)
    if impl is None and version is not None:
        impl = "CPython"  # nothing says PyPy or GraalPy: the overwhelmingly common case
    return version, impl


# --------------------------------------------------------------------------- distributions


def _metadata_name_version(head: bytes) -> tuple[str | None, str | None]:
    name = version = None
    for raw in head.split(b"\n"):
        line = raw.rstrip(b"\r")
        if not line:  # end of the header block: the description follows
            break
        if line[:5].lower() == b"name:":
            name = line[5:].strip().decode("utf-8", "replace")
        elif line[:8].lower() == b"version:":
            version = line[8:].strip().decode("utf-8", "replace")
        if name and version:
            break
    return name, version


def read_metadata(path: str) -> tuple[str | None, str | None]:
    """(Name, Version) from a METADATA / PKG-INFO file's headers; (None, None) if unreadable."""
    # Name and Version sit in the first lines; a long License header can push them down.
    for limit in (2048, 65536):
        head = _read_head(path, limit)
        if head is None:
            return None, None
        name, version = _metadata_name_version(head)
        if (name and version) or len(head) < limit:
            return name, version
    return name, version


def _from_dir_name(entry: str, suffix: str) -> tuple[str | None, str | None]:
    # "llama_cpp_python-0.3.36.dist-info": the wheel spec escapes "-" in both parts.
    stem = entry[: -len(suffix)]
    name, dash, version = stem.partition("-")
    if not dash:
        return (name or None), None
    return name, version.split("-py")[0] or None


def metadata_files(site_packages: Iterable[str]) -> Iterator[tuple[str, str, str]]:
    """(path, suffix, metadata file) of every installed distribution, in sys.path order and
    then by name: ``NAME-VER.dist-info/METADATA``, and ``*.egg-info`` (a dir holding PKG-INFO,
    or, from distutils, a single file holding the same headers). The one walk over
    site-packages for what is installed (contents here, the repair plan's package list)."""
    for sp in site_packages:
        for entry in sorted(_listdir(sp)):
            full = os.path.join(sp, entry)
            if entry.endswith(".dist-info"):
                yield full, ".dist-info", os.path.join(full, "METADATA")
            elif entry.endswith(".egg-info"):
                yield full, ".egg-info", (os.path.join(full, "PKG-INFO") if os.path.isdir(full)
                                          else full)


def _distributions(site_packages: tuple[str, ...]) -> dict[str, str]:
    dists: dict[str, str] = {}
    for full, suffix, meta in metadata_files(site_packages):
        name, version = read_metadata(meta)
        if not name or not version:
            dir_name, dir_version = _from_dir_name(os.path.basename(full), suffix)
            name, version = name or dir_name, version or dir_version
        if name and version:
            # the first site-packages dir wins, as on sys.path
            dists.setdefault(canonicalize(name), version)
    return dists


# --------------------------------------------------------------------------- torch, llama


def _find_package(site_packages: tuple[str, ...], package: str) -> str | None:
    for sp in site_packages:
        d = os.path.join(sp, package)
        if os.path.isfile(os.path.join(d, "__init__.py")) or os.path.isfile(
            os.path.join(d, "version.py")
        ):
            return d
    return None


def _field(text: bytes, pattern: re.Pattern[bytes]) -> str | None:
    m = pattern.search(text)
    if not m or m.group(1) is None:
        return None
    return m.group(1).decode("utf-8", "replace") or None


def _torch(site_packages: tuple[str, ...], dists: dict[str, str]) -> TorchInfo | None:
    pkg = _find_package(site_packages, "torch")
    if pkg is None:
        return None
    text = _read_head(os.path.join(pkg, "version.py"), 64 * 1024) or b""
    version = _field(text, _TORCH_FIELDS["__version__"]) or dists.get("torch") or "unknown"
    lib = os.path.join(pkg, "lib")
    has_cuda_lib = any(
        os.path.exists(os.path.join(lib, n)) for n in ("libtorch_cuda.so", "torch_cuda.dll")
    )
    return TorchInfo(
        version=version,
        cuda=_field(text, _TORCH_FIELDS["cuda"]),
        # torch >= 2.9 writes `rocm` beside `hip`; either names a ROCm build.
        hip=_field(text, _TORCH_FIELDS["hip"]) or _field(text, _TORCH_FIELDS["rocm"]),
        has_cuda_lib=has_cuda_lib,
    )


def _llama_backends(names: list[str]) -> list[str]:
    found: list[str] = []
    for name in names:
        stem = name.lower()
        stem = stem[3:] if stem.startswith("lib") else stem
        if not stem.startswith("ggml-"):
            continue
        kind = stem[5:].split(".")[0]
        for key, backend in _LLAMA_BACKENDS:
            if kind == key and backend not in found:
                found.append(backend)
    return found


def _llama(site_packages: tuple[str, ...], dists: dict[str, str]) -> LlamaInfo | None:
    """llama-cpp-python's build from the backend libraries it ships.

    Builds since 0.3 ship one library per ggml backend (libggml-cuda.so only in a CUDA
    build). Older builds linked every backend into libllama.so, which this cannot see into:
    they show no backend here and the live probe gives the answer.
    """
    pkg = _find_package(site_packages, "llama_cpp")
    version = dists.get("llama-cpp-python")
    if pkg is None:
        return None
    if version is None:
        version = _field(_read_head(os.path.join(pkg, "__init__.py"), 64 * 1024) or b"",
                         _LLAMA_VERSION) or "unknown"
    lib_dir = os.path.join(pkg, "lib")
    names = _listdir(lib_dir)
    if not names:  # before 0.2.8x the libraries sat next to the Python files
        lib_dir, names = pkg, _listdir(pkg)
    metal_files = any(n.endswith(".metallib") or n == "ggml-metal.metal" for n in names)
    backends = _llama_backends(names)
    if metal_files and "metal" not in backends:
        backends.append("metal")
    return LlamaInfo(version=version, backends=tuple(backends), lib_dir=lib_dir)


# --------------------------------------------------------------------------- public API


def _pth_dirs(site_packages: tuple[str, ...]) -> list[str]:
    """Dirs that ``*.pth`` files in ``site_packages`` add to sys.path (plain path lines)."""
    found: list[str] = []
    for sp in site_packages:
        for name in _listdir(sp):
            if not name.endswith(".pth"):
                continue
            head = _read_head(os.path.join(sp, name), 65536)
            if head is None:
                continue
            for raw in head.decode("utf-8", "replace").splitlines():
                line = raw.rstrip()
                if not line or line.startswith("#") or line.startswith(("import ", "import\t")):
                    continue
                d = line if os.path.isabs(line) else os.path.join(sp, line)
                if os.path.isdir(d) and d not in found and d not in site_packages:
                    found.append(d)
    return found


def _system_site_packages(home: str | None, layout: str) -> list[str]:
    """The base Python's site-packages, for an env with include-system-site-packages."""
    if not home:
        return []
    # home is the base's bin dir on POSIX, the install dir itself on Windows.
    base = os.path.dirname(home.rstrip("/\\")) if layout == "posix" else home
    return list(find_site_packages(base, layout)) if os.path.isdir(base) else []


def inspect_env(env: Env) -> StaticInfo:
    """Everything the env's files say about it. Never spawns, never raises on odd files."""
    cfg = read_pyvenv_cfg(env.path)
    version, implementation = _python_facts(env, cfg)
    own = env.site_packages or find_site_packages(env.path, env.layout)
    cfg = cfg or {}
    extra = _pth_dirs(own)
    if cfg.get("include-system-site-packages", "").lower() == "true":
        system = _system_site_packages(cfg.get("home"), env.layout)
        extra += [d for d in system if d not in extra]
    site_packages = tuple(own) + tuple(extra)
    dists = _distributions(site_packages)
    ordered = sorted(dists.items())
    return StaticInfo(
        python_version=version,
        implementation=implementation,
        home=cfg.get("home") or None,
        include_system_site_packages=cfg.get("include-system-site-packages", "").lower()
        == "true",
        uv="uv" in cfg,
        distributions=tuple(ordered),
        torch=_torch(site_packages, dists),
        llama=_llama(site_packages, dists),
        nvidia_wheels=tuple(f"{n}=={v}" for n, v in ordered if n.startswith("nvidia-")),
    )


__all__ = ["canonicalize", "inspect_env", "read_metadata"]
