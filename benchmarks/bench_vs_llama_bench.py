"""`venvsel bench` against llama.cpp's own `llama-bench`: same model, same settings, interleaved.

llama-bench is built from the llama.cpp source that the llama-cpp-python sdist vendors
(``vendor/llama.cpp``), so both sides run the same llama.cpp. The build is cached under
``~/.cache/venvsel-bench/llama-bench-<sdist sha256[:12]>-<cpu|cuda>/`` (``src/``, ``build/``)
and reused. Then, round by round, alternating which goes first, both run
``-p P -n N -t T -fa F -ngl NGL -r R -o json`` on the same GGUF file; per round the ratio
venvsel / llama-bench of each figure (pp and tg avg_ts); reported: the median of each
tool's per-round figures and the median of the per-round ratios. Targets (issue 17): within
5 % (pp) and 3 % (tg).

CPU (this machine)::

    python benchmarks/bench_vs_llama_bench.py --synthetic tiny,small --rounds 5 \\
        --out docs/perf/bench_vs_llama_bench_cpu.json

GPU (e.g. the H200; builds with -DGGML_CUDA=on, all layers on the GPU)::

    python benchmarks/bench_vs_llama_bench.py --gpu --cuda-arch 90 --jobs 15 \\
        --env /path/to/cuda-env --synthetic 3b --quant q4_0,q8_0 --fa 0,1 \\
        --out docs/perf/bench_vs_llama_bench_gpu.json

Options worth knowing: ``--sdist F.tar.gz`` (else it is fetched with ``pip download``
into the cache), ``--build-dir DIR`` (an existing llama.cpp build whose ``bin/`` holds
``llama-bench``: nothing is built), ``--same-libs`` (llama-bench loads the env's own
``llama_cpp/lib/*.so`` through LD_LIBRARY_PATH: the same library files on both sides, as in
ANCHORS.md's H200 check), ``--model F.gguf`` (a model of your own instead of the synthetic
ones). Without ``--env`` the cached llama-cpp-python CPU test env (tests/envs.py) is used.

``--control`` is an A/A run: llama-bench runs in venvsel's place too, in the same
interleaving, so the "venvsel / llama-bench" column becomes llama-bench / llama-bench. A
control that lands far from 1.000 says the machine is too noisy right now to settle a 3 %
bound, whatever venvsel measures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from venvsel.bench import synth  # noqa: E402

LLAMA_VERSION = "0.3.36"
_TAR_FILTER: dict[str, Any] = (
    {"filter": "data"} if hasattr(tarfile, "data_filter") else {})  # 3.12+ warns without
CACHE = Path(os.environ.get("VENVSEL_BENCH_CACHE")
             or Path.home() / ".cache" / "venvsel-bench")


PRIORITY: dict[str, Any] = {"nice": 0, "cpus": None}  # set from --nice / --pin


def _measured_child() -> None:
    """Both tools' processes start alike: the same priority, the same CPUs, and each in a
    session of its own.

    The session matters on Linux with ``kernel.sched_autogroup_enabled=1`` (this machine,
    most desktop and many server kernels): the scheduler first shares a CPU between
    sessions' autogroups, and a nice value orders tasks only inside their own group.
    venvsel runs its bench worker in a new session (``proc.run``), so the worker is alone in
    a fresh autogroup; llama-bench, started plainly, shared the calling shell's. Both now
    get the same treatment, and ``--nice`` means the same (little) for both.
    """
    if PRIORITY["nice"]:
        os.nice(PRIORITY["nice"])
    if PRIORITY["cpus"]:
        os.sched_setaffinity(0, PRIORITY["cpus"])


def sh(argv: list[str], *, env: dict[str, str] | None = None, cwd: str | None = None,
       timeout: float = 3600, measured: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False, start_new_session=measured,
                          preexec_fn=_measured_child if measured else None)


def find_sdist(version: str) -> Path:
    """The llama-cpp-python sdist: pip's own client downloads it once into the cache."""
    dest = CACHE / "sdist"
    dest.mkdir(parents=True, exist_ok=True)
    name = f"llama_cpp_python-{version}.tar.gz"
    if not (dest / name).is_file():
        r = sh([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary",
                ":all:", f"llama-cpp-python=={version}", "-d", str(dest)])
        if r.returncode != 0:
            raise SystemExit(f"pip download of the sdist failed:\n{r.stderr[-2000:]}")
    return dest / name


def sha12(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def build_llama_bench(sdist: Path, *, gpu: bool, cuda_arch: str | None, jobs: int) -> Path:
    """Build (once) llama-bench from the sdist's vendored llama.cpp; return the build dir."""
    from filelock import FileLock

    root = CACHE / f"llama-bench-{sha12(sdist)}-{'cuda' if gpu else 'cpu'}"
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root) + ".lock", timeout=7200):
        build = root / "build"
        exe = build / "bin" / "llama-bench"
        if exe.is_file():
            return build
        src = root / "src"
        if not (src / "CMakeLists.txt").is_file():
            shutil.rmtree(src, ignore_errors=True)
            src.mkdir()
            with tarfile.open(sdist) as tf:
                # "<top>/vendor/llama.cpp/" whatever the top folder is called (a trimmed
                # sdist, as carried to a GPU machine, may have been renamed).
                top = next(m.name for m in tf.getmembers()
                           if m.name.endswith("vendor/llama.cpp/CMakeLists.txt"))
                prefix = top[:-len("CMakeLists.txt")]
                members = []
                for m in tf.getmembers():
                    if m.name.startswith(prefix) and len(m.name) > len(prefix):
                        m.name = m.name[len(prefix):]
                        members.append(m)
                tf.extractall(src, members=members, **_TAR_FILTER)
        flags = ["-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=ON", "-DLLAMA_CURL=OFF",
                 "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_BUILD_TESTS=OFF",
                 "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_TOOLS=ON"]
        if gpu:
            flags.append("-DGGML_CUDA=ON")
            if cuda_arch:
                flags.append(f"-DCMAKE_CUDA_ARCHITECTURES={cuda_arch}")
        gen = ["-G", "Ninja"] if shutil.which("ninja") else []
        t0 = time.time()
        for argv in (["cmake", "-S", str(src), "-B", str(build), *gen, *flags],
                     ["cmake", "--build", str(build), f"-j{jobs}", "--target", "llama-bench"]):
            r = sh(argv)
            (root / "build.log").open("a").write(r.stdout + r.stderr)
            if r.returncode != 0:
                raise SystemExit(f"{' '.join(argv)} failed:\n{(r.stdout + r.stderr)[-3000:]}")
        (root / "build-seconds").write_text(f"{time.time() - t0:.0f}\n")
        return build


def env_lib_dir(env: Path) -> Path:
    found = sorted(env.glob("lib*/python3*/site-packages/llama_cpp/lib"))
    if not found:
        raise SystemExit(f"{env} has no site-packages/llama_cpp/lib")
    return found[0]


def _by_test(recs: list[dict[str, Any]]) -> dict[str, float]:
    """Per test, the median of the repetitions' t/s (robust to one repetition that another
    process on the machine slowed down; llama-bench's avg_ts is kept in the raw records)."""
    out = {}
    for r in recs:
        name = "pp" if r["n_prompt"] and not r["n_gen"] else "tg"
        out[name] = statistics.median(float(x) for x in r["samples_ts"])
    return out


def run_llama_bench(build: Path, model: str, a: argparse.Namespace, fa: str,
                    lib_dir: Path | None) -> tuple[dict[str, float], list[dict[str, Any]]]:
    env = dict(os.environ)
    libs = str(lib_dir) if lib_dir else str(build / "bin")
    env["LD_LIBRARY_PATH"] = libs + (":" + env["LD_LIBRARY_PATH"]
                                     if env.get("LD_LIBRARY_PATH") else "")
    argv = [str(build / "bin" / "llama-bench"), "-m", model, "-p", str(a.n_prompt),
            "-n", str(a.n_gen), "-t", str(a.threads), "-fa", fa, "-ngl", str(a.ngl),
            "-r", str(a.reps), "-o", "json"]
    r = sh(argv, env=env, timeout=3600, measured=True)
    if r.returncode != 0:
        raise SystemExit(f"llama-bench failed ({r.returncode}):\n{r.stderr[-3000:]}")
    recs = json.loads(r.stdout)
    return _by_test(recs), recs


def run_venvsel(env: Path, model: str, a: argparse.Namespace,
                fa: str) -> tuple[dict[str, float], list[dict[str, Any]]]:
    argv = [sys.executable, "-m", "venvsel", "bench", "--env", str(env), "--model", model,
            "-p", str(a.n_prompt), "-n", str(a.n_gen), "-t", str(a.threads), "-fa", fa,
            "-ngl", str(a.ngl), "-r", str(a.reps), "--e2e-gen", "0",
            "--tg-loop", getattr(a, "tg_loop", "auto"), "-o", "json"]
    env_vars = dict(os.environ)
    env_vars["PYTHONPATH"] = str(REPO)
    r = sh(argv, env=env_vars, timeout=3600, measured=True)
    if r.returncode != 0:
        raise SystemExit(f"venvsel bench failed ({r.returncode}):\n{r.stderr[-3000:]}")
    recs = json.loads(r.stdout)
    return _by_test(recs), recs


def default_env() -> Path:
    from tests import envs

    return envs.cached_env(envs.EnvSpec("llama-cpu", packages=(envs.LLAMA,)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", default=None, help="env with llama-cpp-python (default: the "
                    "cached CPU test env)")
    ap.add_argument("--synthetic", default="tiny,small",
                    help="synthetic sizes, comma-separated (tiny, small, 1b, 3b)")
    ap.add_argument("--quant", default="q4_0", help="q4_0, q8_0 or both, comma-separated")
    ap.add_argument("--model", action="append", default=[], help="a GGUF of your own")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("-p", "--n-prompt", dest="n_prompt", type=int, default=512)
    ap.add_argument("-n", "--n-gen", dest="n_gen", type=int, default=128)
    ap.add_argument("-t", "--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--fa", default="0", help="flash attention values, comma-separated")
    ap.add_argument("--gpu", action="store_true", help="CUDA build, all layers on the GPU")
    ap.add_argument("--cuda-arch", default=None, help="CMAKE_CUDA_ARCHITECTURES, e.g. 90")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--sdist", default=None, help="llama_cpp_python-X.tar.gz")
    ap.add_argument("--build-dir", default=None, help="existing llama.cpp build dir")
    ap.add_argument("--same-libs", action="store_true",
                    help="llama-bench loads the env's llama_cpp/lib/*.so")
    ap.add_argument("--nice", type=int, default=0,
                    help="niceness of both tools' processes (negative needs root: on a "
                    "shared machine, -10 keeps other work from deciding the figures)")
    ap.add_argument("--pin", default=None,
                    help="CPUs for both tools' processes, e.g. 1 or 0,1 (sched_setaffinity)")
    ap.add_argument("--tg-loop", dest="tg_loop", default="auto", choices=("auto", "c", "python"),
                    help="venvsel bench's token loop for tg (auto: C when a compiler is found)")
    ap.add_argument("--control", action="store_true",
                    help="A/A run: llama-bench in venvsel's place too (the harness's noise "
                    "floor on this machine now)")
    ap.add_argument("--raw", action="store_true",
                    help="keep every llama-bench record of every round in the JSON")
    ap.add_argument("--out", default=None, help="write the JSON here too")
    a = ap.parse_args()
    PRIORITY["nice"] = a.nice
    PRIORITY["cpus"] = {int(x) for x in a.pin.split(",")} if a.pin else None
    a.ngl = 99 if a.gpu else 0

    env = Path(os.path.realpath(a.env)) if a.env else default_env()
    if a.build_dir:
        build = Path(a.build_dir)
        build_how = "given"
    else:
        sdist = Path(a.sdist) if a.sdist else find_sdist(LLAMA_VERSION)
        build = build_llama_bench(sdist, gpu=a.gpu, cuda_arch=a.cuda_arch, jobs=a.jobs)
        build_how = f"built from {sdist.name} (sha256 {sha12(sdist)}…)"
    lib_dir = env_lib_dir(env) if a.same_libs else None

    models: list[tuple[str, str]] = [(m, Path(m).stem) for m in a.model]
    if not a.model:
        for size in a.synthetic.split(","):
            for q in a.quant.split(","):
                sm = synth.ensure_model(size.strip(), q.strip(), progress=False)
                models.append((str(sm.path), f"{sm.label} {q.strip().upper()}"))

    results = []
    for model, label in models:
        for fa in a.fa.split(","):
            rounds: list[dict[str, Any]] = []
            for i in range(a.rounds):
                order = ("llama-bench", "venvsel") if i % 2 == 0 else ("venvsel", "llama-bench")
                got: dict[str, dict[str, float]] = {}
                raw: dict[str, Any] = {}
                for who in order:
                    if who == "llama-bench" or a.control:
                        got[who], raw[who] = run_llama_bench(build, model, a, fa, lib_dir)
                    else:
                        got[who], raw[who] = run_venvsel(env, model, a, fa)
                row: dict[str, Any] = {"order": list(order), "ts": got,
                                       "build_commit": {k: v[0].get("build_commit")
                                                        for k, v in raw.items()}}
                if a.raw:
                    row["raw"] = raw
                rounds.append(row)
                print(f"{label} fa={fa} round {i + 1}: " + ", ".join(
                    f"{k} llama-bench {got['llama-bench'][k]:.1f} venvsel {got['venvsel'][k]:.1f}"
                    for k in ("pp", "tg")), file=sys.stderr)
            summary: dict[str, Any] = {"model": label, "file": model, "fa": fa}
            for k in ("pp", "tg"):
                lb = [r["ts"]["llama-bench"][k] for r in rounds]
                vs = [r["ts"]["venvsel"][k] for r in rounds]
                ratios = [v / b for v, b in zip(vs, lb)]
                summary[k] = {
                    "llama_bench_median": statistics.median(lb),
                    "venvsel_median": statistics.median(vs),
                    "ratio_median": statistics.median(ratios),
                    "ratios": ratios,
                    "target_pct": 5.0 if k == "pp" else 3.0,
                }
                summary[k]["within_target"] = (abs(summary[k]["ratio_median"] - 1) * 100
                                               <= summary[k]["target_pct"])
            summary["rounds"] = rounds
            results.append(summary)

    out: dict[str, Any] = {
        "benchmark": "bench_vs_llama_bench",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "env": str(env),
        "llama_bench": {"build_dir": str(build), "how": build_how,
                        "libs": str(lib_dir) if lib_dir else "its own build"},
        "settings": {"n_prompt": a.n_prompt, "n_gen": a.n_gen, "threads": a.threads,
                     "tg_loop": a.tg_loop, "control": a.control,
                     "ngl": a.ngl, "reps": a.reps, "rounds": a.rounds, "nice": a.nice,
                     "pin": a.pin},
        "figure": "per round, each tool's median t/s over its repetitions; reported: the "
                  "median over rounds, and the median of the per-round ratios",
        "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "results": results,
    }
    text = json.dumps(out, indent=1)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=Path(a.out).parent)
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, a.out)
    print(table(out))
    return 0


def table(out: dict[str, Any]) -> str:
    s = out["settings"]
    lines = [f"pp{s['n_prompt']} / tg{s['n_gen']}, {s['threads']} threads, ngl {s['ngl']}, "
             f"{s['reps']} reps × {s['rounds']} interleaved rounds"
             + (f", nice {s['nice']}" if s.get("nice") else "")
             + (f", pinned to CPU {s['pin']}" if s.get("pin") else "")
             + "; medians; ratio = median of the per-round ratios"
             + ("; CONTROL (A/A): the venvsel column is a second llama-bench run"
                if s.get("control") else ""),
             "",
             "| model | fa | test | llama-bench t/s | venvsel t/s | venvsel / llama-bench "
             "| target |",
             "|---|---:|---|---:|---:|---:|---|"]
    for r in out["results"]:
        for k in ("pp", "tg"):
            x = r[k]
            t = s["n_prompt"] if k == "pp" else s["n_gen"]
            ok = "ok" if x["within_target"] else "MISSED"
            lines.append(f"| {r['model']} | {r['fa']} | {k}{t} | {x['llama_bench_median']:.1f} "
                         f"| {x['venvsel_median']:.1f} | {x['ratio_median']:.3f} | "
                         f"±{x['target_pct']:.0f} % {ok} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
