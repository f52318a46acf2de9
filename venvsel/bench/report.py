"""The bench report: one table with medians and spreads, speed-up ratios, JSON, Markdown, PNG.

Runs whose verdict is FALLBACK show no pp/tg numbers in the table: those were measured on
the CPU and must not be read as GPU numbers (the seed's mistake). The JSON keeps them, with
the verdict beside them. Crashed, hung and failed runs never show numbers.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .. import errors, render
from ..fsutil import atomic_write_text
from ..model import to_json
from . import lbformat
from .lbformat import used_text
from .matrix import Test
from .results import BenchParams, Report, RunResult, Stat, comparable

DASH = "—"


# --------------------------------------------------------------------------- formatting


def as_data(rep: Report) -> dict[str, Any]:
    """What --json carries: the report, the exit code and the problems in words, and the
    llama-bench records (``-o json``'s list) under ``llama_bench``."""
    return {
        "runs": to_json(rep.runs), "ratios": to_json(rep.ratios),
        "llama_bench": lbformat.records(rep),
        "params": to_json(rep.params),
        "created": rep.created, "venvsel_version": rep.venvsel_version,
        "exit_code": rep.exit_code,
        "problems": problem_texts(rep),
    }


def fmt(x: float | None) -> str:
    if x is None:
        return DASH
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def fmt_stat(s: Stat | None) -> str:
    return DASH if s is None else f"{fmt(s.median)} ± {fmt(s.stdev)}"


def fmt_size(n: int | None) -> str:
    if n is None:
        return DASH
    if n >= 1 << 30:
        return f"{n / (1 << 30):.2f} GiB"
    return f"{n / (1 << 20):.1f} MiB"


def fmt_params(n: int | None) -> str:
    if n is None:
        return DASH
    if n >= 1e9:
        return f"{n / 1e9:.2f} B"
    return f"{n / 1e6:.2f} M"


def verdict_cell(r: RunResult) -> str:
    if r.status == "crashed":
        return f"CRASHED ({r.signal})"
    if r.status == "timeout":
        return "HUNG (timeout)"
    if r.status == "error":
        return "ERROR"
    return r.verdict or DASH


def _tests(p: BenchParams | None) -> list[tuple[int, int]]:
    p = p or BenchParams()
    return [(t.n_prompt, t.n_gen) for t in p.matrix.tests()]


def _varying(p: BenchParams | None) -> tuple[str, ...]:
    return (p or BenchParams()).matrix.varying()


def headers(p: BenchParams) -> list[str]:
    return ["env", "model", "quant", "device", "ngl", *_varying(p), "layers", "verdict",
            *(f"{Test(a, b).name} t/s" for a, b in _tests(p)), "load s", "e2e words/s"]


def _cell_value(r: RunResult, name: str) -> str:
    """A varying setting as the run got it ("auto→1" for flash attention left to llama.cpp)."""
    v = getattr(r.cell, name)
    if name == "flash_attn" and v == "auto" and r.flash_attn_resolved:
        return f"auto→{r.flash_attn_resolved}"
    return DASH if v is None else str(v)


def _test_stat(r: RunResult, n_prompt: int, n_gen: int, first: bool) -> Stat | None:
    for t in r.tests:
        if (t.n_prompt, t.n_gen) == (n_prompt, n_gen):
            return t.ts
    if first and not r.tests:  # a result made without per-test samples
        return r.pp if n_prompt and not n_gen else r.tg if n_gen and not n_prompt else None
    return None


def row(r: RunResult, p: BenchParams | None = None) -> list[str]:
    shown = comparable(r)
    e2e = r.e2e.words_per_s if shown and r.e2e else None
    tests = _tests(p)
    cols = []
    seen_pp = seen_tg = False
    for a, b in tests:
        first = (a and not b and not seen_pp) or (b and not a and not seen_tg)
        seen_pp = seen_pp or bool(a and not b)
        seen_tg = seen_tg or bool(b and not a)
        cols.append(fmt_stat(_test_stat(r, a, b, bool(first))) if shown else DASH)
    return [
        r.env_name, r.model_label, r.quant_label, r.device, str(r.n_gpu_layers),
        *(_cell_value(r, f) for f in _varying(p)),
        r.placement.summary() if r.placement else ("not loaded" if not r.model_loaded else DASH),
        verdict_cell(r), *cols,
        fmt(r.load_s) if r.load_s is not None else DASH, fmt(e2e),
    ]


def ratio_lines(rep: Report) -> list[str]:
    lines = []
    for x in rep.ratios:
        kind = f"{x.numerator}/{x.denominator}" if x.kind == "env/env" else x.kind
        lines.append(f"{kind:<9}  {x.subject}: pp {fmt(x.pp)}×, tg {fmt(x.tg)}×")
    return lines


def _gpu_backend_in(system_info: str | None) -> bool:
    """llama_print_system_info() names the GPU backends compiled in ("CUDA : ARCHS = 900")."""
    return bool(system_info) and any(
        f"{name} :" in (system_info or "") for name in ("CUDA", "ROCm", "HIP", "Metal", "Vulkan")
    )


def detail_lines(rep: Report) -> list[str]:
    """Build, model, settings and evidence facts below the table."""
    p = rep.params
    out: list[str] = []
    for r in rep.builds:
        offload = {True: "yes", False: "no (CPU-only build)", None: "unknown"}[r.gpu_offload]
        if r.gpu_offload is False and _gpu_backend_in(r.system_info):
            # llama_supports_gpu_offload() is False for a GPU build that sees no device too.
            offload = "no (a GPU backend is built in, but no device is visible)"
        ggml = (f", llama.cpp/ggml {r.build_commit}" if r.build_commit else "") + (
            f", backends {r.ggml_backends}" if r.ggml_backends else "")
        out.append(f"build    {r.env_name}: llama-cpp-python {r.llama_version}{ggml}, Python "
                   f"{r.python}, GPU offload: {offload}")
        if r.system_info:
            out.append(f"         {r.system_info}")
    seen_model: set[str] = set()
    for r in rep.runs:
        if r.model in seen_model or r.n_params is None:
            continue
        seen_model.add(r.model)
        out.append(f"model    {r.model_label} {r.quant_label}: {fmt_params(r.n_params)} params, "
                   f"{fmt_size(r.size_bytes)}, {r.n_layer} repeating layers ({r.model})")
    for used in dict.fromkeys(used_text(r) for r in rep.runs if r.used):
        out.append(f"settings {used}")
    warm = "after a warm-up" if p.warmup else "without a warm-up"
    out.append(f"runs     {p.reps} reps per test {warm}, each test on its own context of "
               f"n_prompt + n_gen cells (the end-to-end job: n_ctx {p.ctx}), KV cache cleared "
               "before each; median ± stdev"
               + (f"; {p.delay:g} s delay before each test" if p.delay else ""))
    for r in rep.runs:
        if r.defaults:
            d = r.defaults
            out.append(f"defaults Llama() in {r.env_name}: " + ", ".join(
                f"{k} {d[k]}" for k in ("n_batch", "n_ubatch", "n_threads", "n_threads_batch",
                                        "flash_attn", "type_k", "type_v") if k in d)
                + " (used for every setting not given)")
            break
    for words in dict.fromkeys(r.tg_loop_words for r in rep.runs if r.tg_loop_words):
        out.append(f"tg loop  {words}")
    for ev in dict.fromkeys(r.placement.evidence for r in rep.runs if r.placement):
        out.append(f"layers   from {ev}")
    e2e = next((r.e2e for r in rep.runs if r.e2e and comparable(r)), None)
    if e2e:
        cut = f", cut to fit n_ctx {p.ctx}" if e2e.truncated else ""
        out.append(f"e2e      {Path(e2e.doc).name}: prompt of {e2e.words:,} words "
                   f"({e2e.prompt_tokens:,} tokens{cut}) + {e2e.gen_requested} generated "
                   "tokens with EOS forbidden, via Llama.create_completion; words/s = prompt words "
                   "/ job seconds")
    logs = sorted({str(Path(r.log_path).parent) for r in rep.runs if r.log_path})
    if logs:
        out.append(f"logs     {', '.join(logs)}")
    return out



def _runs_label(runs: Sequence[RunResult]) -> str:
    models = list(dict.fromkeys(f"{r.model_label} {r.quant_label}" for r in runs))
    return ", ".join(models)


def _indent_fix(fix: str) -> list[str]:
    first, *rest = fix.splitlines()
    return [f"  fix: {first}", *(f"       {ln}" for ln in rest)]


def fallback_text(runs: Sequence[RunResult]) -> str:
    """One FALLBACK account for runs of one env that failed to reach the GPU the same way."""
    r = runs[0]
    asked = f"n_gpu_layers {r.n_gpu_layers}"
    if r.device == "gpu" and r.n_gpu_layers < 0:
        asked = "--gpu, all layers"
    if r.placement is not None and r.placement.n_layer is not None:
        pl = r.placement
        head = (f"FALLBACK: {r.env_name} put {pl.cpu_layers} of {pl.n_layer} repeating layers on "
                f"the CPU although the GPU was asked for ({_runs_label(runs)}; {asked}).")
    else:
        head = (f"FALLBACK: {r.env_name} cannot run {_runs_label(runs)} on the GPU "
                f"(asked: {asked}).")
    lines = [head, f"  reason: {r.reason}."]
    if r.placement is not None:
        lines.append(f"  layers: {r.placement.summary()}, from {r.placement.evidence}.")
    if r.decided:
        lines.append(f"  decided {r.decided}.")
    for x in runs:
        if x.pp is not None or x.tg is not None:
            lines.append(f"  measured {x.model_label} {x.quant_label}: pp {fmt_stat(x.pp)}, "
                         f"tg {fmt_stat(x.tg)} t/s: CPU numbers, not GPU numbers.")
    if r.fix:
        lines.extend(_indent_fix(r.fix))
    return "\n".join(lines)


def failure_text(r: RunResult) -> str:
    """The plain-words account of one crash, hang or error: never a result."""
    what = (f"{r.env_name} ({r.model_label} {r.quant_label}, {r.device}, "
            f"n_gpu_layers {r.n_gpu_layers})")
    heads = {"crashed": "CRASHED", "timeout": "HUNG", "error": "FAILED"}
    head = heads.get(r.status, r.status.upper())
    lines = [f"{head}: {what}: {r.detail}. No result was recorded for this run."]
    if r.fix:
        lines.extend(_indent_fix(r.fix))
    if r.log_tail:
        lines.append("  last log lines:")
        lines.extend(f"    {ln}" for ln in r.log_tail)
    if r.log_path:
        lines.append(f"  full log: {r.log_path}")
    return "\n".join(lines)


def problem_texts(rep: Report) -> list[str]:
    out = [failure_text(r) for r in rep.failed]
    groups: dict[tuple[object, ...], list[RunResult]] = {}
    for r in rep.fallbacks:
        pl = r.placement.summary() if r.placement else None
        groups.setdefault((r.env, r.device, r.n_gpu_layers, r.reason, r.decided, pl), []).append(r)
    out.extend(fallback_text(g) for g in groups.values())
    return out


def render_text(rep: Report, stream: TextIO) -> None:
    render.table(headers(rep.params), [row(r, rep.params) for r in rep.runs], stream)
    extra = ratio_lines(rep)
    if extra:
        stream.write("\nspeed-up (median / median)\n")
        for ln in extra:
            stream.write(f"  {ln}\n")
    stream.write("\n")
    for ln in detail_lines(rep):
        stream.write(ln + "\n")


def problems_message(rep: Report) -> str:
    return "\n".join(problem_texts(rep))


def write_files(rep: Report, *, json_out: str | None, markdown: str | None,
                plot: str | None) -> None:
    """Every file asked for: --json F (not "-": that is stdout), --markdown, --plot."""
    if json_out and json_out != "-":
        buf = io.StringIO()
        render.emit_json("bench", as_data(rep), buf)
        atomic_write_text(json_out, buf.getvalue())
    if markdown:
        atomic_write_text(markdown, render_markdown(rep))
    if plot:
        write_plot(rep, plot)


def exit_code(rep: Report) -> int:
    """3 for a crash/hang/error, 1 for a FALLBACK (the problems say why), else 0."""
    return (errors.EXIT_FAILED if rep.failed
            else errors.EXIT_UNMET if rep.fallbacks else errors.EXIT_OK)


def raise_for(rep: Report) -> None:
    """After the report is shown: exit 3 for a crash/hang/error, 1 for a FALLBACK."""
    msg = problems_message(rep)
    if rep.failed:
        raise errors.OperationFailed(msg)
    if rep.fallbacks:
        raise errors.UnmetError(msg)


# --------------------------------------------------------------------------- markdown


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(rep: Report) -> str:
    out = io.StringIO()
    p = rep.params
    out.write(f"# venvsel bench — {rep.created}\n\n")
    out.write(f"pp{p.n_prompt} and tg{p.n_gen} in tokens/s, median ± stdev of {p.reps} "
              "repetitions after a warm-up (llama-bench conventions).\n\n")
    hs = headers(p)
    n_text = 7 + len(_varying(p))
    out.write("| " + " | ".join(hs) + " |\n")
    out.write("|" + "|".join("---" if i < n_text else "---:" for i in range(len(hs))) + "|\n")
    for r in rep.runs:
        out.write("| " + " | ".join(_md_cell(c) for c in row(r, p)) + " |\n")
    if rep.ratios:
        out.write("\n## Speed-up\n\n| comparison | what | pp | tg |\n|---|---|---:|---:|\n")
        for x in rep.ratios:
            kind = f"{x.numerator}/{x.denominator}" if x.kind == "env/env" else x.kind
            out.write(f"| {_md_cell(kind)} | {_md_cell(x.subject)} | "
                      f"{fmt(x.pp)}× | {fmt(x.tg)}× |\n")
    problems = problem_texts(rep)
    if problems:
        out.write("\n## Problems\n\n")
        for text in problems:
            out.write("```\n" + text + "\n```\n\n")
    out.write("\n## Details\n\n")
    for ln in detail_lines(rep):
        out.write(f"- {ln}\n")
    return out.getvalue()


# --------------------------------------------------------------------------- plot


def require_matplotlib() -> None:
    """UsageError naming the fix when --plot cannot work (checked before any run starts)."""

    if importlib.util.find_spec("matplotlib") is None:
        raise errors.UsageError(
            "--plot needs matplotlib, which is not installed in venvsel's environment.",
            hint="Install the plot extra: python -m pip install 'venvsel[plot]' "
            "(the table, --json and --markdown work without it).",
        )


def write_plot(rep: Report, path: str) -> None:
    """Bar charts of pp and tg (median, min-max whiskers); needs matplotlib (extra 'plot')."""
    require_matplotlib()
    import matplotlib  # optional (the plot extra): only for --plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # optional (the plot extra): only for --plot

    runs = [r for r in rep.runs if comparable(r)]
    labels = [f"{r.env_name}\n{r.model_label} {r.quant_label}\n{r.device} ({r.verdict})"
              for r in runs]
    fig, axes = plt.subplots(1, 2, figsize=(max(6.0, 2.2 * len(runs) + 2), 4.5))
    p = rep.params
    for ax, key, title in ((axes[0], "pp", f"prompt processing pp{p.n_prompt}"),
                           (axes[1], "tg", f"generation tg{p.n_gen}")):
        stats = [getattr(r, key) for r in runs]
        med = [s.median if s else 0.0 for s in stats]
        # Whiskers from the slowest to the fastest repetition: timings are skewed (a floor
        # and a slow tail), so a symmetric ± stdev would draw impossible negative speeds.
        err = [[s.median - s.min if s else 0.0 for s in stats],
               [s.max - s.median if s else 0.0 for s in stats]]
        ax.bar(range(len(runs)), med, yerr=err, capsize=4,
               color=["#4c72b0" if r.verdict == "GPU" else "#dd8452" for r in runs])
        ax.set_xticks(range(len(runs)))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_title(title)
        ax.set_ylabel("tokens/s (bar: median, whiskers: min to max)")
    fig.suptitle(f"venvsel bench {rep.created}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
