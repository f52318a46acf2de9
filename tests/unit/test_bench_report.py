"""The report: ratios, the table, Markdown, JSON, and what FALLBACK/crashed rows may show."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest

from venvsel import errors
from venvsel.bench import logparse, report, results
from venvsel.bench.results import E2E, BenchParams, RunResult, Stat


def _stat(median: float) -> Stat:
    s = Stat.of([median * 0.98, median, median * 1.02])
    assert s is not None
    return s


def _run(env: str, quant: str, device: str, verdict: str, pp: float, tg: float,
         **kw: object) -> RunResult:
    n = 36
    gpu = n if verdict == "GPU" else 0
    pl = logparse.Placement(n, (("CUDA0" if gpu else "CPU", n),), gpu, None,
                            "per-layer load log lines")
    base = RunResult(
        env=f"/p/{env}", env_name=env, model=f"/m/synthetic-3b-{quant}.gguf",
        model_label="synthetic-3b", quant=quant, device=device,
        n_gpu_layers=-1 if device == "gpu" else 0, gpu_asked=device == "gpu",
        status="fallback" if verdict == "FALLBACK" else "ok", verdict=verdict, placement=pl,
        pp=_stat(pp), tg=_stat(tg), load_s=1.5, model_loaded=True,
        e2e=E2E(doc="/c/large.md", words=700, prompt_tokens=1976, gen_tokens=64,
                gen_requested=64, seconds=5.0, words_per_s=140.0, tokens_per_s=408.0,
                truncated=True),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


H200 = [  # the ANCHORS.md measurements
    _run(".venv310", "q4_0", "gpu", "GPU", 35350, 331),
    _run(".venv310", "q8_0", "gpu", "GPU", 28143, 272),
    _run(".venv310", "q4_0", "cpu", "CPU", 1055, 23.7),
    _run(".venv310", "q8_0", "cpu", "CPU", 900, 15.0),
]


def test_stat_median_and_sample_stdev() -> None:
    s = Stat.of([1.0, 2.0, 4.0])
    assert s is not None
    assert (s.median, s.min, s.max) == (2.0, 1.0, 4.0)
    assert s.stdev == pytest.approx(1.5275, rel=1e-3)  # n-1, as llama-bench
    single = Stat.of([5.0])
    assert single is not None and single.stdev == 0.0
    assert Stat.of([]) is None


def test_ratios_gpu_cpu_and_q4_q8() -> None:
    rs = results.ratios(H200)
    by = {(r.kind, r.subject): r for r in rs}
    g = by[("GPU/CPU", ".venv310 synthetic-3b Q4_0")]
    assert g.pp == pytest.approx(35350 / 1055)
    assert g.tg == pytest.approx(331 / 23.7)
    q = by[("Q4_0/Q8_0", ".venv310 synthetic-3b gpu")]
    assert q.pp == pytest.approx(35350 / 28143)
    assert q.tg == pytest.approx(331 / 272)
    assert ("Q4_0/Q8_0", ".venv310 synthetic-3b cpu") in by
    assert not any(r.kind == "env/env" for r in rs)  # one env only


def test_fallback_numbers_never_shown_or_used_as_gpu_numbers() -> None:
    fb = _run(".venv", "q4_0", "gpu", "FALLBACK", 256, 30.2,
              reason="no GPU device visible (...)", fix="unset CUDA_VISIBLE_DEVICES")
    cpu = _run(".venv", "q4_0", "cpu", "CPU", 1055, 23.7)
    rep = results.Report.build((fb, cpu), BenchParams())
    assert not any(r.kind == "GPU/CPU" for r in rep.ratios)
    row = report.row(fb)
    assert row[6] == "FALLBACK"
    assert row[7] == row[8] == report.DASH  # pp / tg hidden in the table
    assert rep.exit_code == errors.EXIT_UNMET
    msg = report.problems_message(rep)
    assert msg.startswith("FALLBACK: .venv put 36 of 36 repeating layers on the CPU")
    assert "CPU numbers, not GPU numbers" in msg and "256" in msg
    assert "fix: unset CUDA_VISIBLE_DEVICES" in msg
    with pytest.raises(errors.UnmetError):
        report.raise_for(rep)


def test_crashed_run_is_reported_as_a_crash_with_exit_3() -> None:
    crashed = RunResult(
        env="/p/.venv", env_name=".venv", model="/m/x.gguf", model_label="x", quant=None,
        device="cpu", n_gpu_layers=0, gpu_asked=False, status="crashed", signal="SIGSEGV",
        detail="the worker crashed with SIGSEGV during loading the model",
        log_tail=("load_tensors: loading model tensors",), log_path="/logs/1.log",
    )
    rep = results.Report.build((crashed, *H200[:1]), BenchParams())
    assert rep.exit_code == errors.EXIT_FAILED
    row = report.row(crashed)
    assert row[6] == "CRASHED (SIGSEGV)"
    assert row[7] == row[8] == report.DASH
    msg = report.problems_message(rep)
    assert "CRASHED" in msg and "SIGSEGV" in msg and "No result was recorded" in msg
    assert "load_tensors: loading model tensors" in msg and "/logs/1.log" in msg
    with pytest.raises(errors.OperationFailed):
        report.raise_for(rep)


def test_text_markdown_and_json_outputs(tmp_path: object) -> None:
    rep = results.Report.build(tuple(H200), BenchParams(reps=3))
    out = io.StringIO()
    report.render_text(rep, out)
    text = out.getvalue()
    assert "pp512 t/s" in text and "tg128 t/s" in text
    assert "35,350 ± 707" in text  # median ± stdev
    assert "GPU/CPU" in text and "Q4_0/Q8_0" in text
    md = report.render_markdown(rep)
    table = [ln for ln in md.splitlines() if ln.startswith("|")]
    width = table[0].count("|")
    assert all(ln.count("|") == width for ln in table[:6])  # header, rule, 4 rows
    assert table[1].startswith("|---|")
    assert sum("synthetic-3b" in ln for ln in table) >= 4
    buf = io.StringIO()
    from venvsel import render

    render.emit_json("bench", report.as_data(rep), buf)
    data = json.loads(buf.getvalue())
    assert data["venvsel"] == 1 and data["command"] == "bench"
    assert data["data"]["exit_code"] == 0
    assert [r["verdict"] for r in data["data"]["runs"]] == ["GPU", "GPU", "CPU", "CPU"]
    assert data["data"]["runs"][0]["pp"]["median"] == 35350


def test_several_envs_get_env_ratios() -> None:
    a = _run(".venv", "q4_0", "cpu", "CPU", 1000, 20)
    b = _run(".venv-b", "q4_0", "cpu", "CPU", 2000, 30)
    b = replace(b, model=a.model)
    rs = results.ratios((a, b))
    env = [r for r in rs if r.kind == "env/env"]
    assert len(env) == 1
    assert (env[0].numerator, env[0].denominator) == (".venv-b", ".venv")
    assert env[0].pp == pytest.approx(2.0) and env[0].tg == pytest.approx(1.5)


def test_build_line_tells_a_hidden_gpu_from_a_cpu_only_build() -> None:
    """From the H200 run: a CUDA build under CUDA_VISIBLE_DEVICES="" says offload False."""
    cuda_info = "CUDA : ARCHS = 900 | USE_GRAPHS = 1 | CPU : AVX2 = 1 |"
    hidden = _run(".venv310", "q4_0", "gpu", "FALLBACK", 215, 32.8, llama_version="0.3.36",
                  python="3.12.3", gpu_offload=False, system_info=cuda_info)
    cpu_only = _run(".venv", "q4_0", "gpu", "FALLBACK", 0, 0, llama_version="0.3.36",
                    python="3.12.3", gpu_offload=False, system_info="CPU : AVX2 = 1 |")
    params = BenchParams()
    lines = report.detail_lines(results.Report.build([hidden, cpu_only], params))
    assert any(".venv310" in ln and "GPU backend is built in, but no device" in ln for ln in lines)
    assert any(".venv:" in ln and "no (CPU-only build)" in ln for ln in lines)
