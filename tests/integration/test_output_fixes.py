"""What a new user tripped over in venvsel's output (issue 12, point 7), on real envs.

Each test runs the real CLI on real venvs (``python -m venv --without-pip``: cheap) in a
temporary project dir, with the private HOME/PYENV_ROOT/cache of tests/conftest.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import envs
from tests.conftest import run_venvsel

# Natural order: digit runs as numbers, "-" before digits as in plain text. Plain text order
# would put .venv310 before .venv39; shortest-first would put .venv-gpu last.
NATURAL = [".venv", ".venv-gpu", ".venv39", ".venv310"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Four plain venvs of one Python (no torch, no llama-cpp-python) in a project dir."""
    proj = tmp_path / "proj"
    proj.mkdir()
    for name in reversed(NATURAL):
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(proj / name)],
                       check=True, env=envs.tool_env(), timeout=120)
    return proj


def _order(text: str, names: list[str]) -> list[str]:
    """The names in the order they first appear in ``text`` (as whole words)."""
    where = {}
    for n in names:
        m = re.search(rf"(?<![\w.-]){re.escape(n)}(?![\w-])", text)
        assert m is not None, f"{n} not in:\n{text}"
        where[n] = m.start()
    return sorted(names, key=lambda n: where[n])


def test_why_gives_one_line_to_an_env_with_nothing_installed(project: Path) -> None:
    r = run_venvsel("scan", "--no-global", cwd=project)
    assert r.returncode == 0, r.stderr
    why = r.stdout.split("\nWhy:\n", 1)[1]
    lines = [ln for ln in why.splitlines() if ln.strip()]
    assert len(lines) == len(NATURAL), why  # one line per env, not a label plus two lines
    for line in lines:
        assert line.endswith(": neither torch nor llama-cpp-python installed"), line


def test_live_does_not_say_ok_for_an_env_that_has_nothing_to_test(project: Path) -> None:
    r = run_venvsel("scan", "--no-global", cwd=project)
    assert r.returncode == 0, r.stderr
    rows = [ln for ln in r.stdout.splitlines() if ln.startswith(".venv")]
    assert len(rows) == len(NATURAL)
    for row in rows:
        assert row.rstrip().endswith("python only"), row
        assert not row.rstrip().endswith(" ok"), row


def test_one_order_for_envs_in_scan_doctor_and_pick(project: Path) -> None:
    scan = run_venvsel("scan", "--no-global", cwd=project)
    assert scan.returncode == 0, scan.stderr
    assert _order(scan.stdout.split("\nWhy:\n")[0], NATURAL) == NATURAL
    doctor = run_venvsel("doctor", cwd=project)
    assert doctor.returncode == 0, doctor.stderr
    assert _order(doctor.stdout, NATURAL) == NATURAL
    pick = run_venvsel("pick", "--need", "torch", cwd=project)
    assert pick.returncode == 1
    assert _order(pick.stderr, NATURAL) == NATURAL
    data = json.loads(run_venvsel("doctor", "--json", cwd=project).stdout)["data"]
    local = [Path(r["env"]["path"]).name for r in data["records"]
             if Path(r["env"]["path"]).parent == project]
    assert local == NATURAL


def test_static_scan_marks_cached_live_results(project: Path) -> None:
    assert run_venvsel("scan", "--no-global", cwd=project).returncode == 0  # fills the cache
    r = run_venvsel("scan", "--static", "--no-global", cwd=project)
    assert r.returncode == 0, r.stderr
    rows = [ln for ln in r.stdout.splitlines() if ln.startswith(".venv")]
    assert rows and all(row.rstrip().endswith("python only (cached)") for row in rows), rows
    assert "earlier live scan" in r.stdout
    data = json.loads(run_venvsel("scan", "--static", "--no-global", "--json",
                                  cwd=project).stdout)["data"]
    assert data["live"] is False
    assert all(rec["probe_cached"] and rec["probe"] for rec in data["records"])
    live = json.loads(run_venvsel("scan", "--no-global", "--json", cwd=project).stdout)["data"]
    assert live["live"] is True
    plain = run_venvsel("scan", "--no-global", cwd=project).stdout
    assert "(cached)" not in plain  # a live scan's cache hits are as good as fresh ones


def test_dry_run_against_an_unreachable_index_says_it_cannot_run(project: Path) -> None:
    unreachable = "http://127.0.0.1:9/simple"
    r = run_venvsel("repair", ".venv", "--dry-run", "--backend", "cpu", "--index-url",
                    unreachable, cwd=project)
    assert r.returncode == 1, r.stdout + r.stderr
    said = r.stdout + r.stderr
    plan_note = next(ln for ln in r.stdout.splitlines() if ln.startswith("  PyTorch:"))
    assert plan_note.count(unreachable) == 1, plan_note  # named once, not twice
    assert "could not be reached; " + unreachable not in said
    assert f"Cannot run: {unreachable} could not be reached" in r.stdout
    assert "cannot run as it stands" in r.stderr
    assert "nvidia" not in said and "triton" not in said  # a CPU build needs neither
    j = run_venvsel("repair", ".venv", "--dry-run", "--backend", "cpu", "--index-url",
                    unreachable, "--json", cwd=project)
    assert j.returncode == 1
    assert json.loads(j.stdout)["data"]["cannot_run"] == [f"{unreachable} could not be reached"]


def test_help_summaries_are_whole_sentences_and_name_the_alias() -> None:
    r = run_venvsel("--help")
    assert r.returncode == 0
    body = r.stdout.split("\nCommands:\n", 1)[1]
    rows = body.splitlines()
    assert all(re.match(r"^  \S", row) for row in rows), body  # one line each, none wrapped
    summary = {row.split()[0]: row.split(None, 1)[1] for row in rows}
    for name, text in summary.items():
        assert not text.endswith("..."), (name, text)
        assert text.endswith("."), (name, text)
    assert summary["which"] != summary["status"] and "status" in summary["which"]
    for group in ("cache", "fleet"):
        sub = run_venvsel(group, "--help").stdout.split("\nCommands:\n", 1)[1]
        for row in sub.splitlines():
            assert row.rstrip().endswith(".") and "..." not in row, row
