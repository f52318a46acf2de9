"""What the interpreter costs venvsel's tg loop: the worker's loop against the same loop in C.

Both run in one process, inside the benched env, on one context and one batch made by the
worker's own code (``venvsel/bench/_worker.py``: ``new_context``, ``Decoder``), alternating
repetition by repetition (which goes first alternates too), memory cleared before each. The
C loop (``benchmarks/tg_loop.c``, compiled here with ``cc``) does per token what
``Decoder.gen`` does: set token and position, ``llama_decode``, ``llama_synchronize``. So the
ratio is the interpreter's share of a tg repetition, with everything else equal: the process,
its memory, the libraries, the context (issue 17's question of where the bench's tg gap to
llama-bench comes from). Where the env's libllama has ``llama_process`` (llama.cpp's
``llama_batch_ext`` API), a third variant runs llama-bench's own loop in C (``c_ext``).
The C loop is the one ``venvsel bench`` runs by default since (``venvsel/bench/tgloop.c``);
the Python loop is its ``--tg-loop python``.

    python benchmarks/tg_loop_ab.py --model M.gguf --rounds 300 --pin 1 --nice -20 \\
        --out docs/perf/tg_loop_ab_tiny.json

Without ``--env`` the cached llama-cpp-python CPU test env (tests/envs.py) is used; without
``--model``, the synthetic tiny Q4_0 model. Needs a C compiler (``cc``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_vs_llama_bench as bvl  # noqa: E402  (started alike: sh(..., measured=True))

REPO = bvl.REPO
C_SOURCE = HERE / "tg_loop.c"

# Runs inside the benched env's interpreter: argv = lib, model, rounds, n_gen, threads.
INNER = r"""
import ctypes, json, sys, time
sys.path.insert(0, REPO)
import llama_cpp
from venvsel.bench import _worker as W

lib_path, model, rounds, n_gen, threads = sys.argv[1:6]
rounds, n_gen, threads = int(rounds), int(n_gen), int(threads)
llm = llama_cpp.Llama(model_path=model, n_threads=threads, n_threads_batch=threads,
                      verbose=False)
ctx = W.new_context(llama_cpp, llm, n_gen)
dec = W.Decoder(llama_cpp, llm, llm.n_batch, 0, ctx=ctx)
lib = ctypes.CDLL(lib_path)
lib.venvsel_tg_loop.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_int] * 2 + [ctypes.c_void_p] * 2
decode_p = ctypes.cast(llama_cpp.llama_decode, ctypes.c_void_p).value
sync_p = ctypes.cast(dec.sync, ctypes.c_void_p).value
b = dec.batch
tokens = dec.gen_tokens(n_gen)
arr = (ctypes.c_int32 * n_gen)(*tokens)

def run_c():
    b.n_seq_id[0] = 1
    b.seq_id[0][0] = 0
    b.logits[0] = 1
    rc = lib.venvsel_tg_loop(ctx, ctypes.addressof(b), ctypes.addressof(arr), n_gen, 0,
                     decode_p, sync_p)
    b.logits[0] = 0
    if rc != 0:
        raise RuntimeError("llama_decode failed in the C loop (%d)" % rc)

variants = {"python": lambda: dec.gen(tokens), "c": run_c}
L = getattr(llama_cpp.llama_cpp, "_lib", None)
if L is not None and hasattr(L, "llama_process") and hasattr(L, "llama_batch_ext_init"):
    lib.tg_loop_ext.argtypes = ([ctypes.c_void_p] * 2 + [ctypes.c_int] * 2
                                + [ctypes.c_void_p] * 8)
    ext = [ctypes.cast(getattr(L, "llama_batch_ext_" + n), ctypes.c_void_p).value
           for n in ("init", "free", "clear", "add_token", "set_pos", "set_output_logits")]
    process_p = ctypes.cast(L.llama_process, ctypes.c_void_p).value

    def run_ext():
        rc = lib.tg_loop_ext(ctx, ctypes.addressof(arr), n_gen, 0, sync_p, *ext, process_p)
        if rc != 0:
            raise RuntimeError("llama_process failed in the C loop (%d)" % rc)

    variants["c_ext"] = run_ext  # llama-bench's own loop: llama_process on a llama_batch_ext
dec.clear()
dec.gen(tokens[:1])  # warm-up: one token, as llama-bench and the worker do
ns = {name: [] for name in variants}
names = list(variants)
for r in range(rounds):
    k = r % len(names)
    order = names[k:] + names[:k]
    for name in (order if r % 2 == 0 else order[::-1]):
        dec.clear()
        t = time.perf_counter_ns()
        variants[name]()
        ns[name].append(time.perf_counter_ns() - t)
print(json.dumps(ns))
"""


def compile_loop(workdir: Path) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise SystemExit("tg_loop_ab: needs a C compiler (cc) to build benchmarks/tg_loop.c")
    out = workdir / "libtgloop.so"
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(out), str(C_SOURCE)], check=True)
    return out


def summarise(ns: dict[str, list[int]], n_gen: int) -> dict[str, Any]:
    """Per C variant: its speed over the Python loop's (median and IQR of the per-round
    ratios) and the difference per token."""
    py = ns["python"]
    out: dict[str, Any] = {"rounds": len(py), "n_gen": n_gen,
                           "python_tps_median": n_gen / (statistics.median(py) / 1e9)}
    for name in (n for n in ns if n != "python"):
        c = ns[name]
        per_round = [a / b for a, b in zip(py, c)]  # c's speed / python's speed
        out[f"{name}_tps_median"] = n_gen / (statistics.median(c) / 1e9)
        out[f"{name}_over_python_median"] = statistics.median(per_round)
        out[f"{name}_over_python_iqr"] = statistics.quantiles(per_round, n=4)[::2]
        out[f"python_cost_us_per_token_vs_{name}"] = (
            (statistics.median(py) - statistics.median(c)) / n_gen / 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", default=None, help="env with llama-cpp-python (default: the "
                    "cached CPU test env)")
    ap.add_argument("--model", default=None, help="GGUF (default: synthetic tiny Q4_0)")
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("-n", "--n-gen", dest="n_gen", type=int, default=128)
    ap.add_argument("-t", "--threads", type=int, default=1)
    ap.add_argument("--nice", type=int, default=0)
    ap.add_argument("--pin", default=None, help="CPUs, e.g. 1 (sched_setaffinity)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    bvl.PRIORITY["nice"] = a.nice
    bvl.PRIORITY["cpus"] = {int(x) for x in a.pin.split(",")} if a.pin else None
    env = Path(a.env) if a.env else bvl.default_env()
    model = a.model or str(bvl.synth.ensure_model("tiny", "q4_0", progress=False).path)
    with tempfile.TemporaryDirectory() as tmp:
        lib = compile_loop(Path(tmp))
        code = f"REPO = {str(REPO)!r}\n" + INNER
        r = bvl.sh([str(env / "bin" / "python"), "-c", code, str(lib), model, str(a.rounds),
                    str(a.n_gen), str(a.threads)], measured=True)
    if r.returncode != 0:
        raise SystemExit(f"tg_loop_ab: the inner run failed:\n{r.stderr[-3000:]}")
    ns = json.loads(r.stdout.strip().splitlines()[-1])
    out = {"benchmark": "tg_loop_ab", "model": os.path.basename(model), "env": str(env),
           "threads": a.threads, "nice": a.nice, "pin": a.pin,
           "load_avg_1m": os.getloadavg()[0], **summarise(ns, a.n_gen), "raw_ns": ns}
    text = json.dumps({k: v for k, v in out.items() if k != "raw_ns"}, indent=1)
    print(text)
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
