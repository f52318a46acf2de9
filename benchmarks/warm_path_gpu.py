"""Wall time of whole commands, side by side, interleaved, medians: how a warm
``venvsel pick``/``activate`` compares with ``python -c "import click"`` on one machine
(issue 18 ran it on the H200; docs/gpu-validation.md).

    python benchmarks/warm_path_gpu.py --runs 15 --base click \\
        --cmd 'click=python3 -c "import click"' --cmd 'pick=venvsel pick --need cuda' \\
        --json warm.json

Each round runs every command once, in a rotating order; one warm-up round is not counted.
A command that exits non-zero is reported (its exit code is part of the result).
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cmd", action="append", required=True, help="NAME=COMMAND LINE")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--base", help="NAME of the command the others are compared with")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    cmds = [(n, shlex.split(c)) for n, c in (x.split("=", 1) for x in args.cmd)]
    times: dict[str, list[float]] = {n: [] for n, _ in cmds}
    codes: dict[str, set[int]] = {n: set() for n, _ in cmds}
    for r in range(args.runs + 1):
        k = r % len(cmds)
        for name, argv_ in cmds[k:] + cmds[:k]:
            t0 = time.perf_counter()
            done = subprocess.run(argv_, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  check=False)
            dt = (time.perf_counter() - t0) * 1000
            if r:  # round 0 warms caches
                times[name].append(dt)
                codes[name].add(done.returncode)
    base = statistics.median(times[args.base]) if args.base else None
    out = {}
    for name, argv_ in cmds:
        ts = times[name]
        med = statistics.median(ts)
        out[name] = {"argv": argv_, "median_ms": round(med, 1), "min_ms": round(min(ts), 1),
                     "max_ms": round(max(ts), 1), "runs": len(ts),
                     "exit_codes": sorted(codes[name]),
                     "ratio_to_base": round(med / base, 2) if base else None}
        ratio = f"  {med / base:.2f}x {args.base}" if base else ""
        print(f"{name:24s} median {med:7.1f} ms  (min {min(ts):6.1f}, max {max(ts):6.1f}, "
              f"exit {sorted(codes[name])}){ratio}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"runs": args.runs, "base": args.base, "results": out}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
