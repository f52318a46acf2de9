"""Host side of ``venvsel bench``: choose envs and models, run the worker in each env, judge.

One worker process per run (env, model, device), started with the env's own interpreter
through :func:`venvsel.proc.run` with a timeout. The worker's results come back in a JSON
file and its llama.cpp log in another; the log decides where the layers went. A worker that
dies on a signal or hangs is reported as exactly that, never as a result.

When a GPU is asked of an env whose llama_cpp cannot offload at all, the answer is FALLBACK
before any model is loaded: from the files (a split build without a GPU backend library) or,
when the files cannot tell, from the worker's ``llama_supports_gpu_offload()`` right after
the import. (A CPU-only build segfaults at model load on some GPU machines.)
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from .. import errors, paths, proc
from ..contents import inspect_env
from ..model import Env, LlamaInfo
from ..owners import state_dir_ok
from ..render import Progress
from ..resolve import resolve_env
from ..trust import require_trusted
from . import logparse, native, synth
from .matrix import CACHE_TYPES
from .results import (
    E2E,
    BenchParams,
    BenchRequest,
    Measured,
    ModelRef,
    Report,
    RunPlan,
    RunResult,
)

WORKER = Path(__file__).resolve().parent / "_worker.py"
LOG_TAIL = 12


def _env_label(env: Env) -> str:
    """The env as the user would write it: relative to the cwd, or with ~ for home."""
    if env.shown_path:
        return env.shown_path
    try:
        rel = os.path.relpath(env.path)
    except ValueError:  # another drive on Windows
        rel = env.path
    if not rel.startswith(".."):
        return rel
    home = os.path.expanduser("~")
    if env.path.startswith(home + os.sep):
        return "~" + env.path[len(home):]
    return env.path


def resolve_envs(req: BenchRequest) -> list[Env]:
    """Explicit ``--env`` paths, or the best env for the needs (default: llama / llama-gpu)."""

    if req.envs:
        return [resolve_env(e, list(req.needs), req.python_spec) for e in req.envs]
    needs = list(req.needs)
    if not any(n in ("llama", "llama-gpu") for n in needs):
        needs.append("llama-gpu" if req.gpu and not req.cpu else "llama")
    return [resolve_env(None, needs, req.python_spec)]


def static_llama(env: Env) -> LlamaInfo:
    """The env's llama_cpp build from its files; UnmetError naming a fix when it has none."""

    label = _env_label(env)
    if env.broken:
        raise errors.UnmetError(f"{label} is broken: {env.broken}.",
                                hint=f"Repair it (venvsel repair {label}) or choose another env.")
    if env.interpreter is None:
        raise errors.UnmetError(f"{label} has no Python interpreter to run the benchmark with.")
    info = inspect_env(env).llama
    if info is None and not os.environ.get("LLAMA_CPP_LIB_PATH"):
        raise errors.UnmetError(
            f"{label} has no llama_cpp: llama-cpp-python is not installed in that env, so "
            "there is nothing to benchmark there.",
            hint=f"Install it: {env.interpreter} -m pip install llama-cpp-python "
            f"(for a GPU build: venvsel repair {label}), or let venvsel choose an env that "
            "has it: venvsel bench --need llama",
        )
    return info or LlamaInfo(version="unknown")


def cannot_offload(info: LlamaInfo) -> str | None:
    """Why the files prove this build has no GPU backend; None when they cannot prove it.

    Split builds (0.3+) ship libggml-cpu next to one library per GPU backend; no GPU
    library beside libggml-cpu means CPU-only. A monolithic older build shows nothing and
    is left to the worker's ``llama_supports_gpu_offload()``.
    """
    if info.backends or os.environ.get("LLAMA_CPP_LIB_PATH") or not info.lib_dir:
        return None
    try:
        names = os.listdir(info.lib_dir)
    except OSError:
        return None
    cpu_libs = [n for n in names if n.lower().startswith(("libggml-cpu", "ggml-cpu"))]
    if not cpu_libs:
        return None
    return (f"{info.lib_dir} has {cpu_libs[0]} and no GPU backend library "
            "(libggml-cuda, -metal, -vulkan, ...)")


def plan_runs(req: BenchRequest, envs: Sequence[Env], models: Sequence[ModelRef]) -> list[RunPlan]:
    """One run per env, model, GPU-layer count and settings cell, in llama-bench's order."""
    plans: list[RunPlan] = []
    cells = list(req.params.matrix.cells())
    for env in envs:
        info = static_llama(env)
        static_no_gpu = cannot_offload(info)
        devices = [d for d, on in (("cpu", req.cpu), ("gpu", req.gpu)) if on] or ["auto"]
        for model in models:
            for dev0 in devices:
                if dev0 == "cpu":
                    ngls = [0]
                elif dev0 == "gpu":
                    ngls = list(req.n_gpu_layers or (-1,))
                else:  # like llama-bench: everything on the GPU when the build can offload
                    ngls = list(req.n_gpu_layers or ((-1,) if info.backends else (0,)))
                for ngl in ngls:
                    dev = dev0 if dev0 != "auto" else ("gpu" if ngl != 0 else "cpu")
                    gpu_asked = dev == "gpu" or ngl != 0
                    for cell in cells:
                        plans.append(RunPlan(env, model, dev, ngl, gpu_asked,
                                             static_no_gpu if gpu_asked else None,
                                             info.backends, cell))
    return plans


# --------------------------------------------------------------------------- one run


_private_logs: Path | None = None


def _log_file(index: int) -> Path:
    """Where the worker's log goes (and is read back from): the log dir, unless that dir is
    someone else's or writable by others (trust.py): then a private temporary dir."""

    global _private_logs
    d = paths.log_dir() / "bench"
    if not all(state_dir_ok(x, "log") for x in (paths.log_dir(), d)):
        if _private_logs is None:
            _private_logs = Path(tempfile.mkdtemp(prefix="venvsel-bench-logs-"))
        d = _private_logs
    d.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return d / f"{stamp}-{os.getpid()}-{index}.log"


def _tail(text: str, n: int = LOG_TAIL) -> tuple[str, ...]:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("[venvsel-worker]")]
    return tuple(lines[-n:])


_PHASE_WORDS = {
    "start": "starting", "import": "importing llama_cpp", "load": "loading the model",
    "loaded": "right after loading the model", "warmup": "the warm-up", "e2e": "the end-to-end job",
    "done": "exiting",
}


def _phase_words(phase: str | None) -> str:
    if phase is None:
        return "starting"
    if phase.startswith("rep "):
        return f"repetition {phase[4:]}"
    return _PHASE_WORDS.get(phase, phase)


def _base(plan: RunPlan, log: logparse.LoadLog | None = None) -> dict[str, Any]:
    # A user's model has no quant of ours: llama.cpp's own "file type = Q4_0" names it.
    quant = plan.model.quant or (log.file_type.lower() if log and log.file_type else None)
    return dict(
        env=plan.env.path, env_name=_env_label(plan.env), model=plan.model.path,
        model_label=plan.model.label, quant=quant, device=plan.device,
        n_gpu_layers=plan.n_gpu_layers, gpu_asked=plan.gpu_asked, cell=plan.cell,
    )


def preload_fallback(plan: RunPlan, why: str, *, decided: str, **extra: Any) -> RunResult:
    """FALLBACK for a build that cannot offload, answered without loading any model."""
    label = _env_label(plan.env)
    extra.setdefault("gpu_offload", False)
    reason, fix = logparse.why_no_gpu(logparse.LoadLog(), gpu_offload=False,
                                      n_gpu_layers=plan.n_gpu_layers,
                                      cvd=os.environ.get("CUDA_VISIBLE_DEVICES"), env=label)
    return RunResult(**_base(plan), status="fallback", verdict="FALLBACK",
                     reason=f"{reason} ({why})", fix=fix, decided=decided,
                     model_loaded=False, **extra)


class _PhaseWatcher:
    """Reports the worker's phase markers from its log while it runs (for the progress bar)."""

    def __init__(self, log_path: Path, on_phase: Callable[[str], None]) -> None:
        self.log_path, self.on_phase = log_path, on_phase
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        last = None
        while not self.stop.wait(0.3):
            try:
                text = self.log_path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            phase = logparse.parse_phase(text)
            if phase and phase != last:
                last = phase
                self.on_phase(_phase_words(phase))

    def __enter__(self) -> _PhaseWatcher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=2)


def run_one(plan: RunPlan, params: BenchParams, index: int = 0,
            on_phase: Callable[[str], None] | None = None,
            tg_loop: native.TgLoop | None = None) -> RunResult:
    """Run the worker for one plan and turn what it left behind into a :class:`RunResult`.

    ``on_phase`` hears the worker's phase in words ("loading the model", "repetition 2")
    while it runs.
    """
    if plan.preload_fallback:
        return preload_fallback(
            plan, plan.preload_fallback,
            decided="before loading any model: static inspection of the env's files "
            "(no process started)",
        )
    assert plan.env.interpreter is not None
    if tg_loop is None:
        tg_loop = native.prepare(params.tg_loop)
    log_path = _log_file(index)
    with tempfile.TemporaryDirectory(prefix="venvsel-bench-") as tmp:
        result_path = os.path.join(tmp, "result.json")
        cell = plan.cell
        settings = {
            "n_batch": cell.n_batch, "n_ubatch": cell.n_ubatch, "threads": cell.threads,
            "type_k": CACHE_TYPES[cell.type_k] if cell.type_k else None,
            "type_v": CACHE_TYPES[cell.type_v] if cell.type_v else None,
            "flash_attn": cell.flash_attn,
        }
        job = {
            "mode": "bench", "model": plan.model.path, "n_gpu_layers": plan.n_gpu_layers,
            "gpu_asked": plan.gpu_asked, "has_gpu_backend": bool(plan.backends),
            "settings": settings,
            "tests": [[t.n_prompt, t.n_gen] for t in params.matrix.tests()],
            "n_ctx": params.ctx, "reps": params.reps, "doc": params.doc,
            "warmup": params.warmup, "delay": params.delay,
            "e2e_gen": params.e2e_gen, "seed": params.seed,
            "tg_loop_lib": tg_loop.lib, "tg_loop_note": tg_loop.note,
            "tg_loop_required": params.tg_loop == "c",
            "result": result_path, "log": str(log_path),
        }
        job_path = os.path.join(tmp, "job.json")
        with open(job_path, "w", encoding="utf-8") as f:
            json.dump(job, f)
        # ggml's abort handler attaches gdb for a backtrace: slow, and it buries the failed
        # assertion under a page of frames. The user's own setting wins.
        env = proc.clean_env()
        env.setdefault("GGML_NO_BACKTRACE", "1")
        argv = [plan.env.interpreter, "-I", str(WORKER), job_path]
        if on_phase is None:
            done = proc.run(argv, timeout=params.timeout, env=env, cwd=tmp)
        else:
            with _PhaseWatcher(log_path, on_phase):
                done = proc.run(argv, timeout=params.timeout, env=env, cwd=tmp)
        try:
            data: dict[str, Any] | None = json.loads(Path(result_path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
    try:
        log_text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        log_text = ""
    return interpret(plan, params, done, data, log_text, str(log_path))


def interpret(plan: RunPlan, params: BenchParams, done: proc.Completed, data: dict[str, Any] | None,
              log_text: str, log_path: str) -> RunResult:
    log = logparse.parse(log_text)
    tail = _tail(log_text) or _tail(done.stderr.decode("utf-8", "replace"))
    common = dict(**_base(plan, log), log_path=log_path, log_tail=tail,
                  duration_s=done.duration_s)
    where = _phase_words(log.last_phase)
    loaded = log.last_phase not in (None, "start", "import", "load") if log.last_phase else False
    if done.timed_out:
        return RunResult(**common, status="timeout", model_loaded=loaded,
                         detail=f"the worker hung: no result after {params.timeout:g} s, during "
                         f"{where}; it was killed")
    if done.signal is not None:
        return RunResult(**common, status="crashed", signal=done.signal_name, model_loaded=loaded,
                         detail=f"the worker crashed with {done.signal_name} during {where}")
    if data is None:
        err = done.stderr_tail() or "(no output)"
        return RunResult(**common, status="error", model_loaded=loaded,
                         detail=f"the worker exited with code {done.returncode} during {where} "
                         f"and left no result: {err}")
    build = data.get("build") or {}
    info = data.get("model_info") or {}
    common.update(
        llama_version=build.get("llama_version"), gpu_offload=build.get("gpu_offload"),
        system_info=build.get("system_info"), python=build.get("python"),
        cuda_visible_devices=data.get("cuda_visible_devices"),
        build_commit=build.get("build_commit"), ggml_backends=build.get("backends"),
        cpu_info=build.get("cpu_info"), gpu_info=build.get("gpu_info"),
        defaults=data.get("defaults"), tg_loop=data.get("tg_loop"),
        tg_loop_note=data.get("tg_loop_note"),
    )
    status = data.get("status")
    if status == "no-llama":
        return RunResult(**common, status="error",
                         detail=f"llama_cpp cannot be imported in {_env_label(plan.env)}: "
                         f"{data.get('error')}",
                         fix=f"{plan.env.interpreter} -m pip install llama-cpp-python, or "
                         "venvsel bench --need llama")
    if status == "fallback-preload":
        base = _base(plan, log)
        return preload_fallback(
            plan, "llama_supports_gpu_offload() is False",
            decided="before loading any model: the worker imported llama_cpp and asked "
            "llama_supports_gpu_offload()", **{k: v for k, v in common.items() if k not in base},
        )
    if status != "ok":
        return RunResult(**common, status="error", model_loaded="load_s" in data,
                         detail=f"the worker failed during {_phase_words(data.get('phase'))}: "
                         f"{data.get('error')}")
    n_layer = info.get("n_layer")
    tests = tuple(Measured(int(t["n_prompt"]), int(t["n_gen"]),
                             tuple(int(x) for x in t.get("samples_ns") or ()),
                             str(t.get("test_time") or ""))
                  for t in data.get("tests") or ())
    pp = next((t.ts for t in tests if t.n_prompt and not t.n_gen), None)
    tg = next((t.ts for t in tests if t.n_gen and not t.n_prompt), None)
    pl = logparse.placement(log, n_layer)
    j = logparse.judge(pl, log, gpu_asked=plan.gpu_asked, n_gpu_layers=plan.n_gpu_layers,
                       gpu_offload=build.get("gpu_offload"), cvd=data.get("cuda_visible_devices"),
                       env=_env_label(plan.env), has_backend=bool(plan.backends))
    return RunResult(
        **common, status="fallback" if j.verdict == "FALLBACK" else "ok",
        verdict=j.verdict, reason=j.reason, fix=j.fix,
        decided=f"after loading: {pl.evidence}", placement=pl,
        pp=pp, tg=tg, tests=tests, used=data.get("used"), model_type=info.get("model_type"),
        flash_attn_resolved=logparse.flash_attn_choice(log_text),
        load_s=data.get("load_s"), e2e=E2E.of(data.get("e2e")), threads=data.get("threads"),
        n_layer=n_layer, n_params=info.get("n_params"), size_bytes=info.get("size_bytes"),
        model_loaded=True,
    )


# --------------------------------------------------------------------------- the whole bench


def resolve_models(req: BenchRequest, *, progress: bool) -> list[ModelRef]:
    models: list[ModelRef] = []
    for m in req.models:
        p = Path(m).expanduser()
        if not p.is_file():
            raise errors.UsageError(f"model file {m} does not exist.")
        models.append(ModelRef(str(p.resolve()), p.stem))
    if req.synthetic or not req.models:
        size = req.synthetic or "tiny"
        for q in req.quants:
            sm = synth.ensure_model(size, q, progress=progress)
            models.append(ModelRef(str(sm.path), sm.label, sm.quant, size))
    return models


def check_params(p: BenchParams) -> None:
    if p.reps < 1:
        raise errors.UsageError("--repetitions must be at least 1.")
    if p.e2e_gen < 0 or p.delay < 0:
        raise errors.UsageError("token counts and --delay cannot be negative.")
    tests = p.matrix.tests()
    if not tests:
        raise errors.UsageError("nothing to measure: every -p, -n and -pg value is 0.")
    need = p.matrix.max_tokens
    if p.ctx < need + 1:
        raise errors.UsageError(f"--ctx {p.ctx} cannot hold {need} tokens.")
    if p.doc is not None and p.e2e_gen + 16 > p.ctx:
        raise errors.UsageError(
            f"--e2e-gen {p.e2e_gen} leaves no room for a prompt in --ctx {p.ctx}.")
    if p.doc is not None and not Path(p.doc).is_file():
        raise errors.UsageError(f"document {p.doc} does not exist.")


def bench(req: BenchRequest, *, progress: bool = True,
          on_result: Callable[[RunResult], None] | None = None) -> Report:
    """Run every (env, model, device) of ``req``; return a :class:`~.results.Report`."""

    params = req.params
    if params.doc is not None:
        params = replace(params, doc=str(Path(params.doc).expanduser().resolve()))
    check_params(params)
    envs = resolve_envs(req)

    for env in envs:  # fail on an untrusted or bare env before generating or loading anything
        require_trusted(env)
        static_llama(env)
    tg_loop = native.prepare(params.tg_loop)  # before any model: --tg-loop c may fail here
    models = resolve_models(req, progress=progress)
    plans = plan_runs(req, envs, models)
    results: list[RunResult] = []

    with Progress("bench", total=len(plans), enabled=progress) as bar:
        for i, plan in enumerate(plans):
            label = (f"{_env_label(plan.env)} {plan.model.label} {plan.model.quant or ''} "
                     f"{plan.device} {plan.cell.label(params.matrix.varying())}").rstrip()
            bar.advance(label, step=0)

            def phase(words: str, label: str = label) -> None:
                bar.advance(f"{label}: {words}", step=0)

            r = run_one(plan, params, i, on_phase=phase if bar.enabled else None,
                        tg_loop=tg_loop)
            results.append(r)
            if on_result is not None:
                on_result(r)
            bar.advance(label)
    return Report.build(tuple(results), params)
