"""The benchmark suite in one command: run every benchmark, keep the raw JSON in docs/perf/,
and write docs/PERFORMANCE.md from it.

    python benchmarks/run.py                 # all of them (~15 min on 2 cores)
    python benchmarks/run.py pick activate   # some of them; the others keep their last JSON

Speed figures are medians of several runs measured side by side in one run of each script,
never timed unit tests: these machines are shared and noisy, so each JSON also records the
load average it saw.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PERF = REPO / "docs" / "perf"
Row = tuple[str, str, str, str]  # what, figure, target, verdict


def _ms(x: float) -> str:
    return f"{x:.0f} ms" if x >= 10 else f"{x:.1f} ms"


def _ok(good: bool) -> str:
    return "met" if good else "**not met**"


def static_rows(d: dict[str, Any]) -> list[Row]:
    n = d["envs_scanned"]
    cli = d["with_bytecode"].get("cli", {}).get("median_ms")
    rows = [
        (f"static scan of {n} envs, in one process (discover + inspect)",
         _ms(d["in_process"]["median_ms"]), "", ""),
        (f"`venvsel scan --static` of {n} envs, whole process", _ms(cli) if cli else "-",
         "<= 150 ms", _ok(cli is not None and cli <= 150)),
    ]
    raw = d["without_bytecode"].get("cli", {}).get("median_ms")
    if raw:
        rows.append(("the same without byte-code (PYTHONDONTWRITEBYTECODE=1, as on CI)",
                     _ms(raw), "", ""))
    return rows


def pick_rows(d: dict[str, Any]) -> list[Row]:
    rows = [
        (f"warm `venvsel pick --need torch`, {d['envs']} cached envs",
         _ms(d["warm_pick_median_s"] * 1000), "<= 80 ms", _ok(d["warm_pick_median_s"] <= 0.080)),
        (f"the seed's loop over the same {d['envs']} envs (spawn each python, import torch)",
         f"{d['seed_loop_median_s']:.1f} s", "", ""),
        ("speed-up of warm pick over the seed's loop", f"{d['speedup']:.0f}x", ">= 300x",
         _ok(d["speedup"] >= 300)),
        ("one live probe of a torch env", f"{d['one_probe_median_s']:.2f} s", "", ""),
    ]
    for live in d["live_scan"]:
        rows.append((
            f"live `venvsel scan --refresh` of {live['n']} torch envs "
            f"(seed loop {live['seed_loop_median_s']:.2f} s)",
            f"{live['scan_median_s']:.2f} s", f"<= {live['target_s']:.2f} s",
            _ok(live["within_target"]),
        ))
    return rows


def activate_rows(d: dict[str, Any]) -> list[Row]:
    r = d["results"]
    med = r["activate_bash"]["median_ms"]
    rows = [("warm `eval \"$(venvsel activate ENV)\"` in bash", _ms(med), "<= 80 ms",
             _ok(med <= 80))]
    for key, what in (("activate_bash_detect", "the same, shell detected"),
                      ("deactivate_bash", "`venvsel deactivate` in bash"),
                      ("python_pass", "`python -c pass` (the interpreter alone)"),
                      ("import_click", "`python -c 'import click'`")):
        if key in r:
            rows.append((what, _ms(r[key]["median_ms"]), "", ""))
    return rows


def fidelity_rows(d: dict[str, Any]) -> list[Row]:
    return [
        (f"bench tg vs a bare llama_cpp decode loop ({d.get('model', 'tiny')}, "
         f"{d.get('rounds')} rounds interleaved)",
         f"{d['overhead_pct']:+.1f} %", "within 5 %", _ok(abs(d["overhead_pct"]) <= 5)),
        ("bench tg median / direct tg median",
         f"{d['bench_tg_median']:.0f} / {d['direct_tg_median']:.0f} tok/s", "", ""),
    ]


def prompt_rows(d: dict[str, Any]) -> list[Row]:
    def us(x: float) -> str:
        return f"{x * 1000:.0f} µs"

    rows: list[Row] = []
    for shell, r in d["results"].items():
        med = {k: v["median_ms"] for k, v in r.items() if isinstance(v, dict) and "median_ms" in v}
        rows += [
            (f"{shell}: prompt, nothing changed (hook - no hook, {d['prompts']} prompts)",
             us(med["unchanged"]), "<= 1 ms", _ok(med["unchanged"] <= 1)),
            (f"{shell}: prompt after a cd inside the project", us(med["within_project"]),
             "<= 1 ms", _ok(med["within_project"] <= 1)),
            (f"{shell}: prompt after a cd into or out of the project ({d['changes']} changes)",
             _ms(med["change"]), f"<= {_ms(med['activate'])} (one warm activate, same run)",
             _ok(med["change"] <= med["activate"])),
        ]
    return rows


def warm_rows(d: dict[str, Any]) -> list[Row]:
    r, ratio, cpu = d["results"], d["ratio_to_floor"], d["cpu_ratio_to_floor"]
    floor = r["floor"]["median_ms"]
    what = {
        "pick": "warm `venvsel pick --need torch` (project of 3 envs, cache warm)",
        "activate_need": "warm `venvsel activate --need torch --shell bash`",
        "activate_project": "warm `venvsel activate --shell bash` (the project's recorded env)",
        "activate_env": "`venvsel activate .venv --shell bash`",
    }
    rows = [(f"floor: `python -c \"import click\"` (load {d['load_average_1m_before']})",
             _ms(floor), "", ""),
            ("`python -c pass`", _ms(r["python_pass"]["median_ms"]), "", "")]
    for key, text in what.items():
        if key in r:
            rows.append((text, f"{_ms(r[key]['median_ms'])} = {ratio[key]:.2f}x floor "
                         f"(CPU {cpu[key]:.2f}x)", f"<= {d['target_ratio']}x floor",
                         _ok(ratio[key] <= d["target_ratio"])))
    return rows


def scale_rows(d: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for s in d["sizes"]:
        n, target = s["envs"], s.get("target_ms", {})
        floor = f" (floor {_ms(s['floor_ms'])}, load {s['load_average_1m']})"
        for kind, label in (("empty", "empty cache"), ("warm", "warm cache")):
            ms = s[f"{kind}_ms"]
            rows.append((
                f"`scan --static` of {n:,} envs, {label}{floor}",
                f"{_ms(ms)} ({s[f'{kind}_ms_per_env']:.2f} ms/env, CPU {_ms(s[f'{kind}_cpu_ms'])})",
                f"<= {_ms(target[kind])}" if kind in target else "",
                _ok(s["meets_target"][kind]) if kind in target else "",
            ))
    return rows


def trust_rows(d: dict[str, Any]) -> list[Row]:
    n = d["envs"]
    rows = []
    for key, what in (("inspect", f"discover + inspect of {n} envs, in one process"),
                      ("scan_warm", f"static scan of {n} envs, warm cache, in one process"),
                      ("cli_warm", f"`venvsel scan --static` of {n} envs, whole process")):
        f = d[key]
        rows.append((f"{what}: CPU time without → with the rule (median of {d['reps']})",
                     f"{_ms(f['cpu_before_ms'])} → {_ms(f['cpu_after_ms'])} "
                     f"({f['cpu_slower_pct']:+.1f} %)", "", ""))
        rows.append(("  the same, wall time (medians; the machine is shared)",
                     f"{_ms(f['wall_before_ms'])} → {_ms(f['wall_after_ms'])} "
                     f"({f['wall_slower_pct']:+.1f} %)", "", ""))
    v = d.get("vs_base")
    if v:
        rows.append((f"`venvsel scan --static` of {n} envs, whole process: commit "
                     f"{v.get('before_repo_commit', '?')} (before) → this tree, CPU (median)",
                     f"{_ms(v['cpu_before_ms'])} → {_ms(v['cpu_after_ms'])} "
                     f"({v['cpu_slower_pct']:+.1f} %)", "<= +10 %",
                     _ok(v["cpu_slower_pct"] <= 10)))
        rows.append(("  the same, wall time (medians)",
                     f"{_ms(v['wall_before_ms'])} → {_ms(v['wall_after_ms'])} "
                     f"({v['wall_slower_pct']:+.1f} %)", "", ""))
    r = d["rule_alone"]
    rows.append((f"the rule alone, {n} envs (CPU, min of {d['reps']}), as a share of the warm "
                 "static scan without it", f"{_ms(r['cpu_min_ms'])} = "
                 f"{r['share_of_warm_scan_pct']:.1f} %", "<= 10 %",
                 _ok(r["share_of_warm_scan_pct"] <= 10)))
    return rows


SUITE: dict[str, tuple[list[str], Callable[[dict[str, Any]], list[Row]], str]] = {
    "static": (["static_scan.py"], static_rows, "Static scan (issue 2)"),
    "pick": (["pick_vs_seed.py", "--envs", "20", "--reps", "7", "--live-n", "2,4"], pick_rows,
             "Warm pick and live scan against the seed's loop (issue 3)"),
    "activate": (["activate.py", "--runs", "30"], activate_rows, "Activation (issue 4)"),
    "fidelity": (["bench_fidelity.py", "--rounds", "10"], fidelity_rows,
                 "Bench fidelity (issue 6)"),
    "prompt": (["prompt_loop.py", "--prompts", "1000", "--changes", "20", "--reps", "5"],
               prompt_rows, "Auto-activation at the prompt (issue 15)"),
    "warm": (["warm_path.py", "--runs", "21", "--venvsel", "{tool}"], warm_rows,
             "Warm path against the interpreter's floor (issue 16)"),
    "scale": (["scale.py", "--sizes", "100,1000,5000", "--reps", "5", "--venvsel", "{tool}"],
              scale_rows, "Scale: 100, 1,000 and 5,000 envs (issue 16)"),
    "trust": (["trust_cost.py", "--reps", "15", *(
        ["--before-repo", os.environ["VENVSEL_BENCH_BEFORE"]]
        if os.environ.get("VENVSEL_BENCH_BEFORE") else [])], trust_rows,
              "What the trust rule costs the static scan (issue 13)"),
}


def run(name: str) -> dict[str, Any]:
    argv, _, _ = SUITE[name]
    if "{tool}" in argv:  # venvsel as a user installs it (benchmarks/_tool.py)
        sys.path.insert(0, str(REPO))
        from benchmarks._tool import installed_venvsel

        argv = [str(installed_venvsel()) if a == "{tool}" else a for a in argv]
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # time what users run: byte-compiled code
    print(f"running {argv[0]} ...", file=sys.stderr, flush=True)
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / argv[0]), *argv[1:]],
                         env=env, cwd=REPO, capture_output=True, text=True, check=True)
    data: dict[str, Any] = json.loads(out.stdout)
    data["_recorded"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    PERF.mkdir(parents=True, exist_ok=True)
    (PERF / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    return data


def render() -> str:
    lines = [
        "# Performance",
        "",
        "Written by `python benchmarks/run.py` from the raw results in [`perf/`](perf/) "
        "(one JSON per benchmark, with the machine's load average). Medians of several runs, "
        "both sides of each comparison measured in the same run. The machine: 2 cores, "
        "shared with other work, so spreads are wide; GPU figures are in "
        "[`gpu-validation.md`](gpu-validation.md).",
        "",
    ]
    for name, (argv, rows_of, title) in SUITE.items():
        path = PERF / f"{name}.json"
        lines += [f"## {title}", ""]
        if not path.exists():
            lines += [f"Not measured yet: `python benchmarks/run.py {name}`.", ""]
            continue
        data = json.loads(path.read_text())
        lines += [f"`benchmarks/{argv[0]}`, recorded {data.get('_recorded', '?')}.", "",
                  "| what | figure | target | |", "|---|---|---|---|"]
        lines += [f"| {w} | {f} | {t} | {v} |" for w, f, t, v in rows_of(data)]
        lines.append("")
    notes = REPO / "benchmarks" / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().rstrip(), ""]
    return "\n".join(lines)


def main(names: list[str]) -> None:
    for name in names or list(SUITE):
        if name not in SUITE:
            raise SystemExit(f"unknown benchmark {name!r}; choose from {', '.join(SUITE)}")
        run(name)
    (REPO / "docs" / "PERFORMANCE.md").write_text(render())
    print("wrote docs/PERFORMANCE.md", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
