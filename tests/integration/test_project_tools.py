"""Real poetry, pipenv, hatch, pdm and uv each make their own project env in a test HOME;
venvsel must find that env from the project's files alone (the same hashing rules), and
plain `pick`, `activate`, `run` and `status` must land in it. Where no env belongs to the
directory, nothing is guessed (exit 1, the candidates and the commands to choose one).

The tools are installed once into a cached env (tests/envs.py's cache, keyed by the pins).
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
from tests.conftest import run_venvsel

pytestmark = pytest.mark.slow

# Pinned: what the tests were written against (also in pyproject.toml's `test` extra).
TOOLS = (
    "poetry==2.5.1",
    "pipenv==2026.10.3",
    "hatch==1.18.2",
    "pdm==2.29.4",
    "hishel[httpx2]==1.4.0",  # pdm 2.29.4 breaks with hishel 2.x (SyncSqliteStorage)
    "uv==0.13.9",
)
PY = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
PRINT_PREFIX = ("python", "-c", "import sys; print(sys.prefix)")


@pytest.fixture(scope="session")
def tools_bin() -> Path:
    return envs.cached_env(envs.EnvSpec("project-tools", packages=TOOLS)) / "bin"


def tool_env(tools_bin: Path) -> dict[str, str]:
    """The test's isolated environment (HOME, XDG dirs from conftest) plus the tools."""
    env = envs.tool_env(dict(os.environ))
    env.update(
        PATH=f"{tools_bin}{os.pathsep}{env.get('PATH', '')}",
        PIPENV_YES="1", PIPENV_NOSPIN="1", PIPENV_IGNORE_VIRTUALENVS="1",
        POETRY_NO_INTERACTION="1", PDM_CHECK_UPDATE="false", PDM_NON_INTERACTIVE="1",
        UV_PYTHON_DOWNLOADS="never", UV_CACHE_DIR=str(Path(env["HOME"]) / ".cache" / "uv"),
        HATCH_ENV_TYPE_VIRTUAL_UV_PATH="", PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return env


def sh(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, f"{argv}: {proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc.stdout


def pyproject(root: Path, name: str, extra: str = "") -> None:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "0.1.0"\nrequires-python = ">=3.8"\n'
        f"dependencies = []\n{extra}")


# --------------------------------------------------------------------------- the tools


def make_poetry(tmp: Path, tb: Path) -> tuple[Path, Path]:
    root = tmp / "poetry-proj"
    pyproject(root, "My_Poetry.Proj", "[tool.poetry]\npackage-mode = false\n")
    env = tool_env(tb)
    sh([str(tb / "poetry"), "env", "use", PY], root, env)
    return root, Path(sh([str(tb / "poetry"), "env", "info", "-p"], root, env).strip())


def make_pipenv(tmp: Path, tb: Path) -> tuple[Path, Path]:
    root = tmp / "pipenv proj"  # a space: pipenv's sanitiser turns it into "_"
    root.mkdir(parents=True)
    env = tool_env(tb)
    sh([str(tb / "pipenv"), "--python", PY], root, env)
    return root, Path(sh([str(tb / "pipenv"), "--venv"], root, env).strip())


def make_hatch(tmp: Path, tb: Path) -> tuple[Path, Path]:
    root = tmp / "hatch-proj"
    pyproject(root, "Hatch_Proj", "[tool.hatch.envs.default]\nskip-install = true\n")
    env = tool_env(tb)
    env["HATCH_PYTHON"] = PY
    sh([str(tb / "hatch"), "env", "create"], root, env)
    return root, Path(sh([str(tb / "hatch"), "env", "find"], root, env).strip())


def make_pdm(tmp: Path, tb: Path) -> tuple[Path, Path]:
    root = tmp / "pdm-proj"
    pyproject(root, "pdm-proj", "[tool.pdm]\ndistribution = false\n")
    env = tool_env(tb)
    sh([str(tb / "pdm"), "venv", "create", "--name", "work", PY], root, env)
    sh([str(tb / "pdm"), "use", "--venv", "work"], root, env)
    python = (root / ".pdm-python").read_text().strip()
    return root, Path(python).parent.parent


def make_uv(tmp: Path, tb: Path) -> tuple[Path, Path]:
    root = tmp / "uv-proj"
    pyproject(root, "uv-proj", "[tool.uv]\npackage = false\n")
    env = tool_env(tb)
    sh([str(tb / "uv"), "sync", "--python", PY], root, env)
    return root, root / ".venv"


MAKERS: dict[str, Callable[[Path, Path], tuple[Path, Path]]] = {
    "poetry": make_poetry, "pipenv": make_pipenv, "hatch": make_hatch, "pdm": make_pdm,
    "uv": make_uv,
}


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("tool", sorted(MAKERS))
def test_plain_commands_land_in_the_tools_env(tool: str, tmp_path: Path, tools_bin: Path) -> None:
    root, env_dir = MAKERS[tool](tmp_path, tools_bin)
    assert (env_dir / "pyvenv.cfg").is_file(), f"{tool} made no env at {env_dir}"
    real = os.path.realpath(env_dir)
    sub = root / "src"
    sub.mkdir()
    for cwd in (root, sub):  # from a subdirectory too, as the tools themselves do
        pick = run_venvsel("pick", cwd=cwd)
        assert pick.returncode == 0, pick.stderr
        assert pick.stdout.strip() == real

    explain = run_venvsel("pick", "--explain", cwd=root)
    assert explain.returncode == 0, explain.stderr
    first = explain.stderr.splitlines()[1]
    label = first.split()[2]  # as the user would write it: ".venv" inside the project
    assert first.startswith("→ 1.") and f"[{tool}" in first, explain.stderr
    assert os.path.realpath(root / label) == real, explain.stderr
    assert f"the project's own env: {tool}" in explain.stderr

    activate = run_venvsel("activate", "--shell", "bash", cwd=root)
    assert activate.returncode == 0, activate.stderr
    bash = subprocess.run(["bash", "-c", activate.stdout + "\npython -c 'import sys; "
                           "print(sys.prefix)'; echo \"$VIRTUAL_ENV\""],
                          capture_output=True, text=True, cwd=root, check=False)
    assert bash.returncode == 0, bash.stderr
    assert [os.path.realpath(x) for x in bash.stdout.split()] == [real, real]

    run = run_venvsel("run", "--", *PRINT_PREFIX, cwd=root)
    assert run.returncode == 0, run.stderr
    assert os.path.realpath(run.stdout.strip()) == real

    status = run_venvsel("status", cwd=root)
    assert status.returncode == 0, status.stderr
    assert f"uses {real}" in status.stdout and "state    tool: " + tool in status.stdout

    # Activated, the env keeps its manager's label (kind and source), not "virtualenv/active".
    scan_env = dict(os.environ, VIRTUAL_ENV=str(env_dir))
    scan = run_venvsel("scan", "--static", "--json", cwd=tmp_path, env=scan_env)
    import json

    recs = json.loads(scan.stdout)["data"]["records"]
    mine = [r["env"] for r in recs if r["env"]["path"] == real]
    assert len(mine) == 1
    expected_kind = "uv" if tool == "uv" else tool
    assert mine[0]["kind"] == expected_kind and mine[0]["active"] is True
    if tool != "uv":  # uv's env is project-local; the others live in their manager's dir
        assert mine[0]["source"] == tool


def test_no_env_of_its_own_means_no_guess(tmp_path: Path, tools_bin: Path) -> None:
    _, other = make_poetry(tmp_path, tools_bin)  # another project's env: a candidate, not a pick
    empty = tmp_path / "empty"
    empty.mkdir()
    for argv in (("pick",), ("activate", "--shell", "bash"), ("run", "--", *PRINT_PREFIX)):
        proc = run_venvsel(*argv, cwd=empty)
        assert proc.returncode == 1, (argv, proc.stdout, proc.stderr)
        assert proc.stdout == ""
        assert "venvsel will not guess" in proc.stderr
        assert "Nearest candidates:" in proc.stderr and "poetry" in proc.stderr
        assert "venvsel activate PATH" in proc.stderr and "venvsel use PATH" in proc.stderr
    # With --need it chooses among all envs by the ranking.
    pick = run_venvsel("pick", "--python", ">=3.8", cwd=empty)
    assert pick.returncode == 0, pick.stderr
    assert pick.stdout.strip() == os.path.realpath(other)


def test_need_met_by_the_projects_env_picks_it(tmp_path: Path, tools_bin: Path) -> None:
    """The issue's case: the project's poetry env has six; --need six must print it, from
    the project and (as the only env that has six) from anywhere."""
    root, env_dir = make_poetry(tmp_path, tools_bin)
    sh([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", "six"], root,
       envs.tool_env(dict(os.environ)))
    other = tmp_path / "elsewhere"
    other.mkdir()
    for cwd in (root, other):
        pick = run_venvsel("pick", "--need", "six", cwd=cwd)
        assert pick.returncode == 0, pick.stderr
        assert pick.stdout.strip() == os.path.realpath(env_dir)


@pytest.mark.parametrize("tool", ["poetry", "pipenv", "hatch"])
def test_deleted_env_says_so(tool: str, tmp_path: Path, tools_bin: Path) -> None:
    root, env_dir = MAKERS[tool](tmp_path, tools_bin)
    shutil.rmtree(env_dir)
    recreate = {"poetry": "poetry env use", "pipenv": "pipenv install",
                "hatch": "hatch env create"}[tool]
    for argv in (("pick",), ("activate", "--shell", "bash")):
        proc = run_venvsel(*argv, cwd=root)
        assert proc.returncode == 1, proc.stderr
        assert "does not exist" in proc.stderr and str(env_dir.name) in proc.stderr
        assert recreate in proc.stderr and "venvsel use PATH" in proc.stderr
    status = run_venvsel("status", cwd=root)
    assert status.returncode == 1
    assert "state    missing" in status.stdout and recreate in status.stdout


# --------------------------------------------------------------------------- hashing rules


def test_hashing_rules_match_the_real_tools(tmp_path: Path, tools_bin: Path) -> None:
    from venvsel import projectenv

    root, env_dir = make_poetry(tmp_path, tools_bin)
    assert env_dir.name == projectenv.poetry_env_name("My_Poetry.Proj", str(root)) + "-py" + \
        ".".join(map(str, sys.version_info[:2]))
    root, env_dir = make_pipenv(tmp_path, tools_bin)
    assert env_dir.name == projectenv.pipenv_env_name(str(root))
    assert env_dir.name.startswith("pipenv_proj-")
    root, env_dir = make_hatch(tmp_path, tools_bin)
    assert env_dir.parent.name == projectenv.hatch_project_id(str(root))
    assert env_dir.parent.parent.name == env_dir.name == "hatch-proj"
    root, env_dir = make_pdm(tmp_path, tools_bin)
    assert env_dir.name == projectenv.pdm_venv_prefix(str(root)) + "work"
    # Each tool's env is exactly what project_envs names first, with the tool's name.
    for tool, maker in MAKERS.items():
        r, e = maker(tmp_path / f"again-{tool}", tools_bin)
        first = projectenv.project_envs(str(r))[0]
        assert (first.tool, first.real, first.exists) == (tool, os.path.realpath(e), True)
