"""``venvsel bench`` against llama.cpp's own ``llama-bench``, minimal version, for the GPU run
of issue 18 (docs/gpu-validation.md). The full comparison with flash attention on and off is
``benchmarks/bench_vs_llama_bench.py`` (the bench-parity issue); this one needs nothing but
the current ``venvsel bench``, which keeps llama-cpp-python's default (flash attention off),
so llama-bench runs with ``-fa 0`` (its own default is ``auto``, which turns it on on CUDA).

Same files and same libraries on both sides: llama-bench runs with ``LD_LIBRARY_PATH`` set to
the env's ``llama_cpp/lib``, so both time the very ``libllama.so``/``libggml-cuda.so`` that
``venvsel repair`` built; both use the same synthetic GGUF files. The two tools' runs are
interleaved (which one goes first alternates by round), and each figure is the median over
rounds of each run's median (llama-bench: median of its ``samples_ts``; venvsel: its
``median``). Bounds: pp within 5 %, tg within 3 %.

    python benchmarks/gpu_llama_bench_min.py --venvsel venvsel --env .venv \\
        --llama-bench lb/llama-bench --lb-lib lb --model q4_0=A.gguf --model q8_0=B.gguf \\
        --json fidelity.json --markdown fidelity.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

PP_BOUND = 0.05
TG_BOUND = 0.03


def _env(cpu: bool, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if cpu:
        env["CUDA_VISIBLE_DEVICES"] = ""
    else:
        env.pop("CUDA_VISIBLE_DEVICES", None)
    env.update(extra or {})
    return env


def run_llama_bench(args: argparse.Namespace, model: str, cpu: bool, reps: int) -> dict[str, Any]:
    argv = [args.llama_bench, "-m", model, "-p", str(args.n_prompt), "-n", str(args.n_gen),
            "-ngl", "99", "-fa", "0", "-r", str(reps), "-o", "json"]
    lib = os.pathsep.join(p for p in (args.lib, args.lb_lib,
                                      os.environ.get("LD_LIBRARY_PATH", "")) if p)
    t0 = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=args.timeout,
                          env=_env(cpu, {"LD_LIBRARY_PATH": lib}), check=False)
    wall = time.monotonic() - t0
    if done.returncode != 0:
        return {"ok": False, "argv": argv, "rc": done.returncode, "stderr": done.stderr[-2000:]}
    tests = json.loads(done.stdout)
    out: dict[str, Any] = {"ok": True, "argv": argv, "wall_s": round(wall, 2)}
    for t in tests:
        kind = "pp" if t["n_gen"] == 0 else "tg"
        samples = [float(x) for x in t.get("samples_ts", [])]
        out[kind] = {"median": statistics.median(samples) if samples else float(t["avg_ts"]),
                     "mean": float(t["avg_ts"]), "stdev": float(t["stddev_ts"]),
                     "samples": samples}
        out.setdefault("info", {k: t.get(k) for k in ("build_commit", "backends", "gpu_info",
                                                       "cpu_info", "n_threads", "n_gpu_layers",
                                                       "flash_attn", "n_batch", "n_ubatch")})
    # which devices llama-bench saw: its stderr has the ggml_cuda_init line
    out["cuda_init"] = [ln for ln in done.stderr.splitlines() if "ggml_cuda_init" in ln][:2]
    return out


def run_venvsel(args: argparse.Namespace, model: str, cpu: bool, reps: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.json")
        argv = [*args.venvsel.split(), "bench", "--env", args.env, "--model", model,
                "--n-gpu-layers", "-1", "--reps", str(reps), "--n-prompt", str(args.n_prompt),
                "--n-gen", str(args.n_gen), "--e2e-gen", "0", "--json", path]
        t0 = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=args.timeout,
                              env=_env(cpu), check=False)
        wall = time.monotonic() - t0
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)["data"]
        except (OSError, ValueError, KeyError):
            return {"ok": False, "argv": argv, "rc": done.returncode,
                    "stderr": done.stderr[-2000:]}
    run = data["runs"][0]
    # with the GPU hidden, venvsel reports the CPU placement as a fallback (exit 1) and still
    # measures: those are the CPU figures to compare with llama-bench's
    accepted = ("ok", "fallback") if cpu else ("ok",)
    if run.get("status") not in accepted or not run.get("pp") or not run.get("tg"):
        return {"ok": False, "argv": argv, "rc": done.returncode, "status": run.get("status"),
                "detail": run.get("detail")}
    placement = run.get("placement") or {}
    return {"ok": True, "argv": argv, "rc": done.returncode, "wall_s": round(wall, 2),
            "pp": {k: run["pp"][k] for k in ("median", "mean", "stdev", "samples")},
            "tg": {k: run["tg"][k] for k in ("median", "mean", "stdev", "samples")},
            "verdict": run.get("verdict"), "threads": run.get("threads"),
            "layers": placement.get("devices")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--venvsel", default="venvsel", help="how to run venvsel (split on spaces)")
    ap.add_argument("--env", required=True)
    ap.add_argument("--llama-bench", required=True)
    ap.add_argument("--lib", default="", help="the env's llama_cpp/lib (default: found)")
    ap.add_argument("--lb-lib", default="", help="dir with llama-bench's own shared libs")
    ap.add_argument("--model", action="append", required=True, help="LABEL=PATH.gguf")
    ap.add_argument("--devices", default="gpu,cpu")
    ap.add_argument("--rounds-gpu", type=int, default=3)
    ap.add_argument("--rounds-cpu", type=int, default=2)
    ap.add_argument("--reps-gpu", type=int, default=5)
    ap.add_argument("--reps-cpu", type=int, default=3)
    ap.add_argument("--n-prompt", type=int, default=512)
    ap.add_argument("--n-gen", type=int, default=128)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--json", required=True)
    ap.add_argument("--markdown")
    args = ap.parse_args(argv)
    if not args.lib:
        import glob

        found = glob.glob(os.path.join(args.env, "lib", "python*", "site-packages", "llama_cpp",
                                       "lib"))
        args.lib = found[0] if found else ""
    models = dict(m.split("=", 1) for m in args.model)
    raw: list[dict[str, Any]] = []
    for device in args.devices.split(","):
        cpu = device == "cpu"
        rounds = args.rounds_cpu if cpu else args.rounds_gpu
        reps = args.reps_cpu if cpu else args.reps_gpu
        for r in range(rounds):
            for label, path in models.items():
                order = ("llama-bench", "venvsel") if r % 2 == 0 else ("venvsel", "llama-bench")
                for tool in order:
                    fn = run_llama_bench if tool == "llama-bench" else run_venvsel
                    res = fn(args, path, cpu, reps)
                    res.update(tool=tool, device=device, model=label, round=r)
                    raw.append(res)
                    pp = res.get("pp", {}).get("median")
                    tg = res.get("tg", {}).get("median")
                    print(f"[{device} {label} round {r}] {tool}: "
                          + (f"pp {pp:,.1f} tg {tg:,.2f}" if res["ok"] else f"FAILED {res}"),
                          flush=True)
    table = []
    for device in args.devices.split(","):
        for label in models:
            row: dict[str, Any] = {"device": device, "model": label, "fa": 0}
            for tool in ("llama-bench", "venvsel"):
                runs = [x for x in raw if x["tool"] == tool and x["device"] == device
                        and x["model"] == label and x["ok"]]
                for kind in ("pp", "tg"):
                    meds = [x[kind]["median"] for x in runs]
                    row[f"{tool}_{kind}"] = statistics.median(meds) if meds else None
                    row[f"{tool}_{kind}_rounds"] = meds
            for kind, bound in (("pp", PP_BOUND), ("tg", TG_BOUND)):
                a, b = row[f"llama-bench_{kind}"], row[f"venvsel_{kind}"]
                row[f"{kind}_diff"] = (b - a) / a if a and b else None
                row[f"{kind}_ok"] = row[f"{kind}_diff"] is not None and abs(
                    row[f"{kind}_diff"]) <= bound
            table.append(row)
    result = {"bounds": {"pp": PP_BOUND, "tg": TG_BOUND}, "table": table, "runs": raw,
              "args": {k: v for k, v in vars(args).items()}}
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
    lines = ["| device | model | fa | llama-bench pp512 | venvsel pp512 | diff | "
             "llama-bench tg128 | venvsel tg128 | diff |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in table:
        def fmt(v: float | None, nd: int) -> str:
            return "-" if v is None else f"{v:,.{nd}f}"

        def pct(v: float | None, ok: bool) -> str:
            return "-" if v is None else f"{v * 100:+.1f} %" + ("" if ok else " **out**")

        lines.append(f"| {row['device']} | {row['model']} | 0 | {fmt(row['llama-bench_pp'], 0)} "
                     f"| {fmt(row['venvsel_pp'], 0)} | {pct(row['pp_diff'], row['pp_ok'])} | "
                     f"{fmt(row['llama-bench_tg'], 1)} | {fmt(row['venvsel_tg'], 1)} | "
                     f"{pct(row['tg_diff'], row['tg_ok'])} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(text)
    return 0 if all(r["pp_ok"] and r["tg_ok"] for r in table) else 1


if __name__ == "__main__":
    sys.exit(main())
