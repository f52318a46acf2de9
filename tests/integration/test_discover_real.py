"""Discovery and static inspection of envs made by the real tools: virtualenv, venv, pip, the
pyenv interpreters on this machine, the seed's torch and llama-cpp-python envs; and envs that
real life breaks (base interpreter deleted, env moved).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import envs
from venvsel.contents import inspect_env
from venvsel.discover import discover, env_from_path

# pyenv versions the project cares about, and how to make an env from each: virtualenv 21
# seeds pip only for 3.9+, 3.6-3.8 get the stdlib venv, 2.7 (no venv module) a hand-made one.
CREATORS = {
    "2.7": "manual",
    "3.6": "venv",
    "3.7": "venv",
    "3.8": "venv",
    "3.9": "virtualenv",
    "3.10": "virtualenv",
    "3.11": "virtualenv",
    "3.12": "virtualenv",
    "3.13": "virtualenv",
}
KIND = {"manual": "venv", "venv": "venv", "virtualenv": "virtualenv"}
PYENV = envs.pyenv_interpreters()

MakeEnv = Callable[..., Path]



def _full_version(exe: Path) -> str:
    """The pyenv dir name is the interpreter's full version (".../versions/3.11.7/bin/...")."""
    return exe.parent.parent.name


@pytest.mark.slow
@pytest.mark.parametrize("short", list(CREATORS))
def test_env_from_each_pyenv_interpreter(short: str, make_env: MakeEnv, tmp_path: Path) -> None:
    exe = PYENV.get(short)
    if exe is None:
        pytest.skip(f"no Python {short} under {envs.PYENV_ROOT}/versions on this machine")
    creator = CREATORS[short]
    env_dir = make_env(f"venv{short}", python=str(exe), creator=creator)
    [env] = discover([str(tmp_path)], include_global=False)
    assert env.path == os.path.realpath(env_dir)
    assert (env.kind, env.layout, env.broken) == (KIND[creator], "posix", None)
    assert env.interpreter is not None and os.path.exists(env.interpreter)
    info = inspect_env(env)
    assert info.python_version == _full_version(exe)
    assert info.implementation == "CPython"
    assert os.path.realpath(info.home or "") == os.path.realpath(exe.parent)
    if creator == "virtualenv":
        assert "pip" in dict(info.distributions)


def test_real_pyenv_versions_via_the_pyenv_locator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not PYENV:
        pytest.skip(f"no pyenv interpreters under {envs.PYENV_ROOT}")
    monkeypatch.setenv("PYENV_ROOT", str(envs.PYENV_ROOT))
    found = {e.path: e for e in discover([str(tmp_path)]) if e.source == "pyenv"}
    for exe in PYENV.values():
        prefix = str(exe.parent.parent)
        env = found[os.path.realpath(prefix)]
        assert (env.kind, env.broken) == ("pyenv", None)
        info = inspect_env(env)
        assert info.python_version == _full_version(exe)
        assert info.implementation == "CPython"
        assert info.home is None  # a base interpreter, no pyvenv.cfg


def test_venv_whose_base_interpreter_was_deleted(tmp_path: Path) -> None:
    """A real `python -m venv` made from a base that is then removed (an upgraded pyenv
    version, a deleted Homebrew keg): listed, broken, with the reason in words."""
    real_python = os.path.realpath(sys.executable)
    base_bin = tmp_path / "base" / "bin"
    base_bin.mkdir(parents=True)
    base_exe = base_bin / os.path.basename(real_python)
    os.symlink(real_python, base_exe)
    proj = tmp_path / "proj"
    subprocess.run([str(base_exe), "-m", "venv", "--without-pip", str(proj / ".venv")], check=True)
    [healthy] = discover([str(proj)], include_global=False)
    assert healthy.broken is None
    shutil.rmtree(tmp_path / "base")
    [env] = discover([str(proj)], include_global=False)
    assert env.broken == f"bin/python points to {base_exe}, which no longer exists"
    info = inspect_env(env)  # still inspectable from its files
    assert info.python_version == "{}.{}.{}".format(*sys.version_info[:3])
    assert info.home == str(base_bin)


def test_moved_venv_is_still_found_and_read(make_env: MakeEnv, tmp_path: Path) -> None:
    original = make_env("venv")
    before = inspect_env(env_from_path(str(original)))
    dest = tmp_path / "moved here" / ".venv"
    dest.parent.mkdir()
    os.rename(original, dest)
    [env] = discover([str(dest.parent)], include_global=False)
    assert (env.path, env.layout, env.broken) == (str(dest), "posix", None)
    assert env.site_packages and all(p.startswith(str(dest)) for p in env.site_packages)
    after = inspect_env(env)
    assert after == before
    # What moving really breaks: scripts keep the old absolute path in their shebang.
    first_line = (dest / "bin" / "pip").read_text().splitlines()[0]
    assert str(original) in first_line


def test_conda_style_prefix_via_environments_txt_and_roots(tmp_path: Path) -> None:
    prefix = tmp_path / "miniconda-envs" / "ml"
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "conda-meta" / "history").write_text(
        "==> 2026-11-29 10:00:00 <==\n# cmd: conda create\n"
    )
    (prefix / "bin").mkdir()
    os.symlink(os.path.realpath(sys.executable), prefix / "bin" / "python")
    short = "{}.{}".format(*sys.version_info[:2])
    (prefix / "lib" / f"python{short}" / "site-packages").mkdir(parents=True)
    conda_dir = Path(os.environ["HOME"]) / ".conda"
    conda_dir.mkdir()
    (conda_dir / "environments.txt").write_text(f"{prefix}\n")
    (tmp_path / "proj").mkdir()
    via_txt = [e for e in discover([str(tmp_path / "proj")]) if e.path == str(prefix)]
    assert [(e.kind, e.source, e.broken) for e in via_txt] == [("conda", "conda", None)]
    [via_root] = discover([str(prefix.parent)], include_global=False)
    assert (via_root.path, via_root.kind, via_root.source) == (str(prefix), "conda", "project")
    assert inspect_env(via_root).python_version == short


@pytest.mark.slow
def test_seed_project(seed_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed's layout: .venv = CPU torch + CPU llama, .venv-gpu = no torch,
    .venv310 = CUDA torch."""
    monkeypatch.chdir(seed_project)
    found = discover(include_global=False)
    assert [e.shown_path for e in found] == [".venv", ".venv-gpu", ".venv310"]
    assert all(e.broken is None and e.kind == "virtualenv" for e in found)
    cpu, bare, cuda = (inspect_env(e) for e in found)

    assert cpu.torch is not None
    assert (cpu.torch.version, cpu.torch.build, cpu.torch.has_cuda_lib) == (
        "2.13.0+cpu",
        "cpu",
        False,
    )
    assert cpu.llama is not None
    assert (cpu.llama.version, cpu.llama.backends, cpu.llama.gpu_offload) == ("0.3.36", (), False)
    assert cpu.nvidia_wheels == ()

    assert bare.torch is None and bare.llama is None and bare.nvidia_wheels == ()

    assert cuda.torch is not None
    assert cuda.torch.version.startswith("2.14.1") and cuda.torch.build == "cuda"
    assert cuda.torch.cuda is not None and cuda.torch.has_cuda_lib
    assert cuda.llama is None
    assert cuda.nvidia_wheels and all(
        w.startswith("nvidia-") and "==" in w for w in cuda.nvidia_wheels
    )
    # The wheel's metadata says plain "2.14.1"; only torch/version.py carries the build tag.
    assert cuda.dist_version("torch") == cuda.torch.version.split("+")[0]
