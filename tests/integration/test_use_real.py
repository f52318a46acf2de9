"""`venvsel use` / `status` / `use --undo` on real projects with real envs, and `venvsel
activate` evaluated by a real bash.

Each test builds its own project in tmp_path (a git repository, so the walk up stops there).
The torch env is the shared cached one (tests/envs.py): it is never modified, only reached
from the project through a symlink, as a project reaches an env kept elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import envs
from tests.conftest import run_venvsel
from venvsel.use import vscode

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the same parser before 3.11
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

REPO = Path(__file__).resolve().parents[2]
TORCH = envs.EnvSpec("bench-torch-cpu", packages=(envs.TORCH_CPU,))  # shared with the bench tests

PYPROJECT = """\
# The seed project: benchmarks Q4 vs Q8 with llama-cpp-python.
[project]
name = "quant-bench"   # keep this comment
version = "0.1.0"
dependencies = [
    "llama-cpp-python",  # the GPU build, we hope
]

[tool.ruff]
line-length = 100  # wide

# a comment after the last table, before end of file
"""

SETTINGS_JSON = """\
{
    // The team's editor settings: must survive.
    "editor.rulers": [100], /* a block comment */
    "files.trimTrailingWhitespace": true,
}
"""

MakeEnv = Callable[..., Path]


def _tree(root: Path) -> dict[str, tuple[str, str]]:
    """Every entry under root (links not followed): kind, content hash or link text, mode."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            mode = oct(stat.S_IMODE(st.st_mode))
            if stat.S_ISLNK(st.st_mode):
                out[str(p.relative_to(root))] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[str(p.relative_to(root))] = ("dir", mode)
            else:
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
                out[str(p.relative_to(root))] = ("file", digest + mode)
    return out


@pytest.fixture
def bash(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Path], Any]:
    """Run a script in a real bash with a `venvsel` command (this checkout) on PATH; the
    command lives outside the project so it does not count as a project file."""
    bin_dir = tmp_path_factory.mktemp("venvsel-bin")
    shim = bin_dir / "venvsel"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m venvsel "$@"\n')
    shim.chmod(0o755)
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(REPO)

    def run(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "--norc", "--noprofile", "-c", script], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=300, check=False)

    return run


Bash = Callable[[str, Path], "subprocess.CompletedProcess[str]"]


ACTIVATE_AND_SHOW = (
    'eval "$(venvsel activate --shell bash)" || exit 9\n'
    'printf "%s\\n" "$VIRTUAL_ENV"\n'
    'python -c "import sys; print(sys.prefix)"\n'
)


def _git_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def _data(proc: subprocess.CompletedProcess[str]) -> Any:
    doc = json.loads(proc.stdout)
    assert doc["venvsel"] == 1
    return doc["data"]


@pytest.mark.slow
def test_use_torch_vscode_link_then_activate_status_undo(tmp_path: Path, make_env: MakeEnv,
                                                         bash: Bash) -> None:
    torch_env = os.path.realpath(envs.cached_env(TORCH))
    root = _git_project(tmp_path)
    old_venv = make_env(".venv")  # a real env already at .venv: moved aside, never lost
    (old_venv / "marker.txt").write_text("the env the team used to activate\n")
    make_env(".venv-gpu")  # bare: no torch
    os.symlink(torch_env, root / ".venv310")
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / ".vscode").mkdir()
    (root / ".vscode" / "settings.json").write_text(SETTINGS_JSON)
    before = _tree(root)

    proc = run_venvsel("use", "--need", "torch", "--vscode", "--link", ".venv", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "Undo with: venvsel use --undo" in proc.stdout

    # pyproject.toml: every old byte where it was; the one new table after them.
    text = (root / "pyproject.toml").read_text()
    assert text.startswith(PYPROJECT)
    assert tomllib.loads(text[len(PYPROJECT):]) == {
        "tool": {"venvsel": {"needs": ["torch"], "env": torch_env}}}
    # VS Code: comments and other settings kept, the interpreter added.
    settings = (root / ".vscode" / "settings.json").read_text()
    for piece in ("// The team's editor settings: must survive.", "/* a block comment */"):
        assert piece in settings
    assert vscode.load(settings) == {**vscode.load(SETTINGS_JSON),
                                     vscode.INTERPRETER_KEY: f"{torch_env}/bin/python"}
    # .venv is the chosen env now; the old one is intact under its backup name.
    assert os.path.islink(root / ".venv")
    assert os.path.realpath(root / ".venv") == torch_env
    backup = root / ".venv.venvsel-backup"
    assert (backup / "marker.txt").read_text() == "the env the team used to activate\n"

    # A plain `venvsel activate` in bash now lands in the recorded env.
    shell = bash(ACTIVATE_AND_SHOW + 'python -c "import torch; print(torch.__version__)"\n',
                  root)
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.splitlines() == [torch_env, torch_env, "2.13.0+cpu"]

    status = run_venvsel("status", "--json", cwd=root / ".vscode")  # from a subdirectory too
    assert status.returncode == 0, status.stderr
    data = _data(status)
    assert (data["state"], data["env"], data["needs"]) == ("ok", torch_env, ["torch"])
    assert run_venvsel("which", "--short", cwd=root).stdout == os.path.basename(torch_env) + "\n"

    undo = run_venvsel("use", "--undo", cwd=root)
    assert undo.returncode == 0, undo.stderr
    assert "moved back to .venv" in undo.stdout
    assert _tree(root) == before  # byte for byte, the old .venv included; no .venvsel/ left

    again = run_venvsel("use", "--undo", cwd=root)
    assert again.returncode == 1
    assert "Nothing to undo" in again.stderr


def test_deleted_env_is_reported_and_activate_picks_again(tmp_path: Path, make_env: MakeEnv,
                                                          bash: Bash) -> None:
    root = _git_project(tmp_path)
    env_a = make_env(".venv-a", packages=("six",))
    env_b = make_env(".venv-b", packages=("six",))
    make_env(".venv")  # bare: never fits
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    proc = run_venvsel("use", "--need", "six", cwd=root)
    assert proc.returncode == 0, proc.stderr
    recorded = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["venvsel"]
    assert recorded == {"needs": ["six"], "env": ".venv-a"}

    shutil.rmtree(env_a)
    status = run_venvsel("status", cwd=root)
    assert status.returncode == 1
    assert f"missing: {env_a} no longer exists" in status.stdout
    assert "will pick again for six" in status.stdout
    assert run_venvsel("status", "--short", cwd=root).stdout == ".venv-a (missing)\n"

    shell = bash(ACTIVATE_AND_SHOW, root)
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.splitlines() == [str(env_b), str(env_b)]
    assert "no longer exists; picking again for six" in shell.stderr

    shutil.rmtree(env_b)
    activate = run_venvsel("activate", "--shell", "bash", cwd=root)
    assert activate.returncode == 1
    assert activate.stdout == ""  # nothing for eval to run
    assert "No environment satisfies six" in activate.stderr
    assert ".venv: six: six is not installed" in activate.stderr
    pick = run_venvsel("pick", cwd=root)  # pick with no --need uses the recorded needs too
    assert pick.returncode == 1
    assert ".venv: six: six is not installed" in pick.stderr


def test_recorded_env_wins_from_a_subdirectory_and_direnv(tmp_path: Path, make_env: MakeEnv,
                                                          bash: Bash) -> None:
    root = _git_project(tmp_path)
    make_env(".venv-a", packages=("six",))
    env_b = make_env(".venv-b", packages=("six",))
    before = _tree(root)
    # .venv-b is not the best pick for six (.venv-a ranks first), but it is what was chosen.
    assert run_venvsel("pick", "--need", "six", cwd=root).stdout == f"{root / '.venv-a'}\n"
    proc = run_venvsel("use", ".venv-b", "--need", "six", "--direnv", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert tomllib.loads((root / ".venvsel.toml").read_text()) == {
        "needs": ["six"], "env": ".venv-b"}  # no pyproject.toml: the project's own file
    # Once recorded, the choice ranks first for --need too (venvsel.ranking), and says why.
    best = run_venvsel("pick", "--need", "six", "--explain", cwd=root)
    assert best.stdout == f"{root / '.venv-b'}\n"
    assert "the project's recorded choice: chosen with `venvsel use`" in best.stderr

    sub = root / "src" / "pkg"
    sub.mkdir(parents=True)
    shell = bash(ACTIVATE_AND_SHOW, sub)
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.splitlines() == [str(env_b), str(env_b)]
    # direnv runs .envrc in bash (watch_file is its builtin); the env it leaves is the one kept.
    direnv = bash("watch_file() { :; }\n. ./.envrc\nprintf '%s\\n' \"$VIRTUAL_ENV\"\n",
                   root)
    assert direnv.returncode == 0, direnv.stderr
    assert direnv.stdout.splitlines() == [str(env_b)]

    shutil.rmtree(sub.parent)
    undo = run_venvsel("use", "--undo", cwd=root)
    assert undo.returncode == 0, undo.stderr
    assert _tree(root) == before


def test_unsafe_vscode_settings_are_refused_and_nothing_changes(tmp_path: Path,
                                                                make_env: MakeEnv) -> None:
    root = _git_project(tmp_path)
    make_env(".venv-a", packages=("six",))
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / ".vscode").mkdir()
    (root / ".vscode" / "settings.json").write_text('{\n  "a": 1\n  "b": 2\n}\n')
    before = _tree(root)
    proc = run_venvsel("use", "--need", "six", "--vscode", cwd=root)
    assert proc.returncode == 2
    assert ".vscode/settings.json cannot be edited safely" in proc.stderr
    assert "line 3" in proc.stderr
    assert _tree(root) == before


def test_undo_never_overwrites_later_hand_edits(tmp_path: Path, make_env: MakeEnv) -> None:
    root = _git_project(tmp_path)
    make_env(".venv-a", packages=("six",))
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / ".vscode").mkdir()
    (root / ".vscode" / "settings.json").write_text(SETTINGS_JSON)
    before = _tree(root)
    assert run_venvsel("use", "--need", "six", "--vscode", cwd=root).returncode == 0

    ours = (root / ".vscode" / "settings.json").read_text()
    theirs = ours.replace("{\n", '{\n    "editor.fontSize": 14,\n', 1)
    (root / ".vscode" / "settings.json").write_text(theirs)
    refused = run_venvsel("use", "--undo", cwd=root)
    assert refused.returncode == 3
    assert ".vscode/settings.json was edited since" in refused.stderr
    assert (root / ".vscode" / "settings.json").read_text() == theirs  # nothing changed
    assert "venvsel" in tomllib.loads((root / "pyproject.toml").read_text())["tool"]

    # pyproject.toml edited elsewhere since is fine: only the venvsel table is put back.
    (root / ".vscode" / "settings.json").write_text(ours)
    py = (root / "pyproject.toml").read_text().replace('version = "0.1.0"', 'version = "0.2.0"')
    (root / "pyproject.toml").write_text(py)
    undo = run_venvsel("use", "--undo", cwd=root)
    assert undo.returncode == 0, undo.stderr
    data = tomllib.loads((root / "pyproject.toml").read_text())
    assert data == tomllib.loads(PYPROJECT.replace('"0.1.0"', '"0.2.0"'))
    assert (root / ".vscode" / "settings.json").read_text() == SETTINGS_JSON
    assert not (root / ".venvsel").exists()
    after = _tree(root)
    assert {k: v for k, v in after.items() if k != "pyproject.toml"} == \
        {k: v for k, v in before.items() if k != "pyproject.toml"}


def test_use_without_needs_or_env_is_a_usage_error(tmp_path: Path) -> None:
    root = _git_project(tmp_path)
    proc = run_venvsel("use", cwd=root)
    assert proc.returncode == 2
    assert "Say what this project needs" in proc.stderr
    assert run_venvsel("use", "--undo", "--vscode", cwd=root).returncode == 2
    status = run_venvsel("status", cwd=root)
    assert status.returncode == 0
    assert "No project settings" in status.stdout
