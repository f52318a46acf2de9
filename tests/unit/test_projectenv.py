"""Which env belongs to a project: each tool's file rules on real directories (the hashing
rules themselves are checked against the real tools in tests/integration/test_project_tools.py),
the ranking, and misspelt needs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.envs import make_manual_env
from venvsel import projectenv
from venvsel.errors import UsageError
from venvsel.selection import near_capability, parse_needs

BASE = Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))
VERSION = ".".join(map(str, sys.version_info[:3]))


def env_at(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_manual_env(BASE, path, VERSION)


def first(root: Path) -> projectenv.ProjectEnv:
    found = projectenv.project_envs(str(root))
    assert found, f"nothing belongs to {root}"
    return found[0]


def test_empty_dir_has_no_project(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    assert projectenv.project_envs(str(tmp_path)) == []
    assert projectenv.ownership(str(tmp_path)).root is None


def test_home_is_never_a_project(tmp_path: Path) -> None:
    home = Path(os.environ["HOME"])
    (home / ".python-version").write_text("3.11\n")
    sub = home / "somewhere"
    sub.mkdir()
    assert projectenv.find_root(str(sub)) is None


def test_local_venv_and_subdir(tmp_path: Path) -> None:
    root = tmp_path / "p"
    env_at(root / ".venv")
    (root / "pyproject.toml").write_text('[project]\nname = "p"\n')
    (root / "pkg" / "deep").mkdir(parents=True)
    pe = first(root / "pkg" / "deep")
    assert (pe.tool, pe.path, pe.exists) == ("local", str(root / ".venv"), True)


def test_poetry_in_project_and_envs_toml(tmp_path: Path) -> None:
    root = tmp_path / "po"
    root.mkdir()
    (root / "pyproject.toml").write_text('[tool.poetry]\nname = "Po"\n')
    (root / "poetry.toml").write_text("[virtualenvs]\nin-project = true\n")
    pe = first(root)
    assert (pe.tool, pe.path, pe.exists, pe.recreate) == (
        "poetry", str(root / ".venv"), False, "poetry install")
    (root / "poetry.toml").unlink()
    venvs = Path(os.environ["XDG_CACHE_HOME"]) / "pypoetry" / "virtualenvs"
    base = projectenv.poetry_env_name("Po", str(root))
    env_at(venvs / f"{base}-py3.9")
    env_at(venvs / f"{base}-py3.12")
    (venvs / "envs.toml").write_text(f'[{base}]\nminor = "3.9"\npatch = "3.9.1"\n')
    found = projectenv.project_envs(str(root))
    assert [Path(p.path).name for p in found] == [f"{base}-py3.9", f"{base}-py3.12"]
    assert "poetry env use" in found[0].why
    env_at(venvs / f"{base}-py3.10")
    (venvs / "envs.toml").unlink()  # no choice recorded: newest Python first, as listed
    found = projectenv.project_envs(str(root))
    assert [Path(p.path).name[-6:] for p in found] == ["py3.12", "py3.10", "-py3.9"]


def test_poetry_virtualenvs_path_from_its_config(tmp_path: Path) -> None:
    root = tmp_path / "po2"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "po2"\n[tool.poetry]\n')
    cfg = Path(os.environ["XDG_CONFIG_HOME"]) / "pypoetry"
    cfg.mkdir(parents=True)
    (cfg / "config.toml").write_text(f'[virtualenvs]\npath = "{tmp_path / "pv"}"\n')
    env = env_at(tmp_path / "pv" / (projectenv.poetry_env_name("po2", str(root)) + "-py3.11"))
    assert first(root).path == str(env)


def test_pipenv_dot_venv_file_names_the_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "pe"
    root.mkdir()
    (root / "Pipfile").write_text("[packages]\n")
    workon = tmp_path / "workon"
    monkeypatch.setenv("WORKON_HOME", str(workon))
    target = env_at(workon / "chosen")
    (root / ".venv").write_text("chosen\n")
    pe = first(root)
    assert (pe.tool, pe.path, pe.exists) == ("pipenv", str(target), True)
    (root / ".venv").unlink()
    pe = first(root)
    assert pe.path == str(workon / projectenv.pipenv_env_name(str(root))) and not pe.exists
    monkeypatch.setenv("PIPENV_VENV_IN_PROJECT", "1")
    assert first(root).path == str(root / ".venv")


def test_pdm_named_and_pdm_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "pd"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "pd"\n[tool.pdm]\n')
    venvs = Path(os.environ["XDG_DATA_HOME"]) / "pdm" / "venvs"
    named = env_at(venvs / (projectenv.pdm_venv_prefix(str(root)) + "gpu"))
    env_at(venvs / "someone-else-AAAAAAAA-gpu")
    found = projectenv.project_envs(str(root))
    assert [(p.tool, p.path) for p in found] == [("pdm", str(named))]
    other = env_at(tmp_path / "elsewhere")
    (root / ".pdm-python").write_text(str(other / "bin" / "python"))
    assert first(root).path == str(other)


def test_uv_project_environment_relative_to_workspace_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = tmp_path / "ws"
    member = ws / "packages" / "a"
    member.mkdir(parents=True)
    (ws / "pyproject.toml").write_text('[tool.uv.workspace]\nmembers = ["packages/*"]\n')
    (member / "pyproject.toml").write_text('[project]\nname = "a"\n[tool.uv]\n')
    pe = first(member)
    assert (pe.tool, pe.path, pe.exists) == ("uv", str(ws / ".venv"), False)
    assert pe.recreate == "uv sync"
    monkeypatch.setenv("UV_PROJECT_ENVIRONMENT", "envs/here")
    assert first(member).path == str(ws / "envs" / "here")


def test_conda_environment_yml_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "co"
    root.mkdir()
    (root / "environment.yml").write_text("name: ml-gpu  # the team's env\nchannels: []\n")
    envs_dir = tmp_path / "miniconda3" / "envs"
    (envs_dir / "ml-gpu" / "conda-meta").mkdir(parents=True)
    monkeypatch.setenv("CONDA_EXE", str(tmp_path / "miniconda3" / "bin" / "conda"))
    pe = first(root)
    assert (pe.tool, pe.path, pe.exists) == ("conda", str(envs_dir / "ml-gpu"), True)
    (root / "environment.yml").write_text("name: gone\n")
    pe = first(root)
    assert not pe.exists and pe.recreate == "conda env create -f environment.yml"


def test_pyenv_version_and_virtualenv(tmp_path: Path) -> None:
    versions = Path(os.environ["PYENV_ROOT"]) / "versions"
    for v in ("3.11.2", "3.11.10", "3.11.11rc1", "3.12.0"):
        (versions / v / "bin").mkdir(parents=True)
    venv = env_at(versions / "3.12.0" / "envs" / "proj-env")
    os.symlink(venv, versions / "proj-env")
    root = tmp_path / "py"
    root.mkdir()
    (root / ".python-version").write_text("# comment\n3.11\n")
    pe = first(root)
    assert (pe.path, pe.base) == (str(versions / "3.11.10"), True)
    (root / ".python-version").write_text("proj-env\n")
    pe = first(root)
    assert (pe.path, pe.base) == (str(versions / "proj-env"), False)
    (root / ".python-version").write_text("3.99\n")
    assert not first(root).exists


def test_misspelt_need_is_not_a_package() -> None:
    with pytest.raises(UsageError) as err:
        parse_needs(["cdua"])
    assert err.value.exit_code == 2
    assert err.value.message == "unknown need 'cdua' — did you mean cuda?"
    assert near_capability("llama_gpu") == "llama-gpu"
    for word in ("six", "torchx", "numpy", "torch>=2", "cdua>=0", "mps"):
        assert near_capability(word) is None or word == "mps"
    assert [n.kind for n in parse_needs(["six", "cdua>=0"])] == ["requirement", "requirement"]


def test_a_plain_venv_dir_makes_a_project(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    env = env_at(tmp_path / "venv")
    (tmp_path / "sub").mkdir()
    pe = first(tmp_path / "sub")
    assert (pe.tool, pe.path) == ("local", str(env))


def test_several_unusual_env_dirs_are_not_guessed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from venvsel.errors import UnmetError
    from venvsel.resolve import project_default

    (tmp_path / ".git").mkdir()
    env_at(tmp_path / ".venv-gpu")
    env_at(tmp_path / ".venv310")
    with pytest.raises(UnmetError) as err:
        project_default(str(tmp_path))
    assert "several env dirs (.venv-gpu, .venv310)" in err.value.message
    assert "venvsel use PATH" in err.value.message
    one = env_at(tmp_path / ".venv")
    assert project_default(str(tmp_path)).path == str(one)
