"""Warm `venvsel pick --need torch` and a live `venvsel scan` against the seed's method.

The seed's method: spawn every env's python with ``import torch; torch.cuda.is_available()``
one after the other. Both sides run here, side by side, in one run, over the same real envs:
N virtualenvs whose site-packages hold torch 2.13.0 (CPU build) — linked from one install so
that 20 envs don't cost 20 torch installs; the imports are real.

    python benchmarks/pick_vs_seed.py [--envs 20] [--reps 7] [--live-n 2,4,8] > result.json

Prints JSON; docs/PERFORMANCE.md records the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks._tool import installed_venvsel  # noqa: E402
from tests import envs  # noqa: E402 - the test env builder is the one place that builds envs

SEED_SNIPPET = "import torch; torch.cuda.is_available()"


def torch_env_farm(root: Path, n: int) -> list[Path]:
    """N real venvs with torch importable from their own site-packages (linked, not copied)."""
    source = envs.cached_env(envs.EnvSpec("bench-torch-cpu", packages=(envs.TORCH_CPU,)))
    src_site = next(source.glob("lib/python*/site-packages"))
    out = []
    for i in range(n):
        dest = root / f"proj{i:02d}" / ".venv"
        dest.parent.mkdir(parents=True)
        envs.create_env(envs.EnvSpec(f"farm{i}"), dest)
        site = next(dest.glob("lib/python*/site-packages"))
        for entry in src_site.iterdir():
            if entry.name.startswith(("torch", "_distutils", "pip", "setuptools", "wheel")):
                if entry.name.startswith(("torch",)):
                    os.symlink(entry, site / entry.name)
                continue
            if not (site / entry.name).exists():
                os.symlink(entry, site / entry.name)
        out.append(dest)
    return out


def wall(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def seed_loop(env_dirs: list[Path], env: dict[str, str]) -> float:
    t = time.perf_counter()
    for d in env_dirs:
        subprocess.run([str(d / "bin" / "python"), "-c", SEED_SNIPPET], env=env, check=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--envs", type=int, default=20)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--live-n", default="2,4,8")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="venvsel-bench-"))
    try:
        farm = torch_env_farm(work / "farm", args.envs)
        home = work / "home"
        home.mkdir()
        # As a user runs it: byte-code is read (pip compiled it), not recompiled each start.
        drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env.update(HOME=str(home), PYENV_ROOT=str(home / ".pyenv"),
                   VENVSEL_CACHE_DIR=str(work / "cache"), VENVSEL_CONFIG_DIR=str(work / "cfg"),
                   XDG_CACHE_HOME=str(home / ".cache"), XDG_CONFIG_HOME=str(home / ".config"))
        venvsel = [str(installed_venvsel())]
        roots = [str(work / "farm")]
        # --root points pick at the farm's parent: project-local envs are ROOT/<child>/.venv.
        pick = [*venvsel, "pick", "--need", "torch", "--root", roots[0]]

        # Cold: the first pick inspects 20 envs and confirms one live; then warm it fully.
        subprocess.run([*venvsel, "scan", *roots], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run(pick, env=env, check=True, stdout=subprocess.DEVNULL)
        seed_env = dict(env)

        pick_times, seed_times = [], []
        for _ in range(args.reps):  # interleaved, so both sides see the same machine noise
            pick_times.append(wall(pick, env))
            seed_times.append(seed_loop(farm, seed_env))
        pick_med, seed_med = statistics.median(pick_times), statistics.median(seed_times)

        # Live scan of N envs (every env probed: --refresh) against the sequential loop.
        cores = os.cpu_count() or 1
        one_probe = statistics.median(
            wall([str(farm[0] / "bin" / "python"), "-c", SEED_SNIPPET], seed_env) for _ in range(5)
        )
        live = []
        for n in (int(x) for x in args.live_n.split(",")):
            sub = work / f"live{n}"
            sub.mkdir()
            for i in range(n):
                os.symlink(farm[i].parent, sub / f"p{i}")
            scan_argv = [*venvsel, "scan", "--refresh", "--no-global", str(sub)]
            scans = [wall(scan_argv, env) for _ in range(3)]
            loops = [seed_loop(farm[:n], seed_env) for _ in range(3)]
            bound = 1.1 * math.ceil(n / cores) * one_probe
            live.append({
                "n": n, "scan_median_s": statistics.median(scans),
                "seed_loop_median_s": statistics.median(loops),
                "target_s": bound, "within_target": statistics.median(scans) <= bound,
            })

        print(json.dumps({
            "machine": {"cores": cores, "python": sys.version.split()[0]},
            "envs": args.envs,
            "reps": args.reps,
            "warm_pick_median_s": pick_med,
            "warm_pick_runs_s": pick_times,
            "seed_loop_median_s": seed_med,
            "seed_loop_runs_s": seed_times,
            "speedup": seed_med / pick_med,
            "targets": {"warm_pick_s": 0.080, "speedup": 300},
            "one_probe_median_s": one_probe,
            "live_scan": live,
        }, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
