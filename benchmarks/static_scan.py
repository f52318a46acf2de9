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
  wall time (with ``python -c pass`` alongside, the interpreter's own start-up);
- cli: the whole ``python -m venvsel scan --static --no-global ROOTS`` (table rendered, machine
  facts read), when the command is there.

Process figures come twice: with byte-code caching (as an installed venvsel runs: pip
compiles .pyc files; here they go to a temporary PYTHONPYCACHEPREFIX, warmed by one run) and
without (PYTHONDONTWRITEBYTECODE=1, as on the project's CI machines: every module compiles
from source on every start).

    python benchmarks/static_scan.py [--envs 20] [--reps 15] [--process-reps 9] > result.json

Target (issue 2): <= 150 ms wall for the static scan of 20 envs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from filelock import FileLock  # noqa: E402

from tests import envs  # noqa: E402 - the test env builder is the one place that builds envs
from venvsel.contents import inspect_env  # noqa: E402
from venvsel.discover import discover  # noqa: E402

CHILD = (
    "import sys\n"
    "from venvsel.discover import discover\n"
    "from venvsel.contents import inspect_env\n"
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


def process_figures(roots: list[str], reps: int, bytecode: bool) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(REPO)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    if bytecode:
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="venvsel-bench-pyc-")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    cmds = {
        "process": [sys.executable, "-c", CHILD, *roots],
        "cli": [sys.executable, "-m", "venvsel", "scan", "--static", "--no-global", *roots],
        "python_startup": [sys.executable, "-c", "pass"],
    }
    out: dict[str, object] = {}
    for name, argv in list(cmds.items()):
        warm = subprocess.run(argv, env=env, check=False, capture_output=True)
        if warm.returncode != 0:
            out[name] = f"unavailable (exit {warm.returncode})"
            del cmds[name]
    # Round-robin, so that load from other work on a shared machine hits every figure alike.
    samples: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(reps):
        for name, argv in cmds.items():
            samples[name].append(wall(argv, env))
    out.update({name: summary(times) for name, times in samples.items()})
    if bytecode:
        shutil.rmtree(env["PYTHONPYCACHEPREFIX"], ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--envs", type=int, default=20)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--process-reps", type=int, default=9)
    args = ap.parse_args()

    farm = env_farm(args.envs)
    load_before = os.getloadavg()[0]
    seed = built_seed()
    roots = [str(farm)] + ([str(seed)] if seed else [])

    local = [scan_once(roots, False) for _ in range(args.reps)]
    glob = [scan_once(roots, True) for _ in range(args.reps)]

    with_pyc = process_figures(roots, args.process_reps, bytecode=True)
    without_pyc = process_figures(roots, args.process_reps, bytecode=False)

    result = {
        "benchmark": "static_scan",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1m_before": round(load_before, 2),
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "roots": roots,
        "envs_scanned": local[0][1],
        "envs_scanned_global": glob[0][1],
        "seed_included": seed is not None,
        "reps": args.reps,
        "in_process": summary([t for t, _ in local]),
        "in_process_global": summary([t for t, _ in glob]),
        "with_bytecode": with_pyc,
        "without_bytecode": without_pyc,
        "target_ms": 150,
    }
    result["meets_target"] = {
        f"{mode}.{name}": fig["median_ms"] <= 150
        for mode, figs in (("with_bytecode", with_pyc), ("without_bytecode", without_pyc))
        for name, fig in figs.items()
        if name != "python_startup" and isinstance(fig, dict)
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
