"""A tree of N real, cheap envs laid out as N projects: ``ROOT/p1/.venv`` … ``ROOT/pN/.venv``.

Each env is what ``python -m venv --without-pip`` leaves, made by hand so that 5,000 of them
take seconds: ``pyvenv.cfg`` (home, version), ``bin/python`` and ``bin/python3`` linked to a
real interpreter, ``lib/pythonX.Y/site-packages`` with one small distribution's dist-info.
Every env runs (its python is the base interpreter); none has torch, so ``pick --need torch``
over the tree fails for every env with the same reason.

Standalone (stdlib only), so the benchmarks and other machines can use it:

    python benchmarks/envtree.py ROOT --envs 1000 [--python /usr/bin/python3]

An existing tree of the same size and interpreter is reused (a marker file records both).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

MARKER = ".venvsel-envtree"


def _version(python: str) -> str:
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        return ".".join(str(x) for x in sys.version_info[:3])
    out = subprocess.run([python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def make_env(dest: Path, base: str, version: str) -> None:
    """One venv layout at ``dest`` whose interpreter is ``base``."""
    short = ".".join(version.split(".")[:2])
    (dest / "bin").mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3"):
        link = dest / "bin" / name
        if not os.path.lexists(link):
            os.symlink(base, link)
    site = dest / "lib" / f"python{short}" / "site-packages"
    info = site / "six-1.16.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n\n")
    (site / "six.py").write_text("")
    (dest / "pyvenv.cfg").write_text(
        f"home = {os.path.dirname(base)}\ninclude-system-site-packages = false\n"
        f"version = {version}\n"
    )


# A stand-in torch: what a live probe imports (``torch.__version__``, ``torch.version``,
# ``torch.cuda.is_available()``), so that ``pick --need torch`` is satisfied by a project of
# cheap envs and can be timed warm on any machine. Not a torch: no kernels, no GPU.
STUB_TORCH = {
    "torch/__init__.py": "from . import cuda, version\n__version__ = version.__version__\n",
    "torch/version.py": "__version__ = '2.5.0+cpu'\ncuda = None\nhip = None\n",
    "torch/cuda/__init__.py": "def is_available():\n    return False\n\n"
                              "def device_count():\n    return 0\n",
    "torch-2.5.0+cpu.dist-info/METADATA": "Metadata-Version: 2.1\nName: torch\n"
                                          "Version: 2.5.0+cpu\n\n",
}


def make_project(root: Path, python: str | None = None) -> Path:
    """A project of three cheap envs (``.venv`` with the stand-in torch, ``.venv-b``,
    ``venv-c``): the layout a warm ``pick --need torch`` / ``activate`` is timed in."""
    base = os.path.realpath(python or getattr(sys, "_base_executable", sys.executable))
    version = _version(base)
    for name in (".venv", ".venv-b", "venv-c"):
        make_env(root / name, base, version)
    site = next((root / ".venv" / "lib").glob("python*/site-packages"))
    for rel, text in STUB_TORCH.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    return root


def make_tree(root: Path, n: int, python: str | None = None) -> Path:
    """``root/p1/.venv`` … ``root/pN/.venv``; reused when already built for n and python."""
    base = os.path.realpath(python or getattr(sys, "_base_executable", sys.executable))
    stamp = f"{n}\n{base}\n"
    marker = root / MARKER
    if marker.is_file() and marker.read_text() == stamp:
        return root
    version = _version(base)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        make_env(root / f"p{i}" / ".venv", base, version)
    marker.write_text(stamp)
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--envs", type=int, default=1000)
    ap.add_argument("--python", default=None, help="base interpreter (default: this one's)")
    args = ap.parse_args()
    print(make_tree(args.root, args.envs, args.python))


if __name__ == "__main__":
    main()
