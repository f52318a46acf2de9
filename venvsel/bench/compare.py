"""``venvsel bench --compare OLD NEW``: the speed-up between two result files, test by test,
matched on the settings (like llama.cpp's ``scripts/compare-llama-bench.py``).

A row of OLD and a row of NEW match when the model (file name and type) and every setting
that changes the speed (batch, micro-batch, cache types, GPU layers, flash attention,
threads, prompt/generation/depth) agree; the build, the env, the backends and the machine
may differ — that difference is what a comparison is for. Several rows with the same key
are averaged (as the compare script does).
"""

from __future__ import annotations

import io
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import errors
from . import lbformat

KEY = ("model", "model_type", "n_batch", "n_ubatch", "type_k", "type_v", "n_gpu_layers",
       "flash_attn", "n_threads", "n_prompt", "n_gen", "n_depth")
SHOWN = ("n_batch", "n_ubatch", "type_k", "type_v", "n_gpu_layers", "flash_attn", "n_threads")


def _norm(rec: dict[str, Any], k: str) -> str:
    if k == "model":
        return os.path.basename(str(rec.get("model_filename") or ""))
    v = rec.get(k)
    if isinstance(v, bool):
        return "1" if v else "0"
    if k == "flash_attn" and isinstance(v, str):
        return {"true": "1", "false": "0"}.get(v.lower(), v)
    return "" if v is None else str(v)


def key_of(rec: dict[str, Any]) -> tuple[str, ...]:
    return tuple(_norm(rec, k) for k in KEY)


@dataclass(frozen=True)
class Row:
    key: tuple[str, ...]
    old_ts: float
    new_ts: float

    @property
    def speedup(self) -> float | None:
        return self.new_ts / self.old_ts if self.old_ts > 0 else None

    def get(self, k: str) -> str:
        return self.key[KEY.index(k)]

    @property
    def test(self) -> str:
        p, g = int(self.get("n_prompt") or 0), int(self.get("n_gen") or 0)
        d = int(self.get("n_depth") or 0)
        name = f"pp{p}+tg{g}" if p and g else (f"pp{p}" if p else f"tg{g}")
        return name + (f" @ d{d}" if d else "")


@dataclass(frozen=True)
class Comparison:
    old: str
    new: str
    old_label: str
    new_label: str
    rows: tuple[Row, ...]
    only_old: int
    only_new: int

    def as_data(self) -> dict[str, Any]:
        return {
            "old": self.old, "new": self.new, "old_label": self.old_label,
            "new_label": self.new_label, "only_old": self.only_old, "only_new": self.only_new,
            "rows": [{**dict(zip(KEY, r.key)), "test": r.test, "old_ts": r.old_ts,
                      "new_ts": r.new_ts, "speedup": r.speedup} for r in self.rows],
        }


def _label(recs: Sequence[dict[str, Any]]) -> str:
    envs = sorted({str(r.get("env_name") or "") for r in recs} - {""})
    builds = sorted({str(r.get("build_commit") or "") for r in recs} - {""})
    backs = sorted({str(r.get("backends") or "") for r in recs} - {""})
    parts = [", ".join(envs) or "?", "build " + ", ".join(builds or ["?"]),
             ", ".join(backs) or "?"]
    return " · ".join(parts)


def _means(recs: Sequence[dict[str, Any]]) -> dict[tuple[str, ...], float]:
    groups: dict[tuple[str, ...], list[float]] = {}
    for r in recs:
        try:
            ts = float(r["avg_ts"])
        except (KeyError, TypeError, ValueError):
            continue
        groups.setdefault(key_of(r), []).append(ts)
    return {k: statistics.fmean(v) for k, v in groups.items()}


def compare(old: str, new: str) -> Comparison:
    a, b = lbformat.load(old), lbformat.load(new)
    ma, mb = _means(a), _means(b)
    rows = tuple(Row(k, ma[k], mb[k]) for k in ma if k in mb)
    if not rows:
        raise errors.UnmetError(
            f"no test in {new} matches one in {old} on the model and the settings "
            f"({', '.join(KEY)}).",
            hint="Run both with the same model, -p/-n/-pg, -b/-ub, -ctk/-ctv, -ngl, -fa, -t.")
    return Comparison(old, new, _label(a), _label(b), rows,
                      sum(k not in mb for k in ma), sum(k not in ma for k in mb))


def render(c: Comparison) -> str:
    """A Markdown table: model, test, the settings that differ between rows, both t/s."""
    vary = [k for k in SHOWN if len({r.get(k) for r in c.rows}) > 1]
    head = ["model", *vary, "test", "old t/s", "new t/s", "speed-up"]
    out = io.StringIO()
    out.write(f"old: {c.old} ({c.old_label})\nnew: {c.new} ({c.new_label})\n\n")
    out.write("| " + " | ".join(head) + " |\n")
    out.write("| " + " | ".join("---" if h == "model" else "---:" for h in head) + " |\n")
    for r in c.rows:
        sp = r.speedup
        cells = [r.get("model_type") or r.get("model"), *(r.get(k) for k in vary), r.test,
                 f"{r.old_ts:.2f}", f"{r.new_ts:.2f}", "—" if sp is None else f"{sp:.2f}×"]
        out.write("| " + " | ".join(str(x).replace("|", "\\|") for x in cells) + " |\n")
    if c.only_old or c.only_new:
        out.write(f"\nunmatched: {c.only_old} test(s) only in old, {c.only_new} only in new\n")
    return out.getvalue()
