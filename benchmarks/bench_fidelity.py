"""Fidelity of `venvsel bench`: its tg against a bare llama_cpp decode loop, same env, same model.

The bench worker runs inside the env with a job file, a log callback, phase markers and a
result file; the direct loop is the least code that can time the same thing (load, one
warm-up token, then n_gen single-token decodes with llama_batch_get_one, memory cleared
before each repetition). Both run in the env's own interpreter, interleaved round by round
(bench then direct, direct then bench, ...) so that load from other processes on a shared
machine hits both alike. Reported: median and best tg of each, and bench's overhead in
percent (positive = bench slower) as the median of the per-round paired differences, plus
best against best. Target: within 5 %.

Usage:
    python benchmarks/bench_fidelity.py [--env PATH] [--synthetic tiny] [--quant q4_0]
        [--rounds 10] [--reps 5] [--n-gen 128] [--threads 1]

Without --env it uses the cached llama-cpp-python CPU test env (tests/envs.py), building
it on first use. Prints one JSON object (the lead records it in docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from venvsel import proc
from venvsel.bench import results as bench_results
from venvsel.bench import run as bench_run
from venvsel.bench import synth
from venvsel.bench.matrix import Cell, Matrix
from venvsel.model import Env

DIRECT = r"""
import ctypes, json, sys, time
import llama_cpp
job = json.load(open(sys.argv[1]))
llm = llama_cpp.Llama(model_path=job["model"], n_gpu_layers=0, n_ctx=job["n_ctx"],
                      n_batch=512, n_threads=job["threads"], n_threads_batch=job["threads"],
                      verbose=False)
ctx = llm.ctx
mem = llama_cpp.llama_get_memory(ctx)
tok = (llama_cpp.llama_token * 1)(llm.token_bos())
def tg(n):
    for _ in range(n):
        if llama_cpp.llama_decode(ctx, llama_cpp.llama_batch_get_one(tok, 1)) != 0:
            raise SystemExit("llama_decode failed")
        llama_cpp.llama_synchronize(ctx)
llama_cpp.llama_memory_clear(mem, True)
tg(1)
out = []
for _ in range(job["reps"]):
    llama_cpp.llama_memory_clear(mem, True)
    t = time.perf_counter()
    tg(job["n_gen"])
    out.append(job["n_gen"] / (time.perf_counter() - t))
json.dump(out, open(job["result"], "w"))
"""


def default_env() -> str:
    from tests import envs

    return str(envs.cached_env(envs.EnvSpec("llama-cpu", packages=(envs.LLAMA,))))


def direct_tg(python: str, model: str, threads: int, n_gen: int, reps: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        script, job_path, result = (os.path.join(tmp, n) for n in ("d.py", "j.json", "r.json"))
        Path(script).write_text(DIRECT)
        Path(job_path).write_text(json.dumps({
            "model": model, "threads": threads, "n_gen": n_gen, "reps": reps,
            "n_ctx": max(512, n_gen + 16), "result": result,
        }))
        done = proc.run([python, "-I", script, job_path], timeout=600, env=proc.clean_env())
        if done.returncode != 0:
            raise SystemExit(f"direct loop failed: {done.stderr_tail()}")
        samples: list[float] = json.loads(Path(result).read_text())
        return samples


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--env", default=None)
    ap.add_argument("--synthetic", default="tiny", choices=sorted(synth.SHAPES))
    ap.add_argument("--quant", default="q4_0", choices=synth.QUANTS)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--n-gen", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()

    env_path = os.path.realpath(a.env or default_env())
    from venvsel.discover import env_from_path

    env: Env = env_from_path(env_path)
    assert env.interpreter is not None
    model = synth.ensure_model(a.synthetic, a.quant, progress=False)
    params = bench_results.BenchParams(
        reps=a.reps, matrix=Matrix(n_prompt=(0,), n_gen=(a.n_gen,), threads=(a.threads,)),
        n_ctx=max(512, a.n_gen + 16), doc=None, e2e_gen=0)
    plan = bench_results.RunPlan(env, bench_results.ModelRef(str(model.path), model.label, a.quant),
                             "cpu", 0, False, cell=Cell(threads=a.threads))
    bench_samples: list[float] = []
    direct_samples: list[float] = []
    paired: list[float] = []  # per round: bench median / direct median - 1, in percent
    for i in range(a.rounds):
        # Alternate which goes first, so neither always runs right after the other.
        order = ("bench", "direct") if i % 2 == 0 else ("direct", "bench")
        got: dict[str, list[float]] = {}
        for who in order:
            if who == "bench":
                r = bench_run.run_one(plan, params, i)
                if r.status != "ok" or r.tg is None:
                    raise SystemExit(f"bench run failed: {r.status} {r.detail}")
                got[who] = list(r.tg.samples)
            else:
                got[who] = direct_tg(env.interpreter, str(model.path), a.threads, a.n_gen, a.reps)
        bench_samples.extend(got["bench"])
        direct_samples.extend(got["direct"])
        bm, dm = statistics.median(got["bench"]), statistics.median(got["direct"])
        paired.append((dm - bm) / dm * 100.0)
    b = statistics.median(bench_samples)
    d = statistics.median(direct_samples)
    overhead = statistics.median(paired)
    best = (max(direct_samples) - max(bench_samples)) / max(direct_samples) * 100.0
    print(json.dumps({
        "benchmark": "bench_fidelity",
        "env": env_path,
        "model": f"{model.label} {a.quant}",
        "threads": a.threads,
        "n_gen": a.n_gen,
        "rounds": a.rounds,
        "reps_per_round": a.reps,
        "bench_tg_median": round(b, 1),
        "direct_tg_median": round(d, 1),
        "bench_tg_stdev": round(statistics.stdev(bench_samples), 1),
        "direct_tg_stdev": round(statistics.stdev(direct_samples), 1),
        "bench_tg_best": round(max(bench_samples), 1),
        "direct_tg_best": round(max(direct_samples), 1),
        # Bench's cost in % of the direct loop's speed (positive: bench slower): the median
        # of the per-round paired differences, which cancels the machine's slow drifts.
        "overhead_pct": round(overhead, 2),
        "overhead_pct_rounds": [round(x, 2) for x in paired],
        "overhead_best_pct": round(best, 2),
        "target_pct": 5.0,
        "within_target": abs(overhead) <= 5.0,
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
