"""The package's layout: module names that shadow nothing and say what they hold."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import venvsel

PKG = Path(venvsel.__file__).parent


def module_files() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_module_shadows_a_stdlib_module() -> None:
    names = {p.stem if p.stem != "__init__" else p.parent.name for p in module_files()}
    assert sorted(names & set(sys.stdlib_module_names)) == []


def test_no_two_modules_share_a_file_name() -> None:
    counts = Counter(p.name for p in module_files() if p.name != "__init__.py")
    assert [name for name, n in counts.items() if n > 1] == []


def test_the_stdlib_still_imports_from_inside_the_package() -> None:
    """The issue that started this: `cd venvsel && python -c 'import subprocess'` failed,
    because a venvsel module shadowed one that subprocess imports."""
    for where in {p.parent for p in module_files()}:
        done = subprocess.run([sys.executable, "-B", "-c", "import subprocess, dataclasses, json"],
                              cwd=where, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (where, done.stderr)
