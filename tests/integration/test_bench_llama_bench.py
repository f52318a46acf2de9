"""`venvsel bench` speaks llama-bench, for real: the seed's .venv (llama-cpp-python 0.3.36,
CPU build), the test matrix of -fa/-t lists, llama-bench's output formats read by llama.cpp's
own ``scripts/compare-llama-bench.py`` (from the same sdist, in an env made from its own
requirements file), and report files created with the user's umask."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from tests import envs
from tests.conftest import run_venvsel
from venvsel.bench import lbformat

pytestmark = pytest.mark.slow

# Tiny and short: the CI machine has 2 cores shared with other work.
SMALL = ("--synthetic", "tiny", "--quant", "q4_0", "-p", "64", "-n", "16", "-r", "2",
         "--e2e-gen", "0")


@pytest.fixture(scope="module")
def llama_src() -> Path:
    return envs.llama_cpp_scripts()


@pytest.fixture(scope="module")
def compare_py() -> Path:
    return envs.compare_llama_bench_env() / "bin" / "python"


def _compare(py: Path, src: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # --tool: the script cannot tell llama-bench's JSON from test-backend-ops' JSON by itself
    # (it asserts without it, for llama-bench's own files too).
    return subprocess.run([str(py), str(src / "scripts" / "compare-llama-bench.py"),
                           "--tool", "llama-bench", *args],
                          cwd=cwd, env=envs.tool_env(), capture_output=True, text=True,
                          timeout=300, check=False)


def _table(text: str) -> list[list[str]]:
    rows = [[c.strip() for c in ln.strip().strip("|").split("|")]
            for ln in text.splitlines() if ln.startswith("|")]
    return [r for r in rows if not all(re.fullmatch(r":?-+:?", c) for c in r)]


def test_fields_are_llama_bench_own(llama_src: Path) -> None:
    """The field list is llama-bench's own (test::get_fields() in the vendored source), and
    holds every field the compare script stores."""
    cpp = (llama_src / "tools" / "llama-bench" / "llama-bench.cpp").read_text()
    body = cpp[cpp.index("get_fields()"):]
    body = body[body.index("{", body.index("fields =")):body.index("};")]
    assert tuple(re.findall(r'"(\w+)"', body)) == lbformat.FIELDS
    script = (llama_src / "scripts" / "compare-llama-bench.py").read_text()
    db = script[script.index("LLAMA_BENCH_DB_FIELDS = ["):]
    db = db[:db.index("]")]
    assert set(re.findall(r'"(\w+)"', db)) <= set(lbformat.FIELDS)


def test_matrix_json_is_read_by_compare_llama_bench(
    seed_project: Path, tmp_path: Path, llama_src: Path, compare_py: Path
) -> None:
    """The issue's 'done when', scaled to this machine: -fa 0,1 -t 1,2 -o json is the
    four-cell matrix (8 tests), and llama.cpp's compare script reads it unchanged."""
    r = run_venvsel("bench", "--env", ".venv", *SMALL, "-fa", "0,1", "-t", "1,2", "-o", "json",
                    cwd=seed_project)
    assert r.returncode == 0, r.stderr
    recs = json.loads(r.stdout)  # stdout is the JSON list alone, as llama-bench's
    assert [(x["flash_attn"], x["n_threads"], x["n_prompt"], x["n_gen"]) for x in recs] == [
        (0, 1, 64, 0), (0, 1, 0, 16), (0, 2, 64, 0), (0, 2, 0, 16),
        (1, 1, 64, 0), (1, 1, 0, 16), (1, 2, 64, 0), (1, 2, 0, 16)]
    for x in recs:
        assert list(x)[:len(lbformat.FIELDS)] == list(lbformat.FIELDS)
        assert len(x["samples_ns"]) == 2 and all(t > 0 for t in x["samples_ns"])
        assert x["avg_ts"] > 0 and x["verdict"] == "CPU" and x["backends"] == "CPU"
        assert x["layer_placement"] == "CPU 4/4" and x["env_name"] == ".venv"
        # Settings not given are Llama()'s defaults in that env (0.3.36: 512 / 512 / f16).
        assert (x["n_batch"], x["n_ubatch"], x["type_k"], x["type_v"]) == (512, 512, "f16", "f16")
        assert x["model_type"].startswith("llama") and "Q4_0" in x["model_type"]
        assert x["model_n_params"] > 0 and x["cpu_info"]
        assert x["build_commit"]
    a = tmp_path / "a.json"
    a.write_text(r.stdout)
    # A second result file, jsonl this time, of half the matrix.
    r2 = run_venvsel("bench", "--env", ".venv", *SMALL, "-fa", "0,1", "-t", "1", "-o", "jsonl",
                     cwd=seed_project)
    assert r2.returncode == 0, r2.stderr
    b = tmp_path / "b.jsonl"
    b.write_text(r2.stdout)
    commit = recs[0]["build_commit"]

    # llama.cpp's consumer on the JSON file (the same build on both sides of its comparison).
    c = _compare(compare_py, llama_src, tmp_path, "-i", str(a), "-b", commit, "-c", commit)
    assert c.returncode == 0, c.stdout + c.stderr
    rows = _table(c.stdout)
    head = rows[0]
    assert "FlashAttention" in head and "Threads" in head and "Test" in head
    body = rows[1:]
    assert len(body) == 8
    assert {row[head.index("Test")] for row in body} == {"pp64", "tg16"}
    # Its t/s column is the avg_ts we wrote (same build on both sides: the same number).
    ts = sorted(round(x["avg_ts"], 2) for x in recs)
    got = sorted(float(row[-3]) for row in body)
    assert got == pytest.approx(ts, abs=0.01)

    # ... and on the JSONL file, and on the SQL output loaded into sqlite as its docs say.
    c = _compare(compare_py, llama_src, tmp_path, "-i", str(b), "-b", commit, "-c", commit)
    assert c.returncode == 0, c.stdout + c.stderr
    assert len(_table(c.stdout)) - 1 == 4
    r3 = run_venvsel("bench", "--env", ".venv", *SMALL, "-o", "sql", cwd=seed_project)
    assert r3.returncode == 0, r3.stderr
    db = tmp_path / "llama-bench.sqlite"
    con = sqlite3.connect(db)
    con.executescript(r3.stdout)
    con.close()
    c = _compare(compare_py, llama_src, tmp_path, "-i", str(db), "-b", commit, "-c", commit)
    assert c.returncode == 0, c.stdout + c.stderr
    assert {row[_table(c.stdout)[0].index("Test")] for row in _table(c.stdout)[1:]} == {
        "pp64", "tg16"}

    # venvsel's own comparison of the two files: matched on the settings (4 tests in common).
    v = run_venvsel("bench", "--compare", str(a), str(b))
    assert v.returncode == 0, v.stderr
    vrows = _table(v.stdout)
    assert vrows[0] == ["model", "flash_attn", "test", "old t/s", "new t/s", "speed-up"]
    assert len(vrows) - 1 == 4 and all(row[-1].endswith("×") for row in vrows[1:])
    assert "unmatched: 4 test(s) only in old, 0 only in new" in v.stdout


def test_md_csv_and_fa_auto(seed_project: Path) -> None:
    r = run_venvsel("bench", "--env", ".venv", *SMALL, "-fa", "auto", "-o", "md",
                    cwd=seed_project)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("| model | size | params | backend | ngl | threads | fa | test |")
    body = [ln for ln in lines[2:] if ln.startswith("|")]
    assert len(body) == 2 and "pp64" in body[0] and "tg16" in body[1]
    # auto: llama.cpp decided, and its log says what.
    assert all("| auto→" in ln for ln in body), body
    assert re.search(r"^build: \S+ \(0\)$", r.stdout, re.M)
    assert "defaults (Llama() in that env, used where not set): n_batch=512" in r.stdout
    c = run_venvsel("bench", "--env", ".venv", *SMALL, "-o", "csv", cwd=seed_project)
    assert c.returncode == 0, c.stderr
    header = c.stdout.splitlines()[0].split(",")
    assert header[:len(lbformat.FIELDS)] == list(lbformat.FIELDS)
    assert len(c.stdout.splitlines()) == 3


def test_report_files_follow_the_umask(seed_project: Path, tmp_path: Path) -> None:
    out_json, out_md = tmp_path / "b.json", tmp_path / "b.md"
    old = os.umask(0o022)
    try:
        r = run_venvsel("bench", "--env", ".venv", *SMALL, "--json", str(out_json),
                        "--markdown", str(out_md), cwd=seed_project)
    finally:
        os.umask(old)
    assert r.returncode == 0, r.stderr
    for f in (out_json, out_md):
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f
    data = json.loads(out_json.read_text())["data"]
    assert len(data["llama_bench"]) == 2  # the llama-bench records ride in the envelope
    run = data["runs"][0]
    assert run["used"]["n_batch"] == 512 and run["defaults"]["n_batch"] == 512


def test_pg_delay_no_warmup_and_ub(seed_project: Path, isolated: Path) -> None:
    r = run_venvsel("bench", "--env", ".venv", "--synthetic", "tiny", "--quant", "q4_0",
                    "-p", "0", "-n", "0", "-pg", "70,8", "-b", "32", "-ub", "16", "-r", "2",
                    "--no-warmup", "--delay", "0.2", "--e2e-gen", "0", "-o", "jsonl",
                    cwd=seed_project)
    assert r.returncode == 0, r.stderr
    (rec,) = [json.loads(ln) for ln in r.stdout.splitlines()]
    # The prompt goes in chunks of -b 32 (llama.cpp refuses positions that do not follow on).
    assert (rec["n_prompt"], rec["n_gen"], rec["n_ubatch"], rec["n_batch"]) == (70, 8, 16, 32)
    # pp70+tg8: tokens/s counts both, as llama-bench's get_ts does
    assert rec["samples_ts"][0] == pytest.approx(78e9 / rec["samples_ns"][0])
    (log,) = sorted((isolated / "log" / "bench").iterdir())
    text = log.read_text()
    assert "phase=delay" in text and "phase=warmup" not in text
    assert text.count("phase=rep ") == 2
