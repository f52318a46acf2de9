"""The warm path against the interpreter's floor, side by side in one run.

A warm ``venvsel pick`` / ``venvsel activate`` runs in shell start-up and prompt hooks. The
floor is what any click program pays before doing anything: ``python -c "import click"``
with the interpreter venvsel runs under. Timed round-robin in one run (so machine load hits
every command alike), medians of ``--runs``:

- floor:            python -c "import click"
- python_pass:      python -c pass (the interpreter alone)
- pick:             venvsel pick --need torch            (cwd: the project, cache warm)
- activate_need:    venvsel activate --need torch --shell bash
- activate_env:     venvsel activate .venv --shell bash
- activate_project: venvsel activate --shell bash       (the env `venvsel use` recorded)

Ratios are each median over the floor's median; the target (issue 16) is <= 1.3.

The project is three cheap envs made here (benchmarks/envtree.py: ``.venv`` holds a
stand-in torch that a live probe imports), or ``--project DIR`` with real envs (e.g. the
test suite's seed project, or a CUDA env on a GPU machine; pass ``--need cuda`` there).
HOME and the cache are private temporary dirs unless ``--real-home``; byte-code is compiled
once into a private prefix and read from there by every command (floor included), as an
installed tool reads what pip compiled. Stdlib only, no test
imports, so it runs on any machine with venvsel installed:

    python benchmarks/warm_path.py --json OUT [--runs 21] [--venvsel PATH] [--project DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import envtree  # noqa: E402 - a sibling script, stdlib only

TARGET = 1.3


def default_venvsel() -> list[str]:
    """The venvsel script beside this interpreter, else on PATH, else ``python -m venvsel``."""
    beside = Path(sys.executable).with_name("venvsel")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("venvsel")
    return [found] if found else [sys.executable, "-m", "venvsel"]


def interpreter_of(venvsel: list[str]) -> str:
    """The python that runs the venvsel script (its #! line), for the floor."""
    if len(venvsel) > 1:
        return venvsel[0]
    with open(venvsel[0], "rb") as f:
        first = f.readline().decode(errors="replace").strip()
    if first.startswith("#!") and "python" in first and " " not in first[2:].strip():
        return first[2:].strip()
    return sys.executable


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system of the process and its children)."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): "
                         f"{err.decode(errors='replace')[-2000:]}")
    return elapsed, usage.ru_utime + usage.ru_stime


def summary(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {"median_ms": round(statistics.median(ms), 2), "min_ms": round(ms[0], 2),
            "max_ms": round(ms[-1], 2), "runs": len(ms)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", dest="out", type=Path, default=None, help="write the result here")
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--venvsel", default=None, help="the venvsel command (default: see above)")
    ap.add_argument("--project", type=Path, default=None, help="a project dir with real envs")
    ap.add_argument("--need", default="torch", help="the need picked (default: torch)")
    ap.add_argument("--env-name", default=".venv", help="the env activated by name")
    ap.add_argument("--real-home", action="store_true", help="keep HOME and the user's cache")
    args = ap.parse_args()

    venvsel = args.venvsel.split() if args.venvsel else default_venvsel()
    python = interpreter_of(venvsel)
    work = Path(tempfile.mkdtemp(prefix="venvsel-warm-"))
    try:
        project = args.project or envtree.make_project(work / "proj", python)
        drop = ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "VENVSEL_DEBUG",
                "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        # Byte-code is read, as an installed tool reads it (pip compiles it); the warm-up
        # runs compile whatever is not yet (an editable install) into a private prefix.
        env["PYTHONPYCACHEPREFIX"] = str(work / "pyc")
        if not args.real_home:
            home = work / "home"
            home.mkdir()
            env.update(HOME=str(home), VENVSEL_CACHE_DIR=str(work / "cache"),
                       VENVSEL_CONFIG_DIR=str(work / "config"),
                       XDG_CACHE_HOME=str(home / ".cache"), XDG_CONFIG_HOME=str(home / ".config"),
                       XDG_DATA_HOME=str(home / ".local" / "share"))
        commands = {
            "floor": [python, "-c", "import click"],
            "python_pass": [python, "-c", "pass"],
            "pick": [*venvsel, "pick", "--need", args.need],
            "activate_need": [*venvsel, "activate", "--need", args.need, "--shell", "bash"],
            "activate_env": [*venvsel, "activate", args.env_name, "--shell", "bash"],
            "activate_project": [*venvsel, "activate", "--shell", "bash"],
        }
        # The project made here records its choice (as `venvsel use` does), so that a bare
        # `activate` resolves it; a --project is never written to: timed only if it records.
        if args.project is None:
            (project / ".venvsel.toml").write_text(
                f'needs = ["{args.need}"]\nenv = "{args.env_name}"\n')
        elif not (project / ".venvsel.toml").exists():
            del commands["activate_project"]
        # Cold runs fill the cache (the first pick confirms its env live: one probe).
        for _ in range(2):
            for argv in commands.values():
                run_once(argv, env, project)
        load_before = os.getloadavg()[0]
        wall: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                w, c = run_once(argv, env, project)
                wall[name].append(w)
                cpu[name].append(c)
        load_after = os.getloadavg()[0]
        results = {name: summary(times) for name, times in wall.items()}
        cpu_results = {name: summary(times) for name, times in cpu.items()}

        def ratios(res: dict[str, dict[str, float]]) -> dict[str, float]:
            floor = res["floor"]["median_ms"]
            return {name: round(r["median_ms"] / floor, 3) for name, r in res.items()
                    if name not in ("floor", "python_pass")}

        result = {
            "benchmark": "warm_path",
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "python": subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                                     capture_output=True, text=True, check=False).stdout.strip(),
            "load_average_1m_before": round(load_before, 2),
            "load_average_1m_after": round(load_after, 2),
            "venvsel": venvsel,
            "project": str(project) if args.project else "envtree.make_project (3 cheap envs)",
            "commands": commands,
            "results": results,
            "ratio_to_floor": ratios(results),
            "cpu_results": cpu_results,
            "cpu_ratio_to_floor": ratios(cpu_results),
            "target_ratio": TARGET,
            "meets_target": {name: r <= TARGET for name, r in ratios(results).items()},
            "raw_wall_ms": {name: [round(x * 1000, 2) for x in xs] for name, xs in wall.items()},
            "raw_cpu_ms": {name: [round(x * 1000, 2) for x in xs] for name, xs in cpu.items()},
        }
        text = json.dumps(result, indent=2)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text + "\n")
        print(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
