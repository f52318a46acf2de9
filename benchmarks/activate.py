"""Warm activation speed: ``eval "$(venvsel activate ENV)"`` in bash, as a user's shell runs it.

venvsel is installed the way a user installs it (benchmarks/_tool.py: its own venv, a
non-editable, byte-compiled install); ENV is a real venv built once into the test cache.
Each figure is the whole process tree, timed by hyperfine (-N, no intermediate shell) when it
is installed, else by a timing loop; medians of ``--runs`` (>= 20) runs after warm-ups:

- activate_bash:         bash -c 'eval "$(venvsel activate ENV --shell bash)"'
- activate_bash_detect:  the same without --shell (the parent shell found through /proc)
- deactivate_bash:       bash -c 'eval "$(venvsel deactivate --shell bash)"' with an env active
- bash_baseline:         bash -c 'eval "$(true)"' (the shell and the substitution alone)
- python_S_pass:         the tool's python -S -c pass (the interpreter, no site)
- python_pass:           the tool's python -c pass
- import_click:          the tool's python -c 'import click'
- core_without_click:    the activation itself through venvsel.shells, without the CLI
                         (what a click-free fast path for `activate` would cost)

plus where the time goes at import (``python -X importtime``, cumulative ms, median of 5).

    python benchmarks/activate.py [--runs 30] > result.json

Target (issue 4): activate_bash median <= 80 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
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

TARGET_MS = 80.0
IMPORT_MODULES = (
    "click", "venvsel.cli", "venvsel.model", "venvsel.shells", "venvsel.shells.operations",
    "venvsel.shells.sh", "venvsel.discover", "shellingham", "dataclasses", "typing",
)


def timed(argv: list[str], runs: int, env: dict[str, str]) -> dict[str, object]:
    """Median and spread of the wall time of ``argv`` (ms)."""
    if shutil.which("hyperfine"):
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            subprocess.run(
                ["hyperfine", "-N", "--warmup", "5", "--runs", str(runs), "--export-json",
                 out.name, "--style", "none", shlex.join(argv)],
                env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            times = json.loads(Path(out.name).read_text())["results"][0]["times"]
        tool = "hyperfine"
    else:
        for _ in range(5):
            subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
        tool = "loop"
    ms = sorted(t * 1000 for t in times)
    return {
        "median_ms": round(statistics.median(ms), 1),
        "mean_ms": round(statistics.fmean(ms), 1),
        "stdev_ms": round(statistics.stdev(ms), 1),
        "min_ms": round(ms[0], 1),
        "max_ms": round(ms[-1], 1),
        "runs": len(ms),
        "timer": tool,
    }


def import_breakdown(python: str, argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """Cumulative import time (ms) of the interesting modules, median of 5 runs."""
    samples: dict[str, list[float]] = {m: [] for m in IMPORT_MODULES}
    totals: list[float] = []
    for _ in range(5):
        proc = subprocess.run([python, "-X", "importtime", *argv], env=env, check=True,
                              capture_output=True, text=True)
        total = 0.0
        for line in proc.stderr.splitlines():
            parts = line.removeprefix("import time:").split("|")
            if len(parts) != 3 or not parts[0].strip().isdigit():
                continue  # the header line, or something else on stderr
            self_us, cumulative_us, name = (part.strip() for part in parts)
            total += int(self_us) / 1000
            if name in samples:
                samples[name].append(int(cumulative_us) / 1000)
        totals.append(total)
    out = {m: round(statistics.median(v), 1) for m, v in samples.items() if v}
    out["all_imports"] = round(statistics.median(totals), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    if args.runs < 20:
        parser.error("--runs must be >= 20")

    script = installed_venvsel()
    python = str(script.parent / "python")
    env_dir = envs.cached_env(envs.EnvSpec("activate-bench", creator="venv"))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("_VENVSEL_")
               and k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "PYTHONHOME")}
    environ["PATH"] = f"{script.parent}{os.pathsep}{environ.get('PATH', '')}"
    bash = ["bash", "--norc", "--noprofile", "-c"]
    # the environment of a shell where the env is active, for the deactivate figure
    code = subprocess.run([str(script), "activate", str(env_dir), "--shell", "bash"],
                          env=environ, capture_output=True, text=True, check=True).stdout
    dump = subprocess.run([*bash, code + "\nenv -0"], env=environ, capture_output=True,
                          check=True).stdout
    active = {}
    for item in dump.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            active[os.fsdecode(key)] = os.fsdecode(value)

    q = shlex.quote
    tool, target = q(str(script)), q(str(env_dir))
    core = (
        "import sys; from venvsel.shells import activation, write; "
        "write(activation(sys.argv[1], shell='bash'))"
    )
    results = {
        "activate_bash": timed(
            [*bash, f'eval "$({tool} activate {target} --shell bash)"'], args.runs, environ),
        "activate_bash_detect": timed(
            [*bash, f'eval "$({tool} activate {target})"'], args.runs, environ),
        "deactivate_bash": timed(
            [*bash, f'eval "$({tool} deactivate --shell bash)"'], args.runs, active),
        "bash_baseline": timed([*bash, 'eval "$(true)"'], args.runs, environ),
        "python_S_pass": timed([python, "-S", "-c", "pass"], args.runs, environ),
        "python_pass": timed([python, "-c", "pass"], args.runs, environ),
        "import_click": timed([python, "-c", "import click"], args.runs, environ),
        "core_without_click": timed([python, "-c", core, str(env_dir)], args.runs, environ),
    }
    breakdown = import_breakdown(
        python, [str(script), "activate", str(env_dir), "--shell", "bash"], environ)
    median = float(results["activate_bash"]["median_ms"])  # type: ignore[arg-type]
    report = {
        "benchmark": "activate",
        "what": 'bash -c \'eval "$(venvsel activate ENV --shell bash)"\', warm, installed tool',
        "target_ms": TARGET_MS,
        "meets_target": median <= TARGET_MS,
        "results": results,
        "import_ms": breakdown,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_1min": round(os.getloadavg()[0], 2),
            "bash": subprocess.run(["bash", "--version"], capture_output=True, text=True,
                                   check=True).stdout.splitlines()[0],
        },
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
