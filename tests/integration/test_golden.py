"""Golden files: the ``--json`` output of scan, pick, doctor, status and activate on a fixed set
of real envs, byte for byte (issue 12, point 8). They hold behaviour still while the code
around them moves.

The envs (real ones, built with tests/envs.py; cheap: no torch, no compiler):

    ROOT/proj/.venv       venv from pyenv's 3.11, with six==1.17.0 installed (no pip)
    ROOT/proj/.venv-gpu   venv from pyenv's 3.12, nothing installed
    ROOT/proj/.venv39     venv from pyenv's 3.9
    ROOT/proj/.venv310    venv from pyenv's 3.10
    ROOT/pyenv/versions/{2.7.18,3.6.15,3.10.13,3.11.7}
                          minimal envs (pyvenv.cfg + bin/python -> pyenv's interpreter), where
                          the pyenv locator finds them: two too old to probe, two probed

HOME, PYENV_ROOT, the cache, config, state and log dirs are private (tests/conftest.py and
below), so nothing on this machine outside ROOT and pyenv's interpreters is seen.

Machine facts are pinned, not edited out: ``VENVSEL_CUDA_DRIVER`` fixes the driver version
(and the CUDA it supports) and ``CUDA_VISIBLE_DEVICES`` is unset. What must still vary between
machines and runs is normalised by :func:`normalise`, each rule with its reason there.

To regenerate the files deliberately (after a change you mean to make), run

    VENVSEL_UPDATE_GOLDEN=1 python -m pytest tests/integration/test_golden.py

and review ``git diff tests/golden``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests import envs
from tests.conftest import run_venvsel

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = bool(os.environ.get("VENVSEL_UPDATE_GOLDEN"))
DRIVER = "580.65.06"  # pinned with VENVSEL_CUDA_DRIVER: supports CUDA 13.0

# (golden file, argv, expected exit status)
CASES: list[tuple[str, tuple[str, ...], int]] = [
    ("scan", ("scan", "--json"), 0),
    ("scan-static", ("scan", "--static", "--json"), 0),
    ("pick", ("pick", "--json"), 0),
    ("pick-need-six", ("pick", "--need", "six", "--json"), 0),
    ("pick-python", ("pick", "--python", ">=3.12", "--json"), 0),
    ("pick-need-torch", ("pick", "--need", "torch", "--json"), 1),
    ("doctor", ("doctor", "--json"), 0),
    ("status", ("status", "--json"), 0),
    ("activate-bash", ("activate", "--shell", "bash", "--json"), 0),
    ("activate-bash-env", ("activate", ".venv310", "--shell", "bash", "--json"), 0),
]


def _pyenv(version: str) -> Path:
    exe = envs.pyenv_interpreters().get(version)
    if exe is None:
        pytest.fail(f"pyenv's Python {version} is missing: scripts/test.sh installs it")
    return exe


@pytest.fixture(scope="module")
def golden_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("golden")
    proj = root / "proj"
    proj.mkdir()
    made = [
        (envs.EnvSpec(".venv", python=str(_pyenv("3.11")), creator="venv",
                      packages=("six==1.17.0",)), proj / ".venv"),
        (envs.EnvSpec(".venv-gpu", python=str(_pyenv("3.12")), creator="venv"),
         proj / ".venv-gpu"),
        (envs.EnvSpec(".venv39", python=str(_pyenv("3.9")), creator="venv"), proj / ".venv39"),
        (envs.EnvSpec(".venv310", python=str(_pyenv("3.10")), creator="venv"),
         proj / ".venv310"),
    ]
    for spec, dest in made:
        envs.create_env(spec, dest)
    versions = root / "pyenv" / "versions"
    versions.mkdir(parents=True)
    for short in ("2.7", "3.6", "3.10", "3.11"):
        exe = _pyenv(short)
        full = exe.parents[1].name  # versions/<full>/bin/pythonX.Y
        envs.make_manual_env(exe, versions / full)
    return root


def normalise(text: str, root: Path) -> str:
    """What must vary between machines and runs, replaced by a fixed word. Each rule: why."""
    # The temporary root (and the private HOME, cache and state dirs, all under pytest's
    # temp dir): its path differs per run. Real paths too (/tmp may be a link).
    base = Path(os.environ["HOME"]).parent  # tests/conftest.py's private base dir
    for path, word in ((root, "<ROOT>"), (base, "<BASE>")):
        for p in sorted({str(path), os.path.realpath(path)}, key=len, reverse=True):
            text = text.replace(p, word)
    # Where pyenv lives on this machine (its interpreters are the base of every env here).
    for p in sorted({str(envs.PYENV_ROOT), os.path.realpath(envs.PYENV_ROOT)},
                    key=len, reverse=True):
        text = text.replace(p, "<PYENV>")
    doc = json.loads(text)
    _scrub(doc)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# Keys whose values are timings or clock times: they differ on every run.
_TIMES = {"duration_s", "checked_at", "chosen_at", "probed_at", "mtime", "time", "started"}


def _scrub(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _TIMES and isinstance(value, (int, float)) and not isinstance(value, bool):
                node[key] = 0
            elif key == "machine" and isinstance(value, dict):
                _machine(value)
            else:
                _scrub(value)
    elif isinstance(node, list):
        for item in node:
            _scrub(item)


def _machine(m: dict[str, Any]) -> None:
    """Host facts VENVSEL_CUDA_DRIVER cannot pin: the driver actually observed (the override's
    note names it; a note says when none was found), the GPUs and where the GPU facts were
    read from. The pinned driver, the CUDA it supports and the OS name stay as they are."""
    m["notes"] = [re.sub(r"\((the observed driver is [^)]*|no driver was found)\)",
                         "(<OBSERVED DRIVER>)", n) for n in m["notes"]]
    m["notes"] = [n for n in m["notes"] if not n.startswith("No NVIDIA driver found")]
    m["gpus"] = "<GPUS>"
    m["sources"] = [s for s in m["sources"] if s[0] in ("driver_version", "cuda_driver")]


def _run(args: tuple[str, ...], root: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYENV_ROOT"] = str(root / "pyenv")
    env["VENVSEL_CUDA_DRIVER"] = DRIVER
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return run_venvsel(*args, cwd=root / "proj", env=env)


def test_json_output_matches_the_golden_files(golden_root: Path) -> None:
    # One cache for the whole sequence (the live scan fills it; scan --static then shows what
    # it found, as a user sees it); CASES run in order.
    failures = []
    for name, args, code in CASES:
        proc = _run(args, golden_root)
        assert proc.returncode == code, (name, proc.returncode, proc.stderr)
        got = normalise(proc.stdout, golden_root)
        path = GOLDEN / f"{name}.json"
        if UPDATE:
            GOLDEN.mkdir(exist_ok=True)
            path.write_text(got, encoding="utf-8")
            continue
        if not path.exists():
            pytest.fail(f"{path} is missing: run with VENVSEL_UPDATE_GOLDEN=1 to write it")
        want = path.read_text(encoding="utf-8")
        if got != want:
            failures.append(f"{name}: `venvsel {' '.join(args)}` differs from {path}")
            print(f"--- {path}\n+++ got\n{got}")
    assert not failures, "\n".join(failures)
