"""benchmarks/bench_vs_llama_bench.py starts both tools' measured processes alike."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_vs_llama_bench.py"

# /proc/self/autogroup reads empty for a process in the root group (CI's runner): None then.
PROBE = ("import json, os; a = '/proc/self/autogroup'; "
         "g = (open(a).read().split() or [None])[0] if os.path.exists(a) else None; "
         "print(json.dumps([os.getsid(0) == os.getpid(), os.nice(0), "
         "sorted(os.sched_getaffinity(0)), g]))")


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_vs_llama_bench", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _ours() -> str | None:
    """This process's autogroup; None where it is the root group (the file reads empty
    there: CI's runner starts the tests outside any session's group) or there is none."""
    path = Path("/proc/self/autogroup")
    words = path.read_text().split() if path.exists() else []
    return words[0] if words else None


def _autogroups_on() -> bool:
    path = Path("/proc/sys/kernel/sched_autogroup_enabled")
    return path.exists() and path.read_text().strip() == "1"


def test_measured_processes_get_a_session_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """venvsel's worker runs in a new session (proc.run); llama-bench must too, or on a
    kernel with autogroups the scheduler shares the CPU between them unlike (issue 17)."""
    mod = _script()
    cpu = sorted(os.sched_getaffinity(0))[-1]
    monkeypatch.setitem(mod.PRIORITY, "nice", 1)
    monkeypatch.setitem(mod.PRIORITY, "cpus", {cpu})
    r = mod.sh([sys.executable, "-c", PROBE], measured=True)
    assert r.returncode == 0, r.stderr
    own_session, nice, cpus, group = json.loads(r.stdout)
    assert own_session is True
    assert nice == os.nice(0) + 1
    assert cpus == [cpu]
    if _autogroups_on():  # a new session is a new group, also when ours is the root group
        assert group is not None and group != _ours()


def test_unmeasured_processes_stay_in_ours() -> None:
    """The build and pip calls are not measured: they stay in the caller's session."""
    mod = _script()
    r = mod.sh([sys.executable, "-c", PROBE])
    assert r.returncode == 0, r.stderr
    own_session, nice, _cpus, group = json.loads(r.stdout)
    assert own_session is False
    assert nice == os.nice(0)
    assert group == _ours()


def test_control_runs_llama_bench_on_both_sides(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """--control (A/A) runs llama-bench in venvsel's place, in the same alternation, and the
    table and the JSON say the run was a control; without it venvsel runs."""
    mod = _script()
    calls: list[str] = []
    speeds = iter([100.0, 110.0, 120.0, 90.0] * 2)

    def fake_lb(*_a: object) -> tuple[dict[str, float], list[dict[str, str]]]:
        calls.append("llama-bench")
        s = next(speeds)
        return {"pp": s, "tg": s}, [{"build_commit": "c"}]

    def fake_vs(*_a: object) -> tuple[dict[str, float], list[dict[str, str]]]:
        calls.append("venvsel")
        s = next(speeds)
        return {"pp": s, "tg": s}, [{"build_commit": "c"}]

    monkeypatch.setattr(mod, "run_llama_bench", fake_lb)
    monkeypatch.setattr(mod, "run_venvsel", fake_vs)
    argv = ["bench_vs_llama_bench.py", "--env", str(tmp_path), "--build-dir", str(tmp_path),
            "--model", str(tmp_path / "m.gguf"), "--rounds", "2"]
    out = tmp_path / "control.json"
    monkeypatch.setattr(sys, "argv", [*argv, "--control", "--out", str(out)])
    assert mod.main() == 0
    assert calls == ["llama-bench"] * 4
    data = json.loads(out.read_text())
    assert data["settings"]["control"] is True
    # round 1: the stand-in second; round 2: it goes first (120), llama-bench second (90)
    assert data["results"][0]["tg"]["ratios"] == pytest.approx([110 / 100, 120 / 90])
    assert "CONTROL (A/A)" in capsys.readouterr().out

    calls.clear()
    monkeypatch.setattr(sys, "argv", argv)
    assert mod.main() == 0
    assert calls == ["llama-bench", "venvsel", "venvsel", "llama-bench"]
    assert "CONTROL" not in capsys.readouterr().out
