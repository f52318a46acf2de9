"""Static inspection on real files: pyvenv.cfg variants, dist-info and egg-info, torch's
version.py in its real forms, llama_cpp/lib backend libraries, nvidia wheels, Windows-layout
trees, and files that are broken in every way a disk allows.

The torch/llama trees are the files those packages really install (version.py text taken from
the wheels' own format); the real installed envs are checked in tests/integration.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests import envs
from venvsel.contents import canonicalize, inspect_env
from venvsel.discover import discover, env_from_path
from venvsel.model import StaticInfo

PY = os.path.realpath(sys.executable)
SHORT = "{}.{}".format(*sys.version_info[:2])

TORCH_CPU_VERSION_PY = """\
from typing import Optional

__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip', 'rocm', 'xpu']
__version__ = '2.13.0+cpu'
debug = False
cuda: Optional[str] = None
git_version = 'cf30153c4c131c8164ee7798e5022d810682e2cb'
hip: Optional[str] = None
rocm: Optional[str] = None
xpu: Optional[str] = None
"""

TORCH_CUDA_VERSION_PY = """\
from typing import Optional

__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip']
__version__ = '2.5.1+cu121'
debug = False
cuda: Optional[str] = '12.1'
git_version = 'a8d6afb511a69687bbb2b7e88a3cf67917e1697e'
hip: Optional[str] = None
"""

# torch 1.x wrote plain assignments, no annotations
TORCH_OLD_VERSION_PY = """\
__version__ = '1.13.1+cu117'
debug = False
cuda = '11.7'
git_version = '49444c3e546bf240bed24a101e747422d1f8a0ee'
hip = None
"""

TORCH_ROCM_VERSION_PY = """\
from typing import Optional

__version__ = "2.4.1+rocm6.1"
debug = False
cuda: Optional[str] = None
hip: Optional[str] = "6.1.40091-a8dbc0c19"
"""



def env_with_site(tmp_path: Path, name: str = ".venv", cfg: str | None = None) -> tuple[Path, Path]:
    """A venv tree whose interpreter is the running one; returns (env dir, site-packages)."""
    env = tmp_path / name
    site = env / "lib" / f"python{SHORT}" / "site-packages"
    site.mkdir(parents=True)
    (env / "bin").mkdir()
    os.symlink(PY, env / "bin" / "python")
    if cfg is None:
        cfg = f"home = {os.path.dirname(PY)}\nversion = 3.11.7\n"
    (env / "pyvenv.cfg").write_text(cfg)
    return env, site


def dist(site: Path, name: str, version: str, *, metadata: str | None = None) -> Path:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        metadata
        if metadata is not None
        else f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: x\n\nLong text\n"
    )
    return info


def inspect_dir(env: Path) -> StaticInfo:
    return inspect_env(env_from_path(str(env)))


# --------------------------------------------------------------------------- python itself


def test_real_bare_env(bare_env: Path) -> None:
    info = inspect_dir(bare_env)
    version, implementation, _ = envs.python_facts(envs.WHEEL_PYTHON)  # what made bare_env
    base = os.path.realpath(envs.WHEEL_PYTHON)
    assert info.python_version == version
    assert info.implementation == implementation
    assert info.home == os.path.dirname(base) or os.path.realpath(
        info.home or "") == os.path.dirname(base)
    assert not info.include_system_site_packages and not info.uv
    names = dict(info.distributions)
    assert "pip" in names and names["pip"][0].isdigit()
    assert info.torch is None and info.llama is None and info.nvidia_wheels == ()


@pytest.mark.parametrize(
    ("cfg", "version", "impl", "uv", "system"),
    [
        ("home = /x\nversion = 3.11.7\n", "3.11.7", "CPython", False, False),
        (
            "home = /x\nimplementation = CPython\nversion_info = 3.12.1.final.0\n"
            "virtualenv = 20.26\n",
            "3.12.1",
            "CPython",
            False,
            False,
        ),
        (
            "home = /x\nimplementation = CPython\nuv = 0.5.11\nversion_info = 3.13.0\n"
            "include-system-site-packages = true\n",
            "3.13.0",
            "CPython",
            True,
            True,
        ),
        (
            "home = /x\nimplementation = PyPy\nversion_info = 3.10.14.final.0\n",
            "3.10.14",
            "PyPy",
            False,
            False,
        ),
        ("home = /x\ninclude-system-site-packages = TRUE\n", SHORT, "CPython", False, True),
    ],
)
def test_pyvenv_cfg_facts(
    tmp_path: Path, cfg: str, version: str, impl: str, uv: bool, system: bool
) -> None:
    env, _ = env_with_site(tmp_path, cfg=cfg)
    info = inspect_dir(env)
    assert (info.python_version, info.implementation, info.uv) == (version, impl, uv)
    assert info.include_system_site_packages is system
    assert info.home == "/x"


def test_pypy_from_lib_dir(tmp_path: Path) -> None:
    env = tmp_path / "pypy-env"
    (env / "lib" / "pypy3.9" / "site-packages").mkdir(parents=True)
    (env / "bin").mkdir()
    os.symlink(PY, env / "bin" / "pypy3")
    (env / "pyvenv.cfg").write_text(f"home = {os.path.dirname(PY)}\n")
    e = env_from_path(str(env))
    assert e.interpreter == str(env / "bin" / "pypy3")
    info = inspect_env(e)
    assert (info.python_version, info.implementation) == ("3.9", "PyPy")


def test_conda_prefix_version_from_conda_meta(tmp_path: Path) -> None:
    prefix = tmp_path / "conda-env"
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "conda-meta" / "history").write_text("")
    (prefix / "conda-meta" / "python-3.11.7-h955ad1f_0.json").write_text("{}")
    (prefix / "conda-meta" / "python_abi-3.11-2_cp311.json").write_text("{}")
    (prefix / "bin").mkdir()
    os.symlink(PY, prefix / "bin" / "python")
    (prefix / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    info = inspect_dir(prefix)
    assert (info.python_version, info.implementation, info.home) == ("3.11.7", "CPython", None)


def test_base_interpreter_version_from_headers_then_dir_name(tmp_path: Path) -> None:
    versions = Path(os.environ["PYENV_ROOT"]) / "versions"
    base = versions / "3.9.18"
    (base / "bin").mkdir(parents=True)
    os.symlink(PY, base / "bin" / "python")
    (base / "lib" / "python3.9" / "site-packages").mkdir(parents=True)
    (base / "include" / "python3.9").mkdir(parents=True)
    (base / "include" / "python3.9" / "patchlevel.h").write_text(
        '/* Version as a string */\n#define PY_VERSION              "3.9.18"\n'
    )
    info = inspect_dir(base)
    assert (info.python_version, info.implementation) == ("3.9.18", "CPython")
    (base / "include" / "python3.9" / "patchlevel.h").unlink()
    [env] = discover(include_global=True, roots=[str(tmp_path)])
    assert env.kind == "pyenv"
    assert inspect_env(env).python_version == "3.9.18"  # from the pyenv dir name


def test_windows_layout_tree_read_statically(tmp_path: Path) -> None:
    """Scripts/python.exe (a plain file), Lib/site-packages with a CUDA torch, on any host."""
    env = tmp_path / "winenv"
    (env / "Scripts").mkdir(parents=True)
    (env / "Scripts" / "python.exe").write_bytes(b"MZ\x90\x00not really")
    site = env / "Lib" / "site-packages"
    site.mkdir(parents=True)
    (env / "pyvenv.cfg").write_text(
        "home = C:\\Program Files\\Python311\ninclude-system-site-packages = false\n"
        "version = 3.11.9\nexecutable = C:\\Program Files\\Python311\\python.exe\n"
    )
    (site / "torch" / "lib").mkdir(parents=True)
    (site / "torch" / "__init__.py").write_text("")
    (site / "torch" / "version.py").write_text(TORCH_CUDA_VERSION_PY)
    (site / "torch" / "lib" / "torch_cuda.dll").write_bytes(b"MZ")
    dist(site, "torch", "2.5.1+cu121")
    (site / "llama_cpp" / "lib").mkdir(parents=True)
    (site / "llama_cpp" / "__init__.py").write_text('__version__ = "0.3.2"\n')
    for dll in ("ggml.dll", "ggml-base.dll", "ggml-cpu.dll", "ggml-cuda.dll", "llama.dll"):
        (site / "llama_cpp" / "lib" / dll).write_bytes(b"MZ")
    [e] = discover([str(tmp_path)], include_global=False)
    assert e.layout == "windows" and e.broken is None
    info = inspect_env(e)
    assert info.python_version == "3.11.9" and info.implementation == "CPython"
    assert info.torch is not None and info.torch.build == "cuda"
    assert (info.torch.version, info.torch.cuda, info.torch.has_cuda_lib) == (
        "2.5.1+cu121",
        "12.1",
        True,
    )
    assert info.llama is not None
    assert (info.llama.version, info.llama.backends) == ("0.3.2", ("cuda",))


def test_windows_version_from_dll_when_no_cfg(tmp_path: Path) -> None:
    prefix = tmp_path / "conda-win"
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "python.exe").write_bytes(b"MZ")
    (prefix / "python311.dll").write_bytes(b"MZ")
    (prefix / "Lib" / "site-packages").mkdir(parents=True)
    assert inspect_dir(prefix).python_version == "3.11"


# --------------------------------------------------------------------------- distributions


def test_distributions_from_metadata_and_egg_info(tmp_path: Path) -> None:
    env, site = env_with_site(tmp_path)
    dist(site, "Foo_Bar.Baz", "1.2")
    dist(site, "requests", "2.32.3")
    # Name/Version pushed past the first read by a long License header
    dist(
        site,
        "late",
        "9.9",
        metadata="Metadata-Version: 2.1\nLicense: "
        + "x" * 5000
        + "\nName: Late\nVersion: 9.9\n\nbody\n",
    )
    no_meta = site / "nometa-0.1.dist-info"
    no_meta.mkdir()  # no METADATA at all: the dir name still says name and version
    meta_dir = site / "metadir-0.2.dist-info"
    (meta_dir / "METADATA").mkdir(parents=True)  # METADATA is a directory
    dangling = site / "dangling-0.3.dist-info"
    dangling.mkdir()
    os.symlink(tmp_path / "nowhere", dangling / "METADATA")
    dist(site, "binary", "0.4", metadata="")
    (site / "binary-0.4.dist-info" / "METADATA").write_bytes(b"\x00\xff\xfe" * 3000)
    egg = site / "Old_Pkg-0.5-py3.11.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: Old-Pkg\nVersion: 0.5\n")
    (site / "distutils_thing-1.0-py3.11.egg-info").write_text(
        "Metadata-Version: 1.0\nName: distutils-thing\nVersion: 1.0\n"
    )
    (site / "random.dist-info").mkdir()  # no version anywhere: skipped, not a crash
    (site / "not-a-dist").mkdir()
    info = inspect_dir(env)
    assert dict(info.distributions) == {
        "foo-bar-baz": "1.2",
        "requests": "2.32.3",
        "late": "9.9",
        "nometa": "0.1",
        "metadir": "0.2",
        "dangling": "0.3",
        "binary": "0.4",
        "old-pkg": "0.5",
        "distutils-thing": "1.0",
    }
    assert [n for n, _ in info.distributions] == sorted(n for n, _ in info.distributions)
    assert info.dist_version("Foo.Bar_Baz") == "1.2"


def test_canonicalize_matches_packaging() -> None:
    from packaging.utils import canonicalize_name

    for name in ("Llama_CPP.Python", "nvidia-cublas-cu12", "A..B__C--D", "zope.interface", "X"):
        assert canonicalize(name) == canonicalize_name(name)


def test_nvidia_wheels(tmp_path: Path) -> None:
    env, site = env_with_site(tmp_path)
    dist(site, "nvidia_cublas_cu12", "12.1.3.1")
    dist(site, "nvidia-cudnn-cu12", "9.1.0.70")
    dist(site, "numpy", "2.1.0")
    assert inspect_dir(env).nvidia_wheels == (
        "nvidia-cublas-cu12==12.1.3.1",
        "nvidia-cudnn-cu12==9.1.0.70",
    )


def test_base_site_packages_too_when_system_site_packages_is_on(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base_site = base / "lib" / f"python{SHORT}" / "site-packages"
    base_site.mkdir(parents=True)
    (base / "bin").mkdir()
    os.symlink(PY, base / "bin" / "python")
    dist(base_site, "system-only", "1.0")
    env, site = env_with_site(
        tmp_path / "p", cfg=f"home = {base / 'bin'}\ninclude-system-site-packages = true\n"
    )
    dist(site, "mine", "2.0")
    dist(base_site, "mine", "1.0")  # the env's own copy wins, as on sys.path
    info = inspect_dir(env)
    assert info.include_system_site_packages
    assert dict(info.distributions) == {"mine": "2.0", "system-only": "1.0"}


# --------------------------------------------------------------------------- torch


def torch_tree(site: Path, version_py: str | bytes | None, libs: tuple[str, ...] = ()) -> None:
    pkg = site / "torch"
    (pkg / "lib").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    if isinstance(version_py, str):
        (pkg / "version.py").write_text(version_py)
    elif isinstance(version_py, bytes):
        (pkg / "version.py").write_bytes(version_py)
    for lib in libs:
        (pkg / "lib" / lib).write_bytes(b"\x7fELF")


@pytest.mark.parametrize(
    ("version_py", "libs", "expect"),
    [
        (
            TORCH_CPU_VERSION_PY,
            ("libtorch_cpu.so", "libc10.so"),
            ("2.13.0+cpu", None, None, False, "cpu"),
        ),
        (
            TORCH_CUDA_VERSION_PY,
            ("libtorch_cuda.so", "libtorch_cpu.so"),
            ("2.5.1+cu121", "12.1", None, True, "cuda"),
        ),
        (TORCH_OLD_VERSION_PY, ("libtorch_cuda.so",), ("1.13.1+cu117", "11.7", None, True, "cuda")),
        (
            TORCH_ROCM_VERSION_PY,
            ("libtorch_hip.so",),
            ("2.4.1+rocm6.1", None, "6.1.40091-a8dbc0c19", False, "rocm"),
        ),
        # PyPI's Linux wheel: no +cu tag, yet a CUDA build (ANCHORS.md) — version.py says so
        (
            TORCH_CUDA_VERSION_PY.replace("2.5.1+cu121", "2.5.1"),
            ("libtorch_cuda.so",),
            ("2.5.1", "12.1", None, True, "cuda"),
        ),
        (
            "__version__ = '2.9.0'\ncuda = None\nhip = None\nrocm = '6.4'\n",
            (),
            ("2.9.0", None, "6.4", False, "rocm"),
        ),
    ],
    ids=["cpu", "cuda-annotated", "cuda-1.x-plain", "rocm", "pypi-no-local-tag", "rocm-field"],
)
def test_torch_build_from_version_py(
    tmp_path: Path,
    version_py: str,
    libs: tuple[str, ...],
    expect: tuple[str, str | None, str | None, bool, str],
) -> None:
    env, site = env_with_site(tmp_path)
    torch_tree(site, version_py, libs)
    t = inspect_dir(env).torch
    assert t is not None
    assert (t.version, t.cuda, t.hip, t.has_cuda_lib, t.build) == expect


def test_torch_with_broken_version_py(tmp_path: Path) -> None:
    env, site = env_with_site(tmp_path)
    torch_tree(site, b"\x00\xff garbage \xfe" * 100, ("libtorch_cuda.so",))
    dist(site, "torch", "2.3.0")
    t = inspect_dir(env).torch
    assert t is not None and (t.version, t.cuda, t.build) == ("2.3.0", None, "cuda")
    (site / "torch" / "version.py").unlink()
    (site / "torch" / "version.py").mkdir()  # a directory where the file should be
    (site / "torch-2.3.0.dist-info" / "METADATA").unlink()
    t = inspect_dir(env).torch
    assert t is not None and t.version == "2.3.0"


def test_leftover_torch_dir_without_code_is_no_torch(tmp_path: Path) -> None:
    env, site = env_with_site(tmp_path)
    (site / "torch" / "__pycache__").mkdir(parents=True)  # what `pip uninstall` can leave
    assert inspect_dir(env).torch is None


# --------------------------------------------------------------------------- llama-cpp-python


def llama_tree(
    site: Path, libs: tuple[str, ...], *, in_lib: bool = True, version: str | None = "0.3.36"
) -> None:
    pkg = site / "llama_cpp"
    lib = pkg / "lib" if in_lib else pkg
    lib.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text('from .llama_cpp import *\n\n__version__ = "0.3.36"\n')
    for name in libs:
        (lib / name).write_bytes(b"\x7fELF")
    if version:
        dist(site, "llama_cpp_python", version)


@pytest.mark.parametrize(
    ("libs", "backends"),
    [
        (("libggml.so", "libggml-base.so", "libggml-cpu.so", "libllama.so", "libmtmd.so"), ()),
        (("libggml.so", "libggml-base.so", "libggml-cpu.so", "libggml-blas.so", "libllama.so"), ()),
        (("libggml.so", "libggml-cpu.so", "libggml-cuda.so", "libllama.so"), ("cuda",)),
        (("libggml-metal.dylib", "libggml-blas.dylib", "libllama.dylib"), ("metal",)),
        (("libggml-base.dylib", "default.metallib", "libllama.dylib"), ("metal",)),
        (("libggml-vulkan.so", "libggml-cpu.so"), ("vulkan",)),
        (("libggml-hip.so",), ("rocm",)),
        (
            ("libggml-sycl.so", "libggml-opencl.so", "libggml-cann.so", "libggml-musa.so"),
            ("cann", "musa", "opencl", "sycl"),
        ),
        (("ggml-cuda.dll", "ggml-vulkan.dll", "llama.dll"), ("cuda", "vulkan")),
    ],
    ids=["cpu", "blas-is-cpu", "cuda", "metal", "metallib", "vulkan", "hip", "others", "windows"],
)
def test_llama_backends(tmp_path: Path, libs: tuple[str, ...], backends: tuple[str, ...]) -> None:
    env, site = env_with_site(tmp_path)
    llama_tree(site, libs)
    ll = inspect_dir(env).llama
    assert ll is not None
    assert ll.version == "0.3.36"
    assert sorted(ll.backends) == sorted(backends)
    assert ll.gpu_offload is bool(backends)
    assert ll.lib_dir == str(site / "llama_cpp" / "lib")


def test_llama_old_layout_and_version_from_init(tmp_path: Path) -> None:
    env, site = env_with_site(tmp_path)
    llama_tree(site, ("libllama.so", "libggml-cuda.so"), in_lib=False, version=None)
    ll = inspect_dir(env).llama
    assert ll is not None
    assert (ll.version, ll.backends, ll.lib_dir) == ("0.3.36", ("cuda",), str(site / "llama_cpp"))


def test_no_llama(tmp_path: Path) -> None:
    env, site = env_with_site(tmp_path)
    dist(site, "llama_cpp_python", "0.3.36")  # metadata left behind, package gone
    assert inspect_dir(env).llama is None


# --------------------------------------------------------------------------- odd envs


def test_broken_and_empty_envs_never_raise(tmp_path: Path) -> None:
    env, site = env_with_site(tmp_path)
    os.chmod(site, 0o000)
    try:
        info = inspect_dir(env)  # as root the dir is still readable; as a user it is not
        assert info.python_version == "3.11.7"
    finally:
        os.chmod(site, 0o755)
    empty = tmp_path / "empty-venv"
    empty.mkdir()
    (empty / "pyvenv.cfg").write_bytes(b"\xff\xfe\x00")
    e = env_from_path(str(empty))
    info = inspect_env(e)
    assert info.python_version is None and info.distributions == ()
    assert e.broken is not None
