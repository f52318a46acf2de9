"""The one ranking: project's own, active, other, base interpreters last, never one that
cannot run — on real env directories, through the real pick."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.envs import make_manual_env
from venvsel.discover import discover
from venvsel.selection import pick

BASE = Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))
VERSION = ".".join(map(str, sys.version_info[:3]))


def env_at(path: Path, version: str = VERSION) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_manual_env(BASE, path, version)


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    proj = tmp_path / "proj"
    own = env_at(proj / ".venv")
    (proj / "pyproject.toml").write_text('[project]\nname = "proj"\n')
    active = env_at(tmp_path / "act")
    other = env_at(Path(os.environ["XDG_DATA_HOME"]) / "virtualenvs" / "x-abcdefgh")
    base = Path(os.environ["PYENV_ROOT"]) / "versions" / VERSION
    (base / "bin").mkdir(parents=True)
    os.symlink(BASE, base / "bin" / "python")
    old = env_at(Path(os.environ["PYENV_ROOT"]) / "versions" / "2.7.18" / "envs" / "old", "2.7.18")
    broken = env_at(tmp_path / "broken-holder" / "b")
    monkeypatch.setenv("WORKON_HOME", str(broken.parent))
    (broken / "bin" / "python").unlink()
    os.symlink(tmp_path / "nowhere", broken / "bin" / "python")
    monkeypatch.setenv("VIRTUAL_ENV", str(active))
    monkeypatch.chdir(proj)
    return {"own": own, "active": active, "other": other, "base": base, "old": old,
            "broken": broken}


def test_tiers_in_order_with_reasons(layout: dict[str, Path]) -> None:
    result = pick([], None)
    got = [(Path(r.record.env.path), r.tier) for r in result.ranking]
    assert got == [
        (layout["own"], "project"), (layout["active"], "active"), (layout["other"], "other"),
        (layout["base"], "base"), (layout["broken"], "never"), (layout["old"], "never"),
    ] or got == [
        (layout["own"], "project"), (layout["active"], "active"), (layout["other"], "other"),
        (layout["base"], "base"), (layout["old"], "never"), (layout["broken"], "never"),
    ]
    text = result.explain_ranking()
    assert "the project's own env: the project's own .venv dir" in text
    assert "cannot run: Python 2.7.18 is too old to probe" in text
    assert "cannot run: broken:" in text
    assert "a base interpreter (last resort)" in text


def test_need_picks_the_projects_env_first_and_never_an_unrunnable_one(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Path(pick([], ">=3.8").chosen.env.path) == layout["own"]  # type: ignore[union-attr]
    # Outside the project: the active env beats other envs and base interpreters.
    monkeypatch.chdir(layout["active"].parent)
    assert Path(pick([], ">=3.8").chosen.env.path) == layout["active"]  # type: ignore[union-attr]
    # A need only the 2.7 env could meet is still not met: it can never be chosen.
    assert pick([], "<3").chosen is None


def test_manager_label_kept_through_a_link_and_when_active(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venvs = Path(os.environ["XDG_CACHE_HOME"]) / "pypoetry" / "virtualenvs"
    poetry = env_at(venvs / "p-AbCdEfGh-py3.11")
    proj = tmp_path / "p"
    proj.mkdir()
    os.symlink(poetry, proj / ".venv")
    monkeypatch.setenv("VIRTUAL_ENV", str(proj / ".venv"))
    monkeypatch.chdir(proj)
    (env,) = [e for e in discover(include_global=False) if e.path == str(poetry)]
    assert (env.kind, env.source, env.active) == ("poetry", "poetry", True)


def test_a_conda_base_is_a_base_interpreter_and_its_named_env_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install = tmp_path / "miniconda3"
    for prefix in (install, install / "envs" / "work"):
        (prefix / "conda-meta").mkdir(parents=True)
        (prefix / "bin").mkdir()
        os.symlink(BASE, prefix / "bin" / "python")
        (prefix / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
         ).mkdir(parents=True)
    monkeypatch.setenv("CONDA_EXE", str(install / "bin" / "conda"))
    monkeypatch.chdir(tmp_path)
    tiers = {Path(r.record.env.path): r.tier for r in pick([], None).ranking}
    assert tiers[install] == "base" and tiers[install / "envs" / "work"] == "other"
    chosen = pick([], ">=3.8").chosen
    assert chosen is not None and Path(chosen.env.path) == install / "envs" / "work"


def test_every_kind_of_need_has_its_check() -> None:
    from typing import get_args

    from venvsel import selection
    from venvsel.model import Capability, NeedKind

    assert set(selection._CHECKS) == set(get_args(NeedKind))
    assert get_args(Capability) == selection.CAPABILITIES
