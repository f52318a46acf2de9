"""Issue 17's tg gap across processes: llama-bench against venvsel's worker, with the
worker's Python tg loop and with its C tg loop.

Per round, in alternating order, three processes each run a tg-only test (``-p 0 -n N``)
with R repetitions on the same model, one thread, started alike (a session of their own,
the same nice value and CPUs: ``bench_vs_llama_bench.sh(measured=True)``):

- ``llama-bench``: llama.cpp's own, from the build ``bench_vs_llama_bench.py`` made;
- ``worker``: ``venvsel/bench/_worker.py`` started directly on a job file, as
  ``venvsel bench`` starts it (its Python loop, ``Decoder.gen``);
- ``worker_c``: the same worker, same job, running its C tg loop (``venvsel/bench/tgloop.c``,
  built by ``venvsel/bench/native.py``: set token and position, ``llama_decode``,
  ``llama_synchronize``), as ``venvsel bench --tg-loop c``; ``worker`` is ``--tg-loop python``.

Figure per process: the median of its repetitions' t/s; per round, each worker's figure
over llama-bench's. If ``worker_c`` matches llama-bench and ``worker`` does not, the gap is
the interpreter between two tokens, not the process, the libraries or the context.

    python benchmarks/tg_loop_cross.py --synthetic tiny --rounds 12 --reps 30 --pin 1 \\
        --nice -20 --out docs/perf/tg_loop_cross_tiny.json

``--same-libs`` runs llama-bench on the env's own ``llama_cpp/lib`` (as on the H200, where
the env is a CUDA build and ``CUDA_VISIBLE_DEVICES=`` keeps both on the CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_vs_llama_bench as bvl  # noqa: E402

from venvsel.bench import native  # noqa: E402

WORKER = bvl.REPO / "venvsel" / "bench" / "_worker.py"

def job_for(model: str, reps: int, n_gen: int, threads: int, tmp: str,
            tg_loop: native.TgLoop) -> str:
    """The job file ``venvsel bench`` writes for a tg-only cell (venvsel/bench/run.py)."""
    job = {"mode": "bench", "model": model, "n_gpu_layers": 0, "gpu_asked": False,
           "has_gpu_backend": False,
           "settings": {"n_batch": None, "n_ubatch": None, "threads": threads,
                        "type_k": None, "type_v": None, "flash_attn": "0"},
           "tests": [[0, n_gen]], "n_ctx": 512, "reps": reps, "doc": None, "warmup": True,
           "delay": 0, "e2e_gen": 0, "seed": 0, "tg_loop_lib": tg_loop.lib,
           "tg_loop_note": tg_loop.note,
           "result": os.path.join(tmp, "result.json"), "log": os.path.join(tmp, "log.txt")}
    path = os.path.join(tmp, "job.json")
    Path(path).write_text(json.dumps(job), encoding="utf-8")
    return path


def run_worker(python: Path, tg_loop: native.TgLoop, model: str,
               a: argparse.Namespace) -> list[int]:
    with tempfile.TemporaryDirectory(prefix="tg-cross-") as tmp:
        job = job_for(model, a.reps, a.n_gen, a.threads, tmp, tg_loop)
        env = dict(os.environ, GGML_NO_BACKTRACE="1")
        r = bvl.sh([str(python), "-I", str(WORKER), job], env=env, cwd=tmp, measured=True)
        try:
            data = json.loads(Path(tmp, "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise SystemExit(
                f"the worker left no result ({r.returncode}):\n{r.stderr[-3000:]}") from None
        if data.get("status") != "ok" or data.get("tg_loop") != tg_loop.kind:
            raise SystemExit(f"the worker failed or ran the {data.get('tg_loop')} loop: "
                             f"{data.get('error') or data.get('tg_loop_note')}")
        samples: list[int] = data["tests"][0]["samples_ns"]
        return samples


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", default=None, help="env with llama-cpp-python (default: the "
                    "cached CPU test env)")
    ap.add_argument("--synthetic", default="tiny", help="tiny, small, 1b or 3b")
    ap.add_argument("--quant", default="q4_0")
    ap.add_argument("--model", default=None, help="a GGUF of your own")
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("-n", "--n-gen", dest="n_gen", type=int, default=128)
    ap.add_argument("-t", "--threads", type=int, default=1)
    ap.add_argument("--nice", type=int, default=0)
    ap.add_argument("--pin", default=None, help="CPUs, e.g. 1 (sched_setaffinity)")
    ap.add_argument("--build-dir", default=None, help="a llama.cpp build dir with "
                    "bin/llama-bench (default: the one bench_vs_llama_bench.py builds)")
    ap.add_argument("--same-libs", action="store_true",
                    help="llama-bench loads the env's llama_cpp/lib/*.so")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    bvl.PRIORITY["nice"] = a.nice
    bvl.PRIORITY["cpus"] = {int(x) for x in a.pin.split(",")} if a.pin else None
    a.n_prompt, a.ngl = 0, 0
    env = Path(os.path.realpath(a.env)) if a.env else bvl.default_env()
    python = env / "bin" / "python"
    if a.build_dir:
        build = Path(a.build_dir)
    else:
        build = bvl.build_llama_bench(bvl.find_sdist(bvl.LLAMA_VERSION), gpu=False,
                                      cuda_arch=None, jobs=os.cpu_count() or 2)
    lib_dir = bvl.env_lib_dir(env) if a.same_libs else None
    model = a.model or str(bvl.synth.ensure_model(a.synthetic, a.quant, progress=False).path)

    rows: list[dict[str, Any]] = []
    c_loop = native.prepare("c")
    python_loop = native.prepare("python")
    runs = {
        "llama-bench": lambda: next(
            r for r in bvl.run_llama_bench(build, model, a, "0", lib_dir)[1] if r["n_gen"]
        )["samples_ns"],
        "worker": lambda: run_worker(python, python_loop, model, a),
        "worker_c": lambda: run_worker(python, c_loop, model, a),
    }
    names = list(runs)
    for i in range(a.rounds):
        k = i % len(names)
        order = names[k:] + names[:k]
        if i % 2:
            order.reverse()
        ns = {name: runs[name]() for name in order}
        tps = {name: a.n_gen / (statistics.median(v) / 1e9) for name, v in ns.items()}
        rows.append({"order": order, "tps": tps, "samples_ns": ns})
        print(f"round {i + 1}: " + ", ".join(f"{n} {tps[n]:.1f}" for n in names),
              file=sys.stderr, flush=True)

    summary: dict[str, Any] = {}
    for name in ("worker", "worker_c"):
        ratios = sorted(r["tps"][name] / r["tps"]["llama-bench"] for r in rows)
        summary[name] = {
            "tps_median": statistics.median(r["tps"][name] for r in rows),
            "over_llama_bench_median": statistics.median(ratios),
            "over_llama_bench_iqr": statistics.quantiles(ratios, n=4)[::2] if len(ratios) > 1
            else ratios * 2,
        }
    summary["llama-bench"] = {"tps_median": statistics.median(r["tps"]["llama-bench"]
                                                              for r in rows)}
    out = {"benchmark": "tg_loop_cross", "model": os.path.basename(model), "env": str(env),
           "llama_bench_libs": str(lib_dir) if lib_dir else str(build / "bin"),
           "n_gen": a.n_gen, "reps": a.reps, "rounds": a.rounds, "threads": a.threads,
           "nice": a.nice, "pin": a.pin, "cpu_count": os.cpu_count(),
           "load_avg_1m": round(os.getloadavg()[0], 2), "summary": summary, "rounds_raw": rows}
    print(json.dumps({k: v for k, v in out.items() if k != "rounds_raw"}, indent=1))
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
