"""Auto-activation decisions (venvsel/auto.py) on real directories and real venvs (the
PowerShell hook and auto code: test_auto_powershell.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shellnames import make_env_dir
from venvsel import auto, shells
from venvsel.shells import operations as p

HOSTILE = "x'$(touch pwned)'y;`touch pwned`\u2019"


def test_project_env_rules(tmp_path: Path) -> None:
    from venvsel import project
    from venvsel.paths import walk_up

    # auto repeats these so a cd outside any project imports neither module nor TOML parser
    assert (auto.SETTINGS_FILE, auto.PYPROJECT) == (project.SETTINGS_FILE, project.PYPROJECT)
    (tmp_path / "r" / ".git").mkdir(parents=True)
    (tmp_path / "r" / "x" / "y").mkdir(parents=True)
    start = str(tmp_path / "r" / "x" / "y")
    # one walk (paths.walk_up) for settings, use's journal and the hook: it ends at the .git dir
    assert walk_up(start) == [start, str(tmp_path / "r" / "x"), str(tmp_path / "r")]
    # a .venv makes a project; from a subdirectory too
    make_env_dir(tmp_path / "a" / ".venv")
    (tmp_path / "a" / "src" / "pkg").mkdir(parents=True)
    found = auto.project_env(str(tmp_path / "a" / "src" / "pkg"))
    assert found is not None
    assert (found.root, found.env) == (str(tmp_path / "a"), str(tmp_path / "a" / ".venv"))
    # a recorded choice wins over .venv
    make_env_dir(tmp_path / "b" / ".venv")
    make_env_dir(tmp_path / "envs" / "gpu")
    (tmp_path / "b" / "pyproject.toml").write_text(
        "[project]\nname='b'\n[tool.venvsel]\nneeds = ['torch']\nenv = '../envs/gpu'\n")
    found = auto.project_env(str(tmp_path / "b"))
    assert found is not None and found.env == str(tmp_path / "envs" / "gpu")
    assert found.needs == ("torch",)
    # settings with needs only: the project's .venv
    (tmp_path / "b" / "pyproject.toml").write_text("[tool]\nvenvsel.needs = ['torch']\n")
    found = auto.project_env(str(tmp_path / "b"))
    assert found is not None and found.env == str(tmp_path / "b" / ".venv")
    # settings and no env at all: a project without an env
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / ".venvsel.toml").write_text("needs = ['cuda']\n")
    found = auto.project_env(str(tmp_path / "c"))
    assert found is not None and found.root == str(tmp_path / "c") and found.env is None
    # a .venv that is not an env does not count; the walk stops at a repository root
    (tmp_path / "d" / ".venv").mkdir(parents=True)
    (tmp_path / "d" / ".git").mkdir()
    assert auto.project_env(str(tmp_path / "d")) is None


def test_untrusted_reason(tmp_path: Path) -> None:
    env_dir = make_env_dir(tmp_path / "e")
    env = shells.resolve_env(str(env_dir), (), None)
    assert auto.untrusted_reason(env) is None
    (env_dir / "bin").chmod(0o777)
    reason = auto.untrusted_reason(env)
    assert reason is not None and "writable by other users" in reason


def _environ(tmp: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp)}


def test_decisions(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    make_env_dir(proj / ".venv")
    venv = str(proj / ".venv")
    environ = _environ(tmp_path)
    # nothing active: activate the project's env
    r = auto.auto_code("bash", None, environ, start=str(proj))
    assert r.action == "activate"
    assert f"_VENVSEL_AUTO_ROOT='{proj}'" in r.code and f"_VENVSEL_AUTO_ENV='{venv}'" in r.code
    # our env active and still the project's: nothing but the state
    active = {**environ, "VIRTUAL_ENV": venv, p.STATE_ENV: venv, p.OLD_PATH: "/usr/bin:/bin"}
    r = auto.auto_code("bash", venv, active, start=str(proj))
    assert r.action == "none" and "export" not in r.code
    # our env active, outside any project: leave it
    (tmp_path / "out").mkdir()
    r = auto.auto_code("bash", venv, active, start=str(tmp_path / "out"))
    assert r.action == "deactivate"
    assert "unset _VENVSEL_AUTO_ROOT" in r.code and "unset _VENVSEL_AUTO_ENV" in r.code
    # an env the user activated: kept, even in a project with another env
    mine = {**environ, "VIRTUAL_ENV": "/somewhere/else"}
    r = auto.auto_code("bash", None, mine, start=str(proj))
    assert r.action == "keep" and "export" not in r.code
    # ... also venvsel's, activated by hand over ours: ours stays remembered in the stack
    over = p.apply_to_environ(p.build_plan(shells.resolve_env(str(make_env_dir(
        tmp_path / "mine")), (), None), active, os_name="posix"), active)
    r = auto.auto_code("bash", venv, over, start=str(tmp_path / "out"))
    assert r.action == "keep" and f"_VENVSEL_AUTO_ENV='{venv}'" in r.code


def test_refusals_say_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / ".venvsel.toml").write_text('env = "missing"\n')
    r = auto.auto_code("zsh", None, _environ(tmp_path), start=str(proj))
    assert r.action == "refuse" and "export" not in r.code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("venvsel: not activating")
    assert "does not exist" in err


def test_hook_auto_is_refused_where_there_is_no_prompt_hook() -> None:
    proc = subprocess.run([sys.executable, "-m", "venvsel", "shell-hook", "cmd", "--auto"],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert proc.returncode == 2 and "--auto is not available for cmd" in proc.stderr


def test_fish_prefix_regex_in_real_fish() -> None:
    """The fish hook tests "inside the project" with `string match -r`: the pattern must match
    exactly the paths under the root, whatever the root holds."""
    from venvsel.shells.fish import quote

    cases = [("/a\\b", "/a\\b/x/", True), ("/a\\E*b", "/a\\E*b/", True),
             ("/a\\E*b", "/a\\Exb/", False), ("/x*", "/xy/", False), ("/a.b", "/axb/", False),
             (f"/{HOSTILE}?[", f"/{HOSTILE}?[/deeper/", True), ("/n\nl", "/n\nlz/", False),
             ("/p", "/p/", True), ("/p", "/pq/", False)]
    code = "\n".join(f"string match -qr -- {quote(auto.prefix_regex(root))} {quote(path)}; "
                     "and echo 1; or echo 0" for root, path, _ in cases)
    out = subprocess.run(["fish", "--no-config", "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == [str(int(want)) for _, _, want in cases]


def test_a_root_ending_in_a_backslash_keeps_it(tmp_path: Path) -> None:
    """On POSIX a backslash is part of a name: the root of `a\\` must not become `a`, or the
    hook would take the sibling `a` for the same project."""
    make_env_dir(tmp_path / "a\\" / ".venv")
    r = auto.auto_code("bash", None, _environ(tmp_path), start=str(tmp_path / "a\\"))
    assert f"_VENVSEL_AUTO_ROOT='{tmp_path}/a\\'\n" in r.code
