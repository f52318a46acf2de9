"""`venvsel bench` for real: the seed's .venv (llama-cpp-python 0.3.36, CPU-only build, built
from source), synthetic GGUF models, the real CLI in a subprocess, real crashes and hangs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_venvsel
from venvsel.bench import synth

pytestmark = pytest.mark.slow

# Small and single-threaded: the CI machine has 2 cores shared with other work.
FAST = ("--reps", "3", "--n-prompt", "64", "--n-gen", "16", "--ctx", "512", "--e2e-gen", "8",
        "--threads", "1")


def _table_rows(md: str) -> list[str]:
    return [ln for ln in md.splitlines() if ln.startswith("|")]


def _bench_logs(isolated: Path) -> list[Path]:
    d = isolated / "log" / "bench"
    return sorted(d.iterdir()) if d.is_dir() else []


def test_tiny_q4_q8_on_the_cpu_build(seed_project: Path, tmp_path: Path) -> None:
    out_json, out_md = tmp_path / "b.json", tmp_path / "b.md"
    r = run_venvsel("bench", "--env", ".venv", "--synthetic", "tiny", "--quant", "q4_0,q8_0",
                    *FAST, "--json", str(out_json), "--markdown", str(out_md), cwd=seed_project)
    assert r.returncode == 0, r.stdout + r.stderr

    env = json.loads(out_json.read_text())
    assert env["venvsel"] == 1 and env["command"] == "bench"
    data = env["data"]
    assert data["exit_code"] == 0 and data["problems"] == []
    runs = data["runs"]
    assert [x["quant"] for x in runs] == ["q4_0", "q8_0"]
    tiny = synth.SHAPES["tiny"]
    for run in runs:
        assert run["status"] == "ok" and run["verdict"] == "CPU", run
        assert run["device"] == "cpu" and run["n_gpu_layers"] == 0
        assert run["llama_version"] == "0.3.36" and run["gpu_offload"] is False
        assert run["placement"]["devices"] == [["CPU", tiny.n_layer]]
        assert run["placement"]["gpu_layers"] == 0
        assert "per-layer" in run["placement"]["evidence"]
        for key in ("pp", "tg"):
            stat = run[key]
            assert len(stat["samples"]) == 3  # --reps 3
            assert all(s > 0 for s in stat["samples"])
            assert stat["min"] <= stat["median"] <= stat["max"] and stat["stdev"] >= 0
        assert run["load_s"] > 0 and run["model_loaded"] is True
        # The synthetic GGUF loaded in the real llama.cpp with the shape asked for.
        assert run["n_layer"] == tiny.n_layer and run["n_params"] == tiny.n_params
        assert run["threads"] == 1
        e2e = run["e2e"]
        assert e2e["gen_tokens"] == 8 and e2e["words"] > 0 and e2e["words_per_s"] > 0
        assert e2e["doc"].endswith(os.path.join("resources", "corpus", "large.md"))
        assert e2e["truncated"] is True  # 20,000 words never fit in 512 tokens
        assert run["system_info"] and "CPU" in run["system_info"]
        assert Path(run["log_path"]).is_file()
    assert [x["kind"] for x in data["ratios"]] == ["Q4_0/Q8_0"]

    # The table on stdout: one row per quant, medians ± spreads, the placement.
    assert r.stdout.count("CPU 4/4") == 2
    assert "pp64 t/s" in r.stdout and "tg16 t/s" in r.stdout and " ± " in r.stdout
    assert "Q4_0/Q8_0" in r.stdout and "llama-cpp-python 0.3.36" in r.stdout

    md = out_md.read_text()
    rows = _table_rows(md.split("## Speed-up")[0])
    assert "| Q4_0/Q8_0 | .venv synthetic-tiny cpu |" in md
    assert "pp64 t/s" in rows[0] and rows[1].startswith("|---|")
    body = [ln for ln in rows[2:] if "synthetic-tiny" in ln]
    assert len(body) == 2 and {"Q4_0" in body[0], "Q8_0" in body[1]} == {True}
    assert all(ln.count("|") == rows[0].count("|") for ln in rows[:4])


def test_tg_loop_c_and_python_both_decode_every_token(seed_project: Path, isolated: Path) -> None:
    """The C tg loop (built here with the machine's compiler) and the Python one measure the
    same tests; after every repetition the worker checks that the KV cache holds exactly the
    positions the test decoded, so a loop that skipped or misplaced a token fails the run.
    The pg test starts generation after the prompt: the C loop's positions continue there."""
    for mode in ("c", "python"):
        r = run_venvsel("bench", "--env", ".venv", "--synthetic", "tiny", "--quant", "q4_0",
                        "-p", "8", "-n", "24", "-pg", "8,16", "-r", "2", "--e2e-gen", "0",
                        "-t", "1", "--tg-loop", mode, "-o", "json", cwd=seed_project)
        assert r.returncode == 0, r.stdout + r.stderr
        recs = json.loads(r.stdout)
        assert [(x["n_prompt"], x["n_gen"]) for x in recs] == [(8, 0), (0, 24), (8, 16)]
        assert {x["tg_loop"] for x in recs} == {mode}
        assert all(len(x["samples_ns"]) == 2 and min(x["samples_ns"]) > 0 for x in recs)
    assert next((isolated / "cache" / "native").iterdir()).name.startswith("tgloop-")
    r = run_venvsel("bench", "--env", ".venv", "--synthetic", "tiny", "--quant", "q4_0",
                    "-p", "0", "-n", "8", "-r", "1", "--e2e-gen", "0", "-t", "1",
                    cwd=seed_project)
    assert r.returncode == 0, r.stderr
    assert "tg loop  C (built with " in r.stdout and "like llama-bench" in r.stdout


def test_plot_png_or_a_clear_message(seed_project: Path, tmp_path: Path, isolated: Path) -> None:
    import importlib.util

    png = tmp_path / "b.png"
    r = run_venvsel("bench", "--env", ".venv", "--quant", "q4_0", *FAST, "--plot", str(png),
                    cwd=seed_project)
    if importlib.util.find_spec("matplotlib") is not None:  # the 'plot' extra (CI installs it)
        assert r.returncode == 0, r.stdout + r.stderr
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert r.returncode == 2
        assert "needs matplotlib" in r.stderr and "venvsel[plot]" in r.stderr
        assert _bench_logs(isolated) == []  # refused before any run


def test_gpu_in_a_cpu_only_build_is_fallback_decided_before_loading(
    seed_project: Path, isolated: Path
) -> None:
    r = run_venvsel("bench", "--env", ".venv", "--gpu", "--json", *FAST, cwd=seed_project)
    assert r.returncode == 1, r.stdout + r.stderr
    data = json.loads(r.stdout)["data"]
    assert data["exit_code"] == 1
    assert len(data["runs"]) == 2  # Q4_0 and Q8_0
    for run in data["runs"]:
        assert run["verdict"] == "FALLBACK" and run["status"] == "fallback"
        assert run["reason"].startswith("CPU-only build (no GPU backend)")
        assert "libggml-cpu" in run["reason"]
        assert run["decided"].startswith("before loading any model")
        assert run["model_loaded"] is False
        assert run["load_s"] is None and run["pp"] is None and run["tg"] is None
        assert run["placement"] is None
    # No worker process ran at all: every worker run leaves a log file.
    assert _bench_logs(isolated) == []
    assert "FALLBACK" in r.stderr and "CPU-only build" in r.stderr
    assert "decided before loading any model" in r.stderr
    assert "fix: venvsel repair .venv" in r.stderr and "--need llama-gpu" in r.stderr

    # The same in text mode: the table says so too.
    t = run_venvsel("bench", "--env", ".venv", "--gpu", *FAST, cwd=seed_project)
    assert t.returncode == 1
    assert t.stdout.count("FALLBACK") == 2 and "not loaded" in t.stdout
    assert t.stderr.startswith("venvsel: FALLBACK: .venv cannot run synthetic-tiny Q4_0")


def test_worker_answers_fallback_after_import_when_files_cannot_tell(
    seed_project: Path, isolated: Path
) -> None:
    # LLAMA_CPP_LIB_PATH makes the files untrustworthy: the worker imports llama_cpp, asks
    # llama_supports_gpu_offload(), and stops before loading the model.
    lib = next((seed_project / ".venv" / "lib").glob("python3*/site-packages/llama_cpp/lib"))
    env = {**os.environ, "LLAMA_CPP_LIB_PATH": str(lib)}
    r = run_venvsel("bench", "--env", ".venv", "--gpu", "--quant", "q4_0", "--json", *FAST,
                    cwd=seed_project, env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    (run,) = json.loads(r.stdout)["data"]["runs"]
    assert run["verdict"] == "FALLBACK" and run["model_loaded"] is False
    assert "llama_supports_gpu_offload" in run["decided"]
    assert run["reason"].startswith("CPU-only build (no GPU backend)")
    (log,) = _bench_logs(isolated)
    text = log.read_text()
    assert "phase=import" in text and "phase=load" not in text and "load_tensors" not in text


def test_env_without_llama_cpp_names_a_fix(bare_env: Path, isolated: Path) -> None:
    r = run_venvsel("bench", "--env", str(bare_env))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "has no llama_cpp" in r.stderr
    assert "-m pip install llama-cpp-python" in r.stderr and "--need llama" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (isolated / "cache" / "models").exists()  # refused before generating anything


def _crashing_gguf(path: Path) -> Path:
    """A llama GGUF with block_count 0: llama.cpp's GGML_ASSERT aborts the process."""
    gguf = pytest.importorskip("gguf")
    np = pytest.importorskip("numpy")
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(64)
    w.add_embedding_length(32)
    w.add_block_count(0)
    w.add_feed_forward_length(64)
    w.add_head_count(1)
    w.add_head_count_kv(1)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(32)
    w.add_tokenizer_model("llama")
    w.add_token_list(["<unk>", "<s>", "</s>", "a"])
    w.add_token_scores([0.0] * 4)
    w.add_token_types([2, 3, 3, 1])
    w.add_tensor("token_embd.weight", np.zeros((4, 32), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_worker_crash_is_reported_as_a_crash(seed_project: Path, tmp_path: Path) -> None:
    model = _crashing_gguf(tmp_path / "crash.gguf")
    out = tmp_path / "b.json"
    r = run_venvsel("bench", "--env", ".venv", "--cpu", "--model", str(model), "--json", str(out),
                    *FAST, cwd=seed_project)
    assert r.returncode == 3, r.stdout + r.stderr
    (run,) = json.loads(out.read_text())["data"]["runs"]
    assert run["status"] == "crashed" and run["signal"] == "SIGABRT"
    assert run["verdict"] is None and run["pp"] is None and run["tg"] is None
    assert "CRASHED" in r.stderr and "SIGABRT" in r.stderr and "loading the model" in r.stderr
    assert "No result was recorded" in r.stderr
    assert "GGML_ASSERT" in r.stderr  # the last log lines name the failed assertion
    assert "CRASHED (SIGABRT)" in r.stdout


def test_unloadable_model_is_an_error_not_a_result(seed_project: Path, tmp_path: Path) -> None:
    model = tmp_path / "garbage.gguf"
    model.write_bytes(b"GGUF" + bytes(range(256)) * 8)
    r = run_venvsel("bench", "--env", ".venv", "--cpu", "--model", str(model), *FAST,
                    cwd=seed_project)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "FAILED" in r.stderr and "Failed to load model" in r.stderr
    assert "ERROR" in r.stdout


def test_hung_worker_is_killed_and_reported(seed_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    r = run_venvsel("bench", "--env", ".venv", "--cpu", "--quant", "q4_0", "--reps", "500",
                    "--threads", "1", "--timeout", "1", "--json", str(out), cwd=seed_project)
    assert r.returncode == 3, r.stdout + r.stderr
    (run,) = json.loads(out.read_text())["data"]["runs"]
    assert run["status"] == "timeout" and run["pp"] is None
    assert "HUNG" in r.stderr and "no result after 1 s" in r.stderr and "killed" in r.stderr
