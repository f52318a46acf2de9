"""pick, doctor and require over many real envs that fail alike: grouped reasons, the
machine's cause first (this machine has no NVIDIA driver)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests import envs
from tests.conftest import run_venvsel

BASE_PYTHON = Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))


def _tree(root: Path, n: int) -> Path:
    version = ".".join(str(x) for x in sys.version_info[:3])  # BASE_PYTHON's own
    for i in range(1, n + 1):
        envs.make_manual_env(BASE_PYTHON, root / f"p{i}" / ".venv", version)
    return root


def test_pick_groups_many_envs_without_torch(tmp_path: Path) -> None:
    root = _tree(tmp_path / "tree", 60)
    proc = run_venvsel("pick", "--need", "torch", "--root", str(root), cwd=root)
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) <= 21, proc.stderr
    assert lines[0] == "No environment satisfies torch:"
    assert lines[1] == ("  60 envs: torch: no torch installed  → fix: install torch into ENV, "
                        "or venvsel repair ENV")
    assert lines[2] == "      p1/.venv, p2/.venv, p3/.venv and 57 more"
    verbose = run_venvsel("pick", "--need", "torch", "--root", str(root), "--verbose", cwd=root)
    assert verbose.returncode == 1
    assert len(verbose.stderr.splitlines()) == 61
    assert "  p42/.venv: torch: no torch installed" in verbose.stderr


def test_pick_cuda_without_a_driver_says_so_first(tmp_path: Path) -> None:
    root = _tree(tmp_path / "tree", 30)
    proc = run_venvsel("pick", "--need", "cuda", "--root", str(root), cwd=root)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[1].startswith("  No NVIDIA driver on this machine, so no env can satisfy cuda")
    assert "venvsel repair" not in proc.stderr
    assert lines[2] == "  30 envs: cuda: no torch installed"
    # run and activate explain the same way
    run = run_venvsel("run", "--need", "cuda", "--", "true", cwd=root)
    assert run.returncode == 1 and "No NVIDIA driver on this machine" in run.stderr
    assert len(run.stderr.splitlines()) <= 21


def test_hidden_gpus_are_the_cause_said_first(tmp_path: Path) -> None:
    root = _tree(tmp_path / "tree", 25)
    env = dict(os.environ, VENVSEL_CUDA_DRIVER="580.95.05", CUDA_VISIBLE_DEVICES="")
    proc = run_venvsel("pick", "--need", "cuda", "--root", str(root), cwd=root, env=env)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[1] == (
        "  CUDA_VISIBLE_DEVICES='' hides every GPU from every env; unset it "
        "(`unset CUDA_VISIBLE_DEVICES`) to use them.")


def test_require_without_a_driver_says_so_first(tmp_path: Path) -> None:
    env_dir = envs.make_manual_env(BASE_PYTHON, tmp_path / "one" / ".venv")
    proc = run_venvsel("require", "--need", "cuda",
                       env={**os.environ, "VIRTUAL_ENV": str(env_dir)}, cwd=tmp_path / "one")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("venvsel: this environment")
    assert lines[1].startswith("  No NVIDIA driver on this machine")


def test_doctor_groups_envs_that_read_the_same(tmp_path: Path) -> None:
    root = _tree(tmp_path / "tree", 24)
    proc = run_venvsel("doctor", str(root), cwd=root)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Environments (24):" in out
    assert "  24 envs  (venv, python " in out
    assert "      p1/.venv, p2/.venv, p3/.venv and 21 more" in out
    assert "(--verbose lists every env)" in out
    assert out.count("neither torch nor llama-cpp-python installed") == 1
    full = run_venvsel("doctor", str(root), "--verbose", cwd=root)
    assert full.stdout.count("neither torch nor llama-cpp-python installed") == 24
