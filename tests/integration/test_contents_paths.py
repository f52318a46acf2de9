"""Packages an env imports from outside its own site-packages are seen statically too.

Regression from the H200 run: `.venv310` saw the machine's CUDA torch through a `.pth` file;
the static scan said "no torch" while the live probe ran a CUDA kernel.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from venvsel.contents import inspect_env
from venvsel.discover import env_from_path
from venvsel.probe import probe_env

pytestmark = pytest.mark.slow


def test_pth_file_pointing_at_another_site_packages(
    seed_project: Path, make_env: object
) -> None:
    env_dir = make_env("pthenv")  # type: ignore[operator]
    site = next(env_dir.glob("lib/python*/site-packages"))
    torch_site = next((seed_project / ".venv").glob("lib/python*/site-packages"))
    (site / "shared-torch.pth").write_text(f"# the machine's torch\n{torch_site}\nimport os\n")
    env = env_from_path(str(env_dir))
    static = inspect_env(env)
    assert static.torch is not None and static.torch.version == "2.13.0+cpu"
    assert static.llama is not None and static.llama.version == "0.3.36"
    live = probe_env(env, timeout=120)  # the interpreter agrees with the files
    assert live.torch_version == "2.13.0+cpu"


def test_system_site_packages_of_the_base(tmp_path: Path) -> None:
    dest = tmp_path / "sys-site"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages",
                    str(dest)], check=True)
    static = inspect_env(env_from_path(str(dest)))
    assert static.include_system_site_packages
    assert static.dist_version("click") is not None  # installed in the base, not the env
    plain = tmp_path / "plain"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(plain)], check=True)
    assert inspect_env(env_from_path(str(plain))).dist_version("click") is None
