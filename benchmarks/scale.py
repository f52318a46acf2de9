"""Scale: ``venvsel scan --static`` over 100, 1,000 and 5,000 envs, empty cache and warm.

The envs are ``ROOT/p1/.venv`` … ``ROOT/pN/.venv`` (benchmarks/envtree.py: real venv
layouts linked to this interpreter, built once per size under ``--work``). Each figure is
the median of ``--reps`` whole processes, wall time and CPU time (user + system of the
process), with ``python -c "import click"`` (the floor) timed in the same run, and the
machine's load average beside it. Growth is linear when ms per env stays flat.

    python benchmarks/scale.py --json OUT [--sizes 100,1000,5000] [--reps 5] [--venvsel PATH]

Targets (issue 16): 1,000 envs <= 1 s with an empty cache, <= 0.4 s warm, on 2 cores.
Stdlib only (no test imports).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import envtree  # noqa: E402 - a sibling script, stdlib only
from warm_path import default_venvsel, interpreter_of, run_once  # noqa: E402

TARGETS_S = {1000: {"empty": 1.0, "warm": 0.4}}


def med(xs: list[float]) -> float:
    return round(statistics.median(xs) * 1000, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", dest="out", type=Path, default=None)
    ap.add_argument("--sizes", default="100,1000,5000")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--venvsel", default=None)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "venvsel-scale")
    args = ap.parse_args()

    venvsel = args.venvsel.split() if args.venvsel else default_venvsel()
    python = interpreter_of(venvsel)
    scratch = Path(tempfile.mkdtemp(prefix="venvsel-scale-run-"))
    drop = ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "VENVSEL_DEBUG",
            "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPYCACHEPREFIX"] = str(scratch / "pyc")  # byte-code read, as when installed
    env["HOME"] = str(scratch / "home")
    (scratch / "home").mkdir()
    rows = []
    try:
        floor_argv = [python, "-c", "import click"]
        run_once(floor_argv, env, scratch)
        for n in (int(x) for x in args.sizes.split(",")):
            root = envtree.make_tree(args.work / f"tree-{n}", n, python)
            argv = [*venvsel, "scan", "--static", "--no-global", str(root)]
            load = os.getloadavg()[0]
            empty_w, empty_c, warm_w, warm_c, floor_w = [], [], [], [], []
            for rep in range(args.reps):
                cache = scratch / f"cache-{n}-{rep}"
                env["VENVSEL_CACHE_DIR"] = str(cache)
                w, c = run_once(argv, env, root)  # empty cache: inspects and writes all
                empty_w.append(w)
                empty_c.append(c)
                w, c = run_once(argv, env, root)  # warm: every entry fresh
                warm_w.append(w)
                warm_c.append(c)
                floor_w.append(run_once(floor_argv, env, root)[0])
                shutil.rmtree(cache, ignore_errors=True)
            row = {
                "envs": n,
                "empty_ms": med(empty_w), "empty_cpu_ms": med(empty_c),
                "warm_ms": med(warm_w), "warm_cpu_ms": med(warm_c),
                "floor_ms": med(floor_w),
                "empty_ms_per_env": round(med(empty_w) / n, 3),
                "warm_ms_per_env": round(med(warm_w) / n, 3),
                "load_average_1m": round(load, 2),
                "raw_empty_ms": [round(x * 1000, 1) for x in empty_w],
                "raw_warm_ms": [round(x * 1000, 1) for x in warm_w],
            }
            target = TARGETS_S.get(n)
            if target:
                row["target_ms"] = {k: v * 1000 for k, v in target.items()}
                row["meets_target"] = {"empty": row["empty_ms"] <= target["empty"] * 1000,
                                       "warm": row["warm_ms"] <= target["warm"] * 1000}
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if not k.startswith("raw")}),
                  file=sys.stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result = {
        "benchmark": "scale",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "venvsel": venvsel,
        "command": "venvsel scan --static --no-global ROOT",
        "reps": args.reps,
        "sizes": rows,
    }
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
