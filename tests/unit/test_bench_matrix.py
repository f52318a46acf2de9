"""llama-bench's settings: comma-separated lists, its test matrix, its output formats, and
the speed-up comparison between two result files."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import run_venvsel
from venvsel import errors
from venvsel.bench import compare, lbformat, logparse, report, results
from venvsel.bench import matrix as bm
from venvsel.bench.results import BenchParams, Measured, RunResult


def test_matrix_order_is_llama_bench_order() -> None:
    m = bm.Matrix(n_batch=(256, 512), flash_attn=("0", "1"), threads=(1, 2))
    cells = list(m.cells())
    assert len(cells) == 8
    # llama-bench: n_batch outer, then ... flash_attn, then n_threads innermost.
    assert [(c.n_batch, c.flash_attn, c.threads) for c in cells] == [
        (256, "0", 1), (256, "0", 2), (256, "1", 1), (256, "1", 2),
        (512, "0", 1), (512, "0", 2), (512, "1", 1), (512, "1", 2)]
    assert m.varying() == ("n_batch", "flash_attn", "threads")
    assert cells[0].n_ubatch is None and cells[0].type_k is None  # Llama()'s defaults


def test_tests_pp_then_tg_then_pg_and_zero_makes_no_test() -> None:
    m = bm.Matrix(n_prompt=(512, 0, 64), n_gen=(128, 0), n_pg=((512, 128), (0, 0)))
    assert [t.name for t in m.tests()] == ["pp512", "pp64", "tg128", "pp512+tg128"]
    assert m.max_tokens == 640


def test_parsing_lists() -> None:
    assert bm.int_list("1, 2,2", "-t", minimum=1) == (1, 2)
    assert bm.int_list(None, "-t") == (None,)
    assert bm.counts("0,16", "-p", 512) == (0, 16)
    assert bm.counts(None, "-p", 512) == (512,)
    assert bm.fa_list("0,1,auto,on") == ("0", "1", "auto")
    assert bm.cache_type_list("F16,q8_0", "-ctk") == ("f16", "q8_0")
    assert bm.pg_pairs(["512,128", "64,16"]) == ((512, 128), (64, 16))
    for bad in (lambda: bm.int_list("1,x", "-t"), lambda: bm.int_list("0", "-t", minimum=1),
                lambda: bm.int_list("1,,2", "-t"), lambda: bm.fa_list("maybe"),
                lambda: bm.cache_type_list("q3_k", "-ctk"), lambda: bm.pg_pairs(["512"])):
        with pytest.raises(errors.UsageError):
            bad()


@pytest.mark.parametrize("args, words", [
    (["-fa", "maybe"], "--flash-attn"),
    (["-p", "0", "-n", "0"], "nothing to measure"),
    (["-t", "0"], "--threads"),
    (["-ctk", "q3"], "unknown cache type"),
    (["-pg", "1,2,3"], "-pg takes two numbers"),
])
def test_cli_refuses_bad_lists_before_running(args: list[str], words: str, isolated: Path,
                                              bare_env: Path) -> None:
    r = run_venvsel("bench", "--env", str(bare_env), *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert words in r.stderr and "Traceback" not in r.stderr


def test_cli_declares_llama_bench_names() -> None:
    from click.testing import CliRunner

    from venvsel.cli import cli

    text = CliRunner().invoke(cli, ["bench", "--help"]).output
    for name in ("-p, --n-prompt", "-n, --n-gen", "-pg, --prompt-gen", "-b, --batch-size",
                 "-ub, --ubatch-size", "-t, --threads", "-ngl, --n-gpu-layers",
                 "-fa, --flash-attn", "-ctk, --cache-type-k", "-ctv, --cache-type-v",
                 "-r, --repetitions", "--delay", "--no-warmup", "-o, --output", "--compare",
                 "--n-batch", "--reps"):
        assert name in text, name


# --------------------------------------------------------------------------- formats


def _run(fa: str, threads: int, pp_ns: tuple[int, ...], tg_ns: tuple[int, ...],
         **kw: object) -> RunResult:
    pl = logparse.Placement(4, (("CPU", 4),), 0, None, "per-layer load log lines")
    tests = (Measured(64, 0, pp_ns, "2026-12-02T03:00:00Z"),
             Measured(0, 16, tg_ns, "2026-12-02T03:00:01Z"))
    r = RunResult(
        env="/p/.venv", env_name=".venv", model="/m/synthetic-tiny-q4_0-abc.gguf",
        model_label="synthetic-tiny", quant="q4_0", device="cpu", n_gpu_layers=0,
        gpu_asked=False, status="ok", verdict="CPU", placement=pl, model_loaded=True,
        cell=bm.Cell(flash_attn=fa, threads=threads), tests=tests,
        pp=tests[0].ts, tg=tests[1].ts, llama_version="0.3.36", build_commit="abc1234",
        ggml_backends="CPU", cpu_info="Some CPU", gpu_info="", model_type="llama ?B Q4_0",
        n_params=7_000_000, size_bytes=5 << 20, threads=threads,
        used={"n_batch": 512, "n_ubatch": 512, "n_threads": threads,
              "n_threads_batch": threads, "type_k": 1, "type_v": 1, "flash_attn": int(fa),
              "n_ctx": 2048},
        defaults={"n_batch": 512, "n_ubatch": 512, "n_threads": None, "flash_attn": False},
    )
    return replace(r, **kw)  # type: ignore[arg-type]


def _report() -> results.Report:
    params = BenchParams(reps=3, matrix=bm.Matrix(n_prompt=(64,), n_gen=(16,),
                                                  flash_attn=("0", "1"), threads=(1, 2)))
    runs = (
        _run("0", 1, (10_000_000, 11_000_000, 12_000_000), (100_000_000,) * 3),
        _run("0", 2, (6_000_000,) * 3, (60_000_000,) * 3),
        _run("1", 1, (9_000_000,) * 3, (90_000_000,) * 3),
        _run("1", 2, (5_000_000,) * 3, (50_000_000,) * 3),
    )
    return results.Report.build(runs, params)


def test_records_have_llama_bench_fields_in_order_and_meaning() -> None:
    recs = lbformat.records(_report())
    assert len(recs) == 8  # 4 cells × (pp64, tg16)
    r = recs[0]
    assert list(r)[:len(lbformat.FIELDS)] == list(lbformat.FIELDS)
    assert list(r)[len(lbformat.FIELDS):len(lbformat.FIELDS) + 2] == ["samples_ns", "samples_ts"]
    assert (r["n_prompt"], r["n_gen"], r["flash_attn"], r["n_threads"]) == (64, 0, 0, 1)
    assert r["samples_ns"] == [10_000_000, 11_000_000, 12_000_000]
    assert r["avg_ns"] == 11_000_000 and r["stddev_ns"] == 1_000_000
    assert r["samples_ts"] == pytest.approx([6400.0, 64 / 0.011, 64 / 0.012])
    assert r["avg_ts"] == pytest.approx(sum(r["samples_ts"]) / 3)
    assert r["type_k"] == "f16" and r["backends"] == "CPU" and r["build_commit"] == "abc1234"
    assert r["verdict"] == "CPU" and r["layer_placement"] == "CPU 4/4"
    tg = recs[1]
    assert (tg["n_prompt"], tg["n_gen"]) == (0, 16) and tg["avg_ts"] == pytest.approx(160.0)


def test_csv_json_jsonl_sql_round_trip() -> None:
    rep = _report()
    recs = lbformat.records(rep)
    rows = list(csv.DictReader(io.StringIO(lbformat.render("csv", rep))))
    assert len(rows) == 8 and rows[0]["build_commit"] == "abc1234"
    assert rows[0]["cpu_strict"] == "0" and rows[0]["flash_attn"] == "0"
    assert float(rows[0]["avg_ts"]) == pytest.approx(recs[0]["avg_ts"], rel=1e-6)
    assert json.loads(lbformat.render("json", rep)) == json.loads(json.dumps(recs))
    lines = lbformat.render("jsonl", rep).splitlines()
    assert [json.loads(ln)["n_threads"] for ln in lines] == [1, 1, 2, 2, 1, 1, 2, 2]
    db = sqlite3.connect(":memory:")
    db.executescript(lbformat.render("sql", rep))
    got = db.execute("SELECT flash_attn, n_threads, n_prompt, n_gen, avg_ts FROM llama_bench "
                     "ORDER BY rowid").fetchall()
    assert len(got) == 8 and got[2][:4] == (0, 2, 64, 0)
    assert got[2][4] == pytest.approx(64 / 0.006)


def test_md_table_like_llama_bench() -> None:
    md = lbformat.render("md", _report())
    lines = md.splitlines()
    assert lines[0] == ("| model | size | params | backend | ngl | threads | fa | test | t/s | "
                        "layers | verdict |")
    assert "| llama ?B Q4_0 | 5.00 MiB | 7.00 M | CPU | 0 | 2 | 1 | tg16 | 320.00 ± 0.00 | "\
           "CPU 4/4 | CPU |" in md
    assert "build: abc1234 (0)" in md
    assert "defaults (Llama() in that env" in md


def test_envelope_carries_the_records_and_the_table_shows_the_matrix() -> None:
    rep = _report()
    data = report.as_data(rep)
    assert data["llama_bench"] == lbformat.records(rep)
    hs = report.headers(rep.params)
    assert hs[5:7] == ["flash_attn", "threads"] and "pp64 t/s" in hs and "tg16 t/s" in hs
    rows = [report.row(r, rep.params) for r in rep.runs]
    assert [r[5:7] for r in rows] == [["0", "1"], ["0", "2"], ["1", "1"], ["1", "2"]]
    assert rows[3][hs.index("tg16 t/s")] == "320 ± 0.00"


# --------------------------------------------------------------------------- compare


def test_compare_matches_on_settings(tmp_path: Path) -> None:
    rep = _report()
    old = tmp_path / "old.json"
    old.write_text(lbformat.render("json", rep))
    faster = results.Report.build(tuple(
        replace(r, build_commit="def5678", tests=tuple(
            replace(t, samples_ns=tuple(x // 2 for x in t.samples_ns)) for t in r.tests))
        for r in rep.runs), rep.params)
    new = tmp_path / "new.jsonl"
    new.write_text(lbformat.render("jsonl", faster))
    c = compare.compare(str(old), str(new))
    assert len(c.rows) == 8 and c.only_old == c.only_new == 0
    assert all(r.speedup == pytest.approx(2.0, rel=1e-6) for r in c.rows)
    text = compare.render(c)
    assert "| model | flash_attn | n_threads | test | old t/s | new t/s | speed-up |" in text
    assert "2.00×" in text and "build abc1234" in text and "build def5678" in text
    # The --json envelope of a venvsel run is read too.
    env_file = tmp_path / "env.json"
    from venvsel import render

    buf = io.StringIO()
    render.emit_json("bench", report.as_data(faster), buf)
    env_file.write_text(buf.getvalue())
    assert len(compare.compare(str(old), str(env_file)).rows) == 8


def test_compare_with_nothing_in_common_says_so(tmp_path: Path) -> None:
    rep = _report()
    a = tmp_path / "a.json"
    a.write_text(lbformat.render("json", rep))
    other = results.Report.build(tuple(replace(r, used={**(r.used or {}), "n_batch": 64})
                                      for r in rep.runs), rep.params)
    b = tmp_path / "b.csv"
    b.write_text(lbformat.render("csv", other))
    with pytest.raises(errors.UnmetError, match="no test in"):
        compare.compare(str(a), str(b))
