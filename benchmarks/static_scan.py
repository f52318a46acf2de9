"""Static scan speed: discover() + inspect_env() over 20 real virtualenvs (+ the seed's 3).

The envs are real (virtualenv from the running interpreter, pip/setuptools seeded), laid out
as 20 projects under one ROOT (``ROOT/projNN/.venv``: the one-level-of-children rule), built
once into the test env cache and reused. The seed project (CPU torch + llama, bare, CUDA
torch) is added as a second ROOT when it has already been built; this script never builds it.

Three figures, each the median of several runs:
- in_process: discover(ROOTS, include_global=False) + inspect_env() for every env, in one
  warm process (what the scan costs on top of venvsel's start-up);
- in_process_global: the same with the global locators on (this machine's pyenv, conda...);
- process: a fresh ``python`` that imports venvsel.discover/inspect and does the same, whole
  wall time (with ``python -c pass`` alongside, the interpreter's own start-up).

    python benchmarks/static_scan.py [--envs 20] [--reps 15] > result.json

Target (issue 2): <= 150 ms wall for the static scan of 20 envs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from filelock import FileLock  # noqa: E402

from tests import envs  # noqa: E402 - the test env builder is the one place that builds envs
from venvsel.discover import discover  # noqa: E402
from venvsel.inspect import inspect_env  # noqa: E402

CHILD = (
    "import sys\n"
    "from venvsel.discover import discover\n"
    "from venvsel.inspect import inspect_env\n"
    "infos = [inspect_env(e) for e in discover(sys.argv[1:], include_global=False)]\n"
)


def env_farm(n: int) -> Path:
    """ROOT with n real bare virtualenvs as ROOT/projNN/.venv, built once and cached."""
    key = envs.EnvSpec(f"static-farm-{n}").key()
    root = envs.CACHE_ROOT / f"static-farm-{n}-{key}"
    envs.CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root) + ".lock", timeout=3600):
        if not (root / envs.MARKER).exists():
            for i in range(n):
                dest = root / f"proj{i:02d}" / ".venv"
                if not (dest / "pyvenv.cfg").exists():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    envs.create_env(envs.EnvSpec(f"farm{i}"), dest)
            (root / envs.MARKER).write_text("ok")
    return root


def built_seed() -> Path | None:
    """The seed project if a test run already built it (newest first); never builds it."""
    done = [p for p in envs.CACHE_ROOT.glob("seed-project-*") if (p / envs.MARKER).exists()]
    return max(done, key=lambda p: p.stat().st_mtime) if done else None


def scan_once(roots: list[str], include_global: bool) -> tuple[float, int]:
    t = time.perf_counter()
    found = discover(roots, include_global=include_global)
    for env in found:
        inspect_env(env)
    return time.perf_counter() - t, len(found)


def summary(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    return {
        "median_ms": round(statistics.median(ms), 2),
        "min_ms": round(min(ms), 2),
        "max_ms": round(max(ms), 2),
        "first_ms": round(ms[0], 2),
    }


def wall(argv: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--envs", type=int, default=20)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--process-reps", type=int, default=7)
    args = ap.parse_args()

    farm = env_farm(args.envs)
    seed = built_seed()
    roots = [str(farm)] + ([str(seed)] if seed else [])

    local = [scan_once(roots, False) for _ in range(args.reps)]
    glob = [scan_once(roots, True) for _ in range(args.reps)]

    child_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    child_env["PYTHONPATH"] = str(REPO)
    reps = range(args.process_reps)
    proc = [wall([sys.executable, "-c", CHILD, *roots], child_env) for _ in reps]
    bare = [wall([sys.executable, "-c", "pass"], child_env) for _ in reps]

    result = {
        "benchmark": "static_scan",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "roots": roots,
        "envs_scanned": local[0][1],
        "envs_scanned_global": glob[0][1],
        "seed_included": seed is not None,
        "reps": args.reps,
        "in_process": summary([t for t, _ in local]),
        "in_process_global": summary([t for t, _ in glob]),
        "process": summary(proc),
        "python_startup": summary(bare),
        "target_ms": 150,
    }
    result["meets_target"] = result["process"]["median_ms"] <= 150
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
