"""The warm pick path (every cache entry fresh) starts no process and never imports rich."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_venvsel

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter so sys.modules tells the truth about what the warm path loads.
PROBE = r"""
import json, os, subprocess, sys
def refuse(*a, **k):
    raise AssertionError("the warm path tried to start a process: %r" % (a[:1],))
subprocess.Popen = refuse
os.posix_spawn = refuse
os.fork = refuse
from venvsel.cli import main
code = main(["pick", "--need", "torch"])
rich = any(m == "rich" or m.startswith("rich.") for m in sys.modules)
heavy = sorted(m for m in ("torch", "numpy", "gguf", "llama_cpp") if m in sys.modules)
print(json.dumps({"code": code, "rich": rich, "heavy": heavy}))
"""


def test_warm_pick_spawns_nothing_and_skips_rich(seed_project: Path) -> None:
    cold = run_venvsel("pick", "--need", "torch", cwd=seed_project)  # fills the cache
    assert cold.returncode == 0, cold.stderr
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=seed_project, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == str(seed_project / ".venv310")
    report = json.loads(lines[-1])
    assert report == {"code": 0, "rich": False, "heavy": []}
