"""The click-free front door (venvsel/fast.py): which forms it answers, and that it answers
them exactly as the click CLI does (real processes, real envs, the same cache)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import envs
from venvsel import fast

REPO = Path(__file__).resolve().parents[2]
BASE_PYTHON = Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))

# The click CLI, forced (the module's own main(), which never looks at fast.py).
CLICK = "import sys; from venvsel.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.parametrize("argv, expected", [
    (["pick", "--need", "torch"], ("pick", {"--need": ["torch"]}, [])),
    (["pick", "--need=cuda", "--need", "torch>=2", "--python", ">=3.10", "--root", "a"],
     ("pick", {"--need": ["cuda", "torch>=2"], "--python": [">=3.10"], "--root": ["a"]}, [])),
    (["activate", ".venv", "--shell", "fish"], ("activate", {"--shell": ["fish"]}, [".venv"])),
    (["activate", "--prompt=x", "--need", "llama"],
     ("activate", {"--prompt": ["x"], "--need": ["llama"]}, [])),
])
def test_forms_answered_here(argv: list[str], expected: object) -> None:
    assert fast.parse(argv) == expected


@pytest.mark.parametrize("argv", [
    [], ["scan"], ["--debug", "pick", "--need", "torch"], ["pick", "--json", "--need", "x"],
    ["pick", "--help"], ["pick", "-h"], ["pick", "--need"], ["pick", "--need", ""],
    ["pick", "--python", "a", "--python", "b"], ["pick", "ENV"], ["pick", "--timeout", "3"],
    ["activate", "a", "b"], ["activate", "--shell", "tcsh"], ["activate", "--", "x"],
    ["activate", "--json"], ["deactivate"],
])
def test_other_forms_go_to_click(argv: list[str]) -> None:
    assert fast.parse(argv) is None


def test_shell_choices_agree_with_the_cli() -> None:
    from venvsel.cli import SHELL_CHOICES

    assert fast._SHELLS == SHELL_CHOICES


def _project(root: Path) -> Path:
    for name in (".venv", ".venv-b", "sub/.venv"):
        envs.make_manual_env(BASE_PYTHON, root / name)
    return root


def _both(argv: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], ...]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("VENVSEL_DEBUG", None)
    run = [sys.executable, "-m", "venvsel", *argv]
    click = [sys.executable, "-c", CLICK, *argv]
    return tuple(subprocess.run(a, cwd=cwd, env=env, capture_output=True, text=True,
                                timeout=120, check=False) for a in (run, click))


@pytest.mark.parametrize("argv", [
    ["pick", "--need", "torch"],  # none has torch: exit 1 and the reasons
    ["pick", "--python", ">=3"],
    ["pick", "--python", ">=99"],
    ["pick", "--need", "not a need!"],  # usage error, exit 2
    ["pick", "--need", "torch", "--root", "sub"],
    ["pick", "--root", "missing-dir", "--need", "torch"],
    ["pick"],  # nothing recorded, no need: exit 1 naming the candidates
    ["activate", ".venv", "--shell", "bash"],
    ["activate", "sub/.venv", "--shell", "fish", "--prompt", "p r"],
    ["activate", "--python", ">=3", "--shell", "zsh"],
    ["activate", "nowhere", "--shell", "bash"],
    ["activate", "--need", "torch", "--shell", "pwsh"],
])
def test_answers_exactly_as_the_click_cli(tmp_path: Path, argv: list[str]) -> None:
    project = _project(tmp_path / "proj")
    fast_run, click_run = _both(argv, project)
    assert (fast_run.returncode, fast_run.stdout, fast_run.stderr) == (
        click_run.returncode, click_run.stdout, click_run.stderr)
    assert fast_run.returncode in (0, 1, 2)


def test_recorded_project_env_is_activated_as_by_click(tmp_path: Path) -> None:
    project = _project(tmp_path / "proj")
    (project / ".venvsel.toml").write_text('python = ">=3"\nenv = ".venv-b"\n')
    fast_run, click_run = _both(["activate", "--shell", "bash"], project)
    assert fast_run.returncode == 0, fast_run.stderr
    assert (fast_run.stdout, fast_run.stderr) == (click_run.stdout, click_run.stderr)
    assert str(project / ".venv-b") in fast_run.stdout
    picked = _both(["pick"], project)
    assert picked[0].stdout == picked[1].stdout == str(project / ".venv-b") + "\n"


# In a fresh interpreter, so that sys.modules tells what the answer loaded.
NO_CLICK = r"""
import json, os, subprocess, sys
def refuse(*a, **k):
    raise AssertionError("the warm path tried to start a process: %r" % (a[:1],))
subprocess.Popen = refuse
os.posix_spawn = refuse
os.fork = refuse
from venvsel.fast import run
codes = [run(["pick", "--need", "torch"]), run(["activate", ".venv", "--shell", "bash"])]
loaded = sorted(m for m in ("click", "rich", "filelock", "packaging", "asyncio", "hashlib")
                if m in sys.modules)
print(json.dumps({"codes": codes, "loaded": loaded}))
"""


def test_the_warm_answer_loads_no_click_and_spawns_nothing(tmp_path: Path) -> None:
    project = _project(tmp_path / "proj")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cold = subprocess.run([sys.executable, "-m", "venvsel", "pick", "--need", "torch"],
                          cwd=project, env=env, capture_output=True, text=True, check=False)
    assert cold.returncode == 1, cold.stderr  # fills the cache
    proc = subprocess.run([sys.executable, "-c", NO_CLICK], cwd=project, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"codes": [1, 0], "loaded": []}
