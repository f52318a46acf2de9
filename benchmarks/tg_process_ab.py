"""Which process is fast: llama-bench, llama-bench's own code inside a Python process, and
`venvsel bench`, tg only, as separate processes started alike and interleaved.

Issue 17's small-model tg runs 6-13 % faster in `venvsel bench` than in llama-bench on a
contended VM (same .so files, same context parameters). This separates "which code" from
"which kind of process": ``lbpy`` runs ``llama_bench(argc, argv)`` from llama-bench's own
``libllama-bench-impl.so`` inside the env's interpreter (through ctypes), ``lbpyi`` does the
same after ``import llama_cpp`` (numpy and the env's libraries loaded, as in venvsel's
worker). Variants: ``lb``, ``lbpy``, ``lbpyi``, ``vs``; the order rotates every round and
reverses every other cycle. Reported: each variant's median t/s over rounds and the median of
its per-round ratio to the first variant.

    python benchmarks/tg_process_ab.py --synthetic small --rounds 16 --pin 1 --nice -20 \\
        --build-dir ~/.cache/venvsel-bench/llama-bench-<sha>-cpu/build \\
        --out docs/perf/tg_process_ab_small.json

llama-bench runs on the env's own libraries (LD_LIBRARY_PATH), as with bench_vs_llama_bench's
``--same-libs``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_vs_llama_bench as bvl  # noqa: E402  (started alike: sh(..., measured=True))

from venvsel.bench import synth  # noqa: E402

# Runs in the env's interpreter: llama-bench's main, from its library, in this process.
INNER = r"""
import ctypes, os, sys
if os.environ.get("TG_AB_IMPORT"):
    import llama_cpp  # noqa: F401
impl = ctypes.CDLL(os.environ["TG_AB_IMPL"], mode=ctypes.RTLD_GLOBAL)
fn = getattr(impl, "_Z11llama_benchiPPc")  # int llama_bench(int, char **)
fn.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)]
fn.restype = ctypes.c_int
args = ["llama-bench"] + sys.argv[1:]
arr = (ctypes.c_char_p * (len(args) + 1))(*[a.encode() for a in args], None)
rc = fn(len(args), arr)
ctypes.CDLL(None).fflush(None)
sys.exit(rc)
"""

VARIANTS = ("lb", "lbpy", "lbpyi", "vs")


def run(who: str, a: argparse.Namespace, env_dir: Path, build: Path, model: str) -> float:
    """One process of variant ``who``; its median tg t/s over the repetitions."""
    lib_dir = bvl.env_lib_dir(env_dir)
    if who == "lb":
        return bvl.run_llama_bench(build, model, a, a.fa, lib_dir)[0]["tg"]
    if who == "vs":
        return bvl.run_venvsel(env_dir, model, a, a.fa)[0]["tg"]
    env = dict(os.environ, LD_LIBRARY_PATH=str(lib_dir),
               TG_AB_IMPL=str(build / "bin" / "libllama-bench-impl.so"))
    if who == "lbpyi":
        env["TG_AB_IMPORT"] = "1"
    argv = [str(env_dir / "bin" / "python"), "-c", INNER, "-m", model, "-p", "0",
            "-n", str(a.n_gen), "-t", str(a.threads), "-fa", a.fa, "-ngl", "0",
            "-r", str(a.reps), "-o", "json"]
    r = bvl.sh(argv, env=env, measured=True)
    if r.returncode != 0:
        raise SystemExit(f"{who} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return bvl._by_test(json.loads(r.stdout))["tg"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", default=None, help="env with llama-cpp-python (default: the "
                    "cached CPU test env)")
    ap.add_argument("--build-dir", required=True, help="llama.cpp build dir: bin/llama-bench "
                    "and bin/libllama-bench-impl.so")
    ap.add_argument("--synthetic", default="small", help="tiny, small, 1b or 3b")
    ap.add_argument("--model", default=None, help="a GGUF of your own")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--rounds", type=int, default=16)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("-n", "--n-gen", dest="n_gen", type=int, default=128)
    ap.add_argument("-t", "--threads", type=int, default=1)
    ap.add_argument("--fa", default="0")
    ap.add_argument("--nice", type=int, default=0)
    ap.add_argument("--pin", default=None, help="CPUs for the measured processes, e.g. 1")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    a.n_prompt, a.ngl, a.tg_loop = 0, 0, "auto"  # what bench_vs_llama_bench's runners read
    bvl.PRIORITY["nice"] = a.nice
    bvl.PRIORITY["cpus"] = {int(x) for x in a.pin.split(",")} if a.pin else None
    env_dir = Path(os.path.realpath(a.env)) if a.env else bvl.default_env()
    build = Path(a.build_dir)
    model = a.model or str(synth.ensure_model(a.synthetic, "q4_0", progress=False).path)
    names = a.variants.split(",")
    unknown = set(names) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variants: {', '.join(sorted(unknown))}")
    ts: dict[str, list[float]] = {n: [] for n in names}
    for i in range(a.rounds):
        k = i % len(names)
        order = names[k:] + names[:k]
        if (i // len(names)) % 2:
            order = order[::-1]
        got = {w: run(w, a, env_dir, build, model) for w in order}
        for w in names:
            ts[w].append(got[w])
        print(f"round {i + 1}: " + ", ".join(f"{w} {got[w]:.1f}" for w in order),
              file=sys.stderr, flush=True)
    base = names[0]
    summary: dict[str, Any] = {
        w: {"median_ts": statistics.median(ts[w]),
            "ratio_to_" + base: statistics.median(x / y for x, y in zip(ts[w], ts[base])),
            "ts": ts[w]} for w in names}
    out = {"benchmark": "tg_process_ab", "model": model, "env": str(env_dir),
           "settings": {"n_gen": a.n_gen, "threads": a.threads, "fa": a.fa, "reps": a.reps,
                        "rounds": a.rounds, "nice": a.nice, "pin": a.pin},
           "load_avg_1m": round(os.getloadavg()[0], 2), "results": summary}
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
    for w in names:
        print(f"{w:6} median {summary[w]['median_ts']:8.1f} t/s  "
              f"ratio to {base} {summary[w]['ratio_to_' + base]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
