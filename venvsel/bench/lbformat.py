"""llama-bench's output formats (``-o md|csv|json|jsonl|sql``), its field names and meanings.

One record per test (pp512, tg128, pp512+tg128) of every run that measured something, with
llama-bench's fields in llama-bench's order (``test::get_fields()`` in
``tools/llama-bench/llama-bench.cpp`` of the llama.cpp that llama-cpp-python 0.3.36
vendors), then ``samples_ns`` and ``samples_ts``, then venvsel's own fields (env, where the
layers went, verdict, fallback reason). Tools written for llama-bench's output, such as
llama.cpp's ``scripts/compare-llama-bench.py``, read these files unchanged (they ignore
fields they do not know).

Fields venvsel does not set (cpu_mask, poll, split_mode, ...) carry llama-bench's defaults,
which are also what ``llama_cpp.Llama()`` uses. ``build_number`` is 0: llama-cpp-python
does not expose llama.cpp's build number. ``build_commit`` is ggml's commit as the library
reports it (``unknown`` for a build from a source tree without git).
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections.abc import Sequence
from typing import Any

from .. import errors
from .matrix import CACHE_TYPES
from .results import Measured, Report, RunResult

FORMATS = ("md", "csv", "json", "jsonl", "sql")

FIELDS = (
    "build_commit", "build_number", "cpu_info", "gpu_info", "backends",
    "model_filename", "model_type", "model_size", "model_n_params", "n_batch",
    "n_ubatch", "n_threads", "cpu_mask", "cpu_strict", "poll",
    "type_k", "type_v", "n_gpu_layers", "n_cpu_moe", "split_mode",
    "main_gpu", "no_kv_offload", "flash_attn", "devices", "tensor_split",
    "tensor_buft_overrides", "load_mode", "lazy_mode",
    "embeddings",
    "no_op_offload", "no_host", "repack", "fit_target", "fit_min_ctx",
    "n_prompt", "n_gen", "n_depth",
    "test_time", "avg_ns", "stddev_ns", "avg_ts", "stddev_ts",
)
INT_FIELDS = frozenset((
    "build_number", "n_batch", "n_ubatch", "n_threads", "poll", "model_size", "model_n_params",
    "n_gpu_layers", "main_gpu", "n_prompt", "n_gen", "n_depth", "avg_ns", "stddev_ns",
    "no_op_offload", "n_cpu_moe", "fit_target", "fit_min_ctx", "flash_attn",
))
BOOL_FIELDS = frozenset(("no_kv_offload", "cpu_strict", "embeddings", "no_host", "repack"))
FLOAT_FIELDS = frozenset(("avg_ts", "stddev_ts"))

# venvsel's own fields, after llama-bench's.
VENVSEL_FIELDS = ("env", "env_name", "device", "layer_placement", "gpu_layers_placed",
                  "verdict", "fallback_reason", "flash_attn_resolved", "n_threads_batch",
                  "tg_loop")

_TYPE_NAMES = {v: k for k, v in CACHE_TYPES.items()}


def _type_name(v: Any) -> str:
    if v is None:
        return "f16"  # llama_context_default_params()
    if isinstance(v, str):
        return v
    return _TYPE_NAMES.get(int(v), str(v))


def used_text(r: RunResult) -> str:
    """The settings the context really got, from the worker."""
    u = r.used or {}
    fa_num = u.get("flash_attn")
    fa = {-1: "auto", 0: "0", 1: "1"}.get(fa_num, str(fa_num)) if isinstance(fa_num, int) \
        else str(fa_num)
    if fa == "auto" and r.flash_attn_resolved:
        fa += f"→{r.flash_attn_resolved}"
    return (f"n_batch {u.get('n_batch')}, n_ubatch {u.get('n_ubatch')}, threads "
            f"{u.get('n_threads')} (batch {u.get('n_threads_batch')}), flash_attn {fa}, "
            f"type_k {_type_name(u.get('type_k'))}, type_v {_type_name(u.get('type_v'))}")


def _avg_int(xs: Sequence[int]) -> int:
    return sum(xs) // len(xs) if xs else 0


def _stdev(xs: Sequence[float]) -> float:
    return statistics.stdev(xs) if len(xs) > 1 else 0.0


def record(r: RunResult, t: Measured) -> dict[str, Any]:
    """llama-bench's record for test ``t`` of run ``r``, plus venvsel's fields."""
    used = r.used or {}
    cell = r.cell
    fa = used.get("flash_attn")
    if fa is None:
        fa = {"0": 0, "1": 1, "auto": -1}.get(cell.flash_attn or "0", 0)
    ts = list(t.samples_ts)
    ns = list(t.samples_ns)
    pl = r.placement
    rec: dict[str, Any] = {
        "build_commit": r.build_commit or "unknown",
        "build_number": 0,
        "cpu_info": r.cpu_info or "",
        "gpu_info": r.gpu_info or "",
        "backends": r.ggml_backends or "CPU",
        "model_filename": r.model,
        "model_type": r.model_type or f"{r.model_label} {r.quant_label}",
        "model_size": int(r.size_bytes or 0),
        "model_n_params": int(r.n_params or 0),
        "n_batch": int(used.get("n_batch") or cell.n_batch or 0),
        "n_ubatch": int(used.get("n_ubatch") or cell.n_ubatch or 0),
        "n_threads": int(used.get("n_threads") or cell.threads or r.threads or 0),
        "cpu_mask": "0x0",
        "cpu_strict": False,
        "poll": 50,
        "type_k": _type_name(used.get("type_k", cell.type_k)),
        "type_v": _type_name(used.get("type_v", cell.type_v)),
        "n_gpu_layers": r.n_gpu_layers,
        "n_cpu_moe": 0,
        "split_mode": "layer",
        "main_gpu": 0,
        "no_kv_offload": False,
        "flash_attn": int(fa),
        "devices": "auto",
        "tensor_split": "0.00",
        "tensor_buft_overrides": "none",
        "load_mode": "auto",
        "lazy_mode": "auto",
        "embeddings": False,
        "no_op_offload": 0,
        "no_host": False,
        "repack": True,
        "fit_target": 0,
        "fit_min_ctx": 0,
        "n_prompt": t.n_prompt,
        "n_gen": t.n_gen,
        "n_depth": 0,
        "test_time": t.test_time,
        "avg_ns": _avg_int(ns),
        "stddev_ns": int(_stdev([float(x) for x in ns])),
        "avg_ts": statistics.fmean(ts) if ts else 0.0,
        "stddev_ts": _stdev(ts),
        "samples_ns": ns,
        "samples_ts": ts,
        "env": r.env,
        "env_name": r.env_name,
        "device": r.device,
        "layer_placement": pl.summary() if pl else "",
        "gpu_layers_placed": pl.gpu_layers if pl else None,
        "verdict": r.verdict or "",
        "fallback_reason": (r.reason or "") if r.verdict == "FALLBACK" else "",
        "flash_attn_resolved": r.flash_attn_resolved or "",
        "n_threads_batch": used.get("n_threads_batch"),
        "tg_loop": r.tg_loop or "",
    }
    return rec


def records(rep: Report) -> list[dict[str, Any]]:
    return [record(r, t) for r in rep.runs for t in r.tests if t.samples_ns]


# --------------------------------------------------------------------------- writers


def _text(field: str, v: Any) -> str:
    """A value as llama-bench prints it in csv/sql (std::to_string: bools are 0/1)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        return f"{v:f}"
    if isinstance(v, list):
        return " ".join(str(x) for x in v)
    return str(v)


def to_csv(recs: Sequence[dict[str, Any]]) -> str:
    cols = [*FIELDS, *VENVSEL_FIELDS]
    out = io.StringIO()
    w = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    out.write(",".join(cols) + "\n")  # llama-bench's header is not quoted
    for rec in recs:
        w.writerow([_text(c, rec.get(c)) for c in cols])
    return out.getvalue()


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def to_json(recs: Sequence[dict[str, Any]]) -> str:
    return json.dumps([{k: _json_safe(v) for k, v in rec.items()} for rec in recs],
                      indent=2) + "\n"


def to_jsonl(recs: Sequence[dict[str, Any]]) -> str:
    return "".join(json.dumps({k: _json_safe(v) for k, v in rec.items()}) + "\n"
                   for rec in recs)


def _sql_type(field: str) -> str:
    if field in INT_FIELDS or field in BOOL_FIELDS or field == "gpu_layers_placed" \
            or field == "n_threads_batch":
        return "INTEGER"
    if field in FLOAT_FIELDS:
        return "REAL"
    return "TEXT"


def to_sql(recs: Sequence[dict[str, Any]]) -> str:
    """Like ``llama-bench -o sql``: CREATE TABLE llama_bench, then one INSERT per test
    (``... -o sql | sqlite3 llama-bench.sqlite``). venvsel's fields are extra columns."""
    cols = [*FIELDS, *VENVSEL_FIELDS]
    out = io.StringIO()
    out.write("CREATE TABLE IF NOT EXISTS llama_bench (\n")
    for i, c in enumerate(cols):
        out.write(f"  {c} {_sql_type(c)}{',' if i < len(cols) - 1 else ''}\n")
    out.write(");\n\n")
    for rec in recs:
        vals = ", ".join("'" + _text(c, rec.get(c)).replace("'", "''") + "'" for c in cols)
        out.write(f"INSERT INTO llama_bench ({', '.join(cols)}) VALUES ({vals});\n")
    return out.getvalue()


def _size(n: int) -> str:
    if n < 1 << 30:
        return f"{n / (1 << 20):.2f} MiB"
    return f"{n / (1 << 30):.2f} GiB"


def _params(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n < 1e9 else f"{n / 1e9:.2f} B"


def to_md(recs: Sequence[dict[str, Any]], rep: Report | None = None) -> str:
    """llama-bench's Markdown table (model, size, params, backend, ngl, threads, the settings
    given more than one value, fa, test, t/s), with venvsel's env, layers and verdict."""
    vary = [f for f in ("n_batch", "n_ubatch", "type_k", "type_v")
            if len({rec[f] for rec in recs}) > 1]
    envs = len({rec["env"] for rec in recs}) > 1
    head = (["env"] if envs else []) + ["model", "size", "params", "backend", "ngl", "threads",
                                        *vary, "fa", "test", "t/s", "layers", "verdict"]
    right = {"size", "params", "ngl", "threads", "n_batch", "n_ubatch", "fa", "test", "t/s"}
    out = io.StringIO()
    out.write("| " + " | ".join(head) + " |\n")
    out.write("| " + " | ".join("---:" if h in right else "---" for h in head) + " |\n")
    for rec in recs:
        test = (f"pp{rec['n_prompt']}+tg{rec['n_gen']}" if rec["n_prompt"] and rec["n_gen"]
                else f"pp{rec['n_prompt']}" if rec["n_prompt"] else f"tg{rec['n_gen']}")
        fa = {-1: "auto", 0: "0", 1: "1"}.get(rec["flash_attn"], str(rec["flash_attn"]))
        if rec["flash_attn"] == -1 and rec.get("flash_attn_resolved"):
            fa += f"→{rec['flash_attn_resolved']}"
        row = ([rec["env_name"]] if envs else []) + [
            rec["model_type"], _size(rec["model_size"]), _params(rec["model_n_params"]),
            rec["backends"], str(rec["n_gpu_layers"]), str(rec["n_threads"]),
            *(str(rec[f]) for f in vary), fa, test,
            f"{rec['avg_ts']:.2f} ± {rec['stddev_ts']:.2f}",
            rec["layer_placement"] or "—", rec["verdict"] or "—",
        ]
        out.write("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |\n")
    commits = sorted({rec["build_commit"] for rec in recs})
    out.write(f"\nbuild: {', '.join(commits) or 'unknown'} (0)\n")
    if rep is not None:
        for ln in settings_lines(rep):
            out.write(ln + "\n")
    return out.getvalue()


def settings_lines(rep: Report) -> list[str]:
    """Every setting of the runs, and which of them were Llama()'s defaults."""
    out: list[str] = []
    for r in rep.builds:
        out.append(f"env: {r.env_name}: llama-cpp-python {r.llama_version}, llama.cpp/ggml "
                   f"commit {r.build_commit or 'unknown'}, backends {r.ggml_backends or '?'}"
                   + (f", GPU {r.gpu_info}" if r.gpu_info else ""))
        if r.defaults:
            d = r.defaults
            out.append("defaults (Llama() in that env, used where not set): " + ", ".join(
                f"{k}={d[k]}" for k in ("n_batch", "n_ubatch", "n_threads", "n_threads_batch",
                                        "flash_attn", "type_k", "type_v") if k in d))
    for used in dict.fromkeys(used_text(r) for r in rep.runs if r.used):
        out.append(f"used: {used}")
    for words in dict.fromkeys(r.tg_loop_words for r in rep.runs if r.tg_loop_words):
        out.append(f"tg loop: {words}")
    p = rep.params
    out.append(f"runs: {p.reps} repetitions per test after "
               f"{'a warm-up' if p.warmup else 'no warm-up'}"
               + (f", {p.delay:g} s delay before each test" if p.delay else "")
               + "; each test on its own context of n_prompt + n_gen cells, as llama-bench; "
               "t/s = mean ± stdev over the repetitions (llama-bench's avg_ts)")
    return out


def render(fmt: str, rep: Report) -> str:
    recs = records(rep)
    if fmt == "md":
        return to_md(recs, rep)
    if fmt == "csv":
        return to_csv(recs)
    if fmt == "json":
        return to_json(recs)
    if fmt == "jsonl":
        return to_jsonl(recs)
    if fmt == "sql":
        return to_sql(recs)
    raise errors.UsageError(f"unknown output format {fmt!r}; choose from: {', '.join(FORMATS)}.")


# --------------------------------------------------------------------------- reading back


def load(path: str) -> list[dict[str, Any]]:
    """llama-bench records from a file: ``venvsel bench --json`` (the envelope),
    ``-o json``/``jsonl``/``csv`` of venvsel or of llama-bench itself."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise errors.UsageError(f"cannot read {path}: {exc.strerror}.") from None
    stripped = text.lstrip()
    try:
        if stripped.startswith(("[", "{")):
            try:
                data = json.loads(text)
            except ValueError:
                data = [json.loads(ln) for ln in text.splitlines() if ln.strip()]  # jsonl
            if isinstance(data, dict) and data.get("command") == "bench":
                return _from_envelope(data["data"])
            if isinstance(data, dict):
                data = [data]
            return [dict(d) for d in data]
        rows = list(csv.DictReader(io.StringIO(text)))
    except (ValueError, KeyError, TypeError) as exc:
        raise errors.UsageError(f"{path} is not a llama-bench or venvsel bench result "
                                f"({exc}).") from None
    for row in rows:
        for k in ("avg_ts", "stddev_ts"):
            if row.get(k):
                row[k] = float(row[k])
    if not rows or "avg_ts" not in rows[0]:
        raise errors.UsageError(f"{path} is not a llama-bench or venvsel bench result.")
    return rows


def _from_envelope(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Records from the ``--json`` envelope (it keeps them under ``llama_bench``)."""
    recs = data.get("llama_bench")
    if recs is None:
        raise ValueError("no llama_bench records (written by an older venvsel)")
    return [dict(r) for r in recs]
