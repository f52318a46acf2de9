"""venvsel installed the way a user installs a CLI tool (its own venv, `pip install .`,
byte-code compiled), so benchmarks time what a user's shell runs — not an editable install
inside a site-packages crowded with other packages' .pth files.

Built once per source tree (keyed by the sha256 of the package's files) under the test cache.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from filelock import FileLock

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.envs import CACHE_ROOT  # noqa: E402


def _source_key() -> str:
    h = hashlib.sha256()
    for f in sorted([REPO / "pyproject.toml", *(REPO / "venvsel").rglob("*")]):
        if f.is_file() and "__pycache__" not in f.parts:
            h.update(str(f.relative_to(REPO)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def installed_venvsel() -> Path:
    """Path of the `venvsel` script of a fresh, non-editable install of this tree."""
    dest = CACHE_ROOT / f"tool-{_source_key()}"
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with FileLock(str(dest) + ".lock", timeout=900):
        script = dest / "bin" / "venvsel"
        if not script.exists():
            subprocess.run([sys.executable, "-m", "venv", str(dest)], check=True)
            subprocess.run([str(dest / "bin" / "python"), "-m", "pip", "install", "-q",
                            "--disable-pip-version-check", str(REPO)], check=True)
    return script
