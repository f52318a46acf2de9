"""What a bench run produces: its request and parameters, each run's measurements and
verdict, and the report over all of them (with the ratios between runs).

Data only: :mod:`venvsel.bench.run` makes these, :mod:`venvsel.bench.report` and
:mod:`venvsel.bench.lbformat` turn them into text, Markdown, CSV, JSON or SQL.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__, errors
from ..model import Env
from . import logparse
from .matrix import Cell, Matrix, Test

CORPUS = Path(__file__).resolve().parent.parent / "resources" / "corpus"
DEFAULT_DOC = CORPUS / "large.md"


DEFAULT_CTX = 2048


@dataclass(frozen=True)
class BenchParams:
    reps: int = 5
    matrix: Matrix = field(default_factory=Matrix)  # llama-bench's lists; None = Llama()'s
    n_ctx: int | None = None  # None: 2048, or more when a test needs more
    doc: str | None = str(DEFAULT_DOC)  # None: no end-to-end job
    e2e_gen: int = 64  # tokens generated in the end-to-end job
    seed: int = 42
    timeout: float = 1800.0  # per run
    delay: float = 0.0  # seconds to wait before each test (llama-bench --delay)
    warmup: bool = True  # llama-bench's warm-up run before each test (--no-warmup)
    tg_loop: str = "auto"  # auto | c | python: the token loop of tg tests (bench/native.py)

    @property
    def ctx(self) -> int:
        return self.n_ctx or max(DEFAULT_CTX, self.matrix.max_tokens + 1)

    # The first prompt and generation lengths: the table's pp and tg columns.
    @property
    def n_prompt(self) -> int:
        return next((t.n_prompt for t in self.matrix.tests() if not t.n_gen), 0)

    @property
    def n_gen(self) -> int:
        return next((t.n_gen for t in self.matrix.tests() if not t.n_prompt), 0)


@dataclass(frozen=True)
class ModelRef:
    path: str
    label: str  # "synthetic-tiny" or the file's stem
    quant: str | None = None  # "q4_0"; None for a user's model (the log's file type is shown)
    synthetic: str | None = None  # size name of a synthetic model


@dataclass(frozen=True)
class BenchRequest:
    envs: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    python_spec: str | None = None
    models: tuple[str, ...] = ()
    synthetic: str | None = None  # default "tiny" when no --model
    quants: tuple[str, ...] = ("q4_0", "q8_0")
    gpu: bool = False
    cpu: bool = False
    n_gpu_layers: tuple[int, ...] | None = None  # -ngl list; None: see plan_runs
    params: BenchParams = field(default_factory=BenchParams)


@dataclass(frozen=True)
class RunPlan:
    env: Env
    model: ModelRef
    device: str  # "gpu" | "cpu"
    n_gpu_layers: int
    gpu_asked: bool
    preload_fallback: str | None = None  # set when the files already say "cannot offload"
    backends: tuple[str, ...] = ()  # GPU backends the env's files hold ("cuda", ...)
    cell: Cell = field(default_factory=Cell)


@dataclass(frozen=True)
class Stat:
    median: float
    mean: float
    stdev: float
    min: float
    max: float
    samples: tuple[float, ...]

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stat | None:
        if not samples:
            return None
        s = tuple(float(x) for x in samples)
        sd = statistics.stdev(s) if len(s) > 1 else 0.0
        return cls(statistics.median(s), statistics.fmean(s), sd, min(s), max(s), s)


@dataclass(frozen=True)
class Measured:
    """One llama-bench test of a run: its repetitions, in nanoseconds, as llama-bench keeps
    them; tokens/s per repetition = (n_prompt + n_gen) / seconds."""

    n_prompt: int
    n_gen: int
    samples_ns: tuple[int, ...]
    test_time: str = ""

    @property
    def name(self) -> str:
        return Test(self.n_prompt, self.n_gen).name

    @property
    def samples_ts(self) -> tuple[float, ...]:
        n = self.n_prompt + self.n_gen
        return tuple(1e9 * n / t for t in self.samples_ns if t > 0)

    @property
    def ts(self) -> Stat | None:
        return Stat.of(self.samples_ts)


@dataclass(frozen=True)
class E2E:
    """The seed's job: a prompt cut from a document, N tokens generated with EOS forbidden."""

    doc: str
    words: int  # words of the document that went into the prompt
    prompt_tokens: int
    gen_tokens: int | None  # what the completion reported generating
    gen_requested: int
    seconds: float
    words_per_s: float | None  # prompt words / job seconds
    tokens_per_s: float | None  # (prompt + generated tokens) / job seconds
    doc_words: int = 0
    truncated: bool = False  # the document was longer than the context allows

    @classmethod
    def of(cls, d: dict[str, Any] | None) -> E2E | None:
        if not d:
            return None
        return cls(doc=str(d.get("doc")), words=int(d.get("words") or 0),
                   prompt_tokens=int(d.get("prompt_tokens") or 0), gen_tokens=d.get("gen_tokens"),
                   gen_requested=int(d.get("gen_requested") or 0),
                   seconds=float(d.get("seconds") or 0.0), words_per_s=d.get("words_per_s"),
                   tokens_per_s=d.get("tokens_per_s"), doc_words=int(d.get("doc_words") or 0),
                   truncated=bool(d.get("truncated")))


@dataclass(frozen=True)
class RunResult:
    env: str  # real path
    env_name: str  # as shown to the user
    model: str
    model_label: str
    quant: str | None
    device: str  # "gpu" | "cpu": what was asked
    n_gpu_layers: int
    gpu_asked: bool
    status: str  # ok | fallback | crashed | timeout | error
    verdict: str | None = None  # GPU | PARTIAL | CPU | FALLBACK | UNKNOWN
    reason: str | None = None
    fix: str | None = None
    decided: str | None = None  # what the verdict rests on, and whether a model was loaded
    placement: logparse.Placement | None = None
    pp: Stat | None = None
    tg: Stat | None = None
    load_s: float | None = None
    e2e: E2E | None = None
    llama_version: str | None = None
    gpu_offload: bool | None = None
    system_info: str | None = None
    python: str | None = None
    threads: int | None = None
    n_layer: int | None = None
    n_params: int | None = None
    size_bytes: int | None = None
    model_loaded: bool = False
    signal: str | None = None
    detail: str | None = None
    log_path: str | None = None
    log_tail: tuple[str, ...] = ()
    duration_s: float = 0.0
    cuda_visible_devices: str | None = None
    cell: Cell = field(default_factory=Cell)  # what was asked (None: Llama()'s default)
    tests: tuple[Measured, ...] = ()
    used: dict[str, Any] | None = None  # the settings the context really got
    defaults: dict[str, Any] | None = None  # Llama()'s signature defaults in that env
    build_commit: str | None = None
    ggml_backends: str | None = None  # llama-bench's "backends": "CUDA", "CPU"
    cpu_info: str | None = None
    gpu_info: str | None = None
    tg_loop: str | None = None  # "c" | "python": which token loop measured tg
    tg_loop_note: str | None = None  # how the C loop was built, or why Python ran
    model_type: str | None = None  # llama_model_desc: "llama ?B Q4_0"
    flash_attn_resolved: str | None = None  # for auto: what llama.cpp chose, from its log

    @property
    def quant_label(self) -> str:
        return (self.quant or "?").upper()

    @property
    def tg_loop_words(self) -> str | None:
        """Which token loop measured tg, in words (None before the worker measured)."""
        if self.tg_loop == "c":
            return (f"C ({self.tg_loop_note}): no Python between two tokens, like "
                    "llama-bench")
        if self.tg_loop == "python":
            hint = "" if "--tg-loop" in (self.tg_loop_note or "") else "; --tg-loop c runs C"
            return (f"Python ({self.tg_loop_note}): on models at thousands of tokens/s the "
                    f"interpreter costs 2-3 % of tg{hint}")
        return None


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class Ratio:
    kind: str  # "GPU/CPU", "Q4_0/Q8_0", "env/env"
    subject: str  # what stays the same: ".venv synthetic-tiny Q4_0"
    numerator: str
    denominator: str
    pp: float | None
    tg: float | None


@dataclass(frozen=True)
class Report:
    runs: tuple[RunResult, ...]
    ratios: tuple[Ratio, ...]
    params: BenchParams
    created: str
    venvsel_version: str

    @classmethod
    def build(cls, runs: tuple[RunResult, ...], params: BenchParams) -> Report:
        return cls(runs, tuple(ratios(runs)), params,
                   time.strftime("%Y-%m-%dT%H:%M:%S%z"), __version__)

    @property
    def failed(self) -> tuple[RunResult, ...]:
        return tuple(r for r in self.runs if r.status in ("crashed", "timeout", "error"))

    @property
    def fallbacks(self) -> tuple[RunResult, ...]:
        return tuple(r for r in self.runs if r.verdict == "FALLBACK")

    @property
    def builds(self) -> tuple[RunResult, ...]:
        """The first run of each env whose llama-cpp-python build is known, in run order:
        where a report states each env's build once."""
        first: dict[str, RunResult] = {}
        for r in self.runs:
            if r.llama_version is not None:
                first.setdefault(r.env, r)
        return tuple(first.values())

    @property
    def exit_code(self) -> int:
        if self.failed:
            return errors.EXIT_FAILED
        if self.fallbacks:
            return errors.EXIT_UNMET
        return errors.EXIT_OK


def comparable(r: RunResult) -> bool:
    """A run whose figures mean what they say (it ran, and its placement is known)."""
    return r.status == "ok" and r.verdict in ("GPU", "PARTIAL", "CPU")


def _div(a: Stat | None, b: Stat | None) -> float | None:
    if a is None or b is None or b.median <= 0:
        return None
    return a.median / b.median


def ratios(runs: Sequence[RunResult]) -> list[Ratio]:
    """GPU/CPU per env+model, Q4/Q8 per env+device, and each env against the first env."""
    ok = [r for r in runs if comparable(r)]
    out: list[Ratio] = []
    # GPU vs CPU: same env, same model file.
    for g in ok:
        if g.verdict not in ("GPU", "PARTIAL"):
            continue
        for c in ok:
            if c.env == g.env and c.model == g.model and c.verdict == "CPU":
                out.append(Ratio("GPU/CPU", f"{g.env_name} {g.model_label} {g.quant_label}",
                                 f"gpu ({g.verdict})", "cpu", _div(g.pp, c.pp), _div(g.tg, c.tg)))
                break
    # Q4 vs Q8: same env, same model family, same placement.
    for a in ok:
        if a.quant != "q4_0":
            continue
        for b in ok:
            if (b.quant == "q8_0" and b.env == a.env and b.model_label == a.model_label
                    and b.device == a.device and b.verdict == a.verdict):
                out.append(Ratio("Q4_0/Q8_0", f"{a.env_name} {a.model_label} {a.device}",
                                 "Q4_0", "Q8_0", _div(a.pp, b.pp), _div(a.tg, b.tg)))
                break
    # Envs against the first env: same model, same device.
    envs = list(dict.fromkeys(r.env for r in runs))
    if len(envs) > 1:
        for a in ok:
            if a.env == envs[0]:
                continue
            for b in ok:
                if (b.env == envs[0] and b.model == a.model and b.device == a.device):
                    out.append(Ratio("env/env", f"{a.model_label} {a.quant_label} {a.device}",
                                     a.env_name, b.env_name, _div(a.pp, b.pp), _div(a.tg, b.tg)))
                    break
    return out


__all__ = [
    "DEFAULT_CTX",
    "DEFAULT_DOC",
    "E2E",
    "BenchParams",
    "BenchRequest",
    "Measured",
    "ModelRef",
    "Ratio",
    "Report",
    "RunPlan",
    "RunResult",
    "Stat",
    "comparable",
    "ratios",
]
