"""The cache with real pip installs, real concurrent processes and the real CLI."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests import envs
from tests.conftest import run_venvsel
from venvsel.cache import Cache, CacheEntry, env_fingerprint, new_entry
from venvsel.model import Env, ProbeResult, StaticInfo

PY_VERSION = ".".join(str(x) for x in sys.version_info[:3])
REPO = Path(__file__).resolve().parents[2]
MACHINE = "no-driver"


def as_env(path: Path) -> Env:
    site = next((path / "lib").glob("python*/site-packages"))
    return Env(path=os.path.realpath(path), kind="virtualenv", source="test",
               interpreter=str(path / "bin" / "python"), site_packages=(str(site),))


def pip(env: Env, *args: str) -> None:
    subprocess.run([env.interpreter or "", "-m", "pip", *args, "-q",
                    "--disable-pip-version-check"], check=True, capture_output=True,
                   env=envs.tool_env())


def test_pip_install_makes_only_that_env_stale(make_env) -> None:  # type: ignore[no-untyped-def]
    a, b = as_env(make_env("a")), as_env(make_env("b"))
    store = Cache()
    static = StaticInfo(python_version=PY_VERSION)
    for env in (a, b):
        store.put(new_entry(env, env_fp=env_fingerprint(env), machine_fp=MACHINE,
                            static=static, probe=ProbeResult(status="ok")))
    fa, fb = env_fingerprint(a), env_fingerprint(b)

    pip(a, "install", "six")
    assert env_fingerprint(a) != fa
    assert env_fingerprint(b) == fb
    assert store.get(a, env_fp=env_fingerprint(a), machine_fp=MACHINE) is None  # re-probe a
    assert store.get(b, env_fp=env_fingerprint(b), machine_fp=MACHINE) is not None  # b stays

    installed = env_fingerprint(a)
    pip(a, "uninstall", "-y", "six")
    assert env_fingerprint(a) not in (fa, installed)
    assert env_fingerprint(b) == fb


WORKER = textwrap.dedent("""
    import random, sys
    from venvsel.cache import Cache, new_entry
    from venvsel.model import Env, ProbeResult, StaticInfo
    me, rounds, paths = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    store = Cache()
    for i in range(rounds):
        path = random.choice(paths)
        env = Env(path=path, kind="venv", source="test", interpreter=path + "/bin/python")
        fp = "writer-%d-round-%d" % (me, i)
        probe = ProbeResult(status="ok", detail="x" * random.randint(0, 20000))
        store.put(new_entry(env, env_fp=fp, machine_fp="m", static=StaticInfo(), probe=probe))
        got = store.get(env, env_fp=fp, machine_fp="m")  # ours, or a later writer's: a miss
        if got is not None:
            assert got.env_fingerprint == fp and got.path == path
        assert all(e.path in paths for e in store.entries())
""")


def test_concurrent_writers_leave_valid_entries(tmp_path: Path) -> None:
    env_paths = [str(tmp_path / f"env{i}") for i in range(4)]
    child_env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(n), "40", *env_paths],
                              env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for n in range(8)]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
        assert b"warning" not in err, err.decode()  # no reader ever saw a torn file
    store = Cache()
    with contextlib.closing(sqlite3.connect(store.file)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("SELECT data FROM entries").fetchall()
    assert len(rows) == len(env_paths)
    for (data,) in rows:
        CacheEntry.from_json(json.loads(data))  # every entry whole and valid
    assert sorted(e.path for e in store.entries()) == sorted(env_paths)
    name = store.file.name
    left = {p.name for p in store.root.iterdir()}
    assert left <= {"CACHEDIR.TAG", name, name + "-wal", name + "-shm"}, left


KILLED_WRITER = textwrap.dedent("""
    import sys
    from venvsel.cache import Cache, new_entry
    from venvsel.model import Env, ProbeResult, StaticInfo
    n = int(sys.argv[1])
    store = Cache()
    envs = [Env(path="/envs/e%04d" % i, kind="venv", source="test") for i in range(n)]
    round = 0
    while True:
        round += 1
        store.put_many([
            new_entry(env, env_fp="round-%d" % round, machine_fp="m", static=StaticInfo(),
                      probe=ProbeResult(status="ok", detail="d" * 3000))
            for env in envs
        ])
        print(round, flush=True)
""")


def test_kill_9_mid_write_leaves_a_usable_cache(tmp_path: Path) -> None:
    """A writer killed (SIGKILL) in the middle of its transactions, again and again: every
    later reader sees whole entries of one committed round, no warning, and can write."""
    child_env = {**os.environ, "PYTHONPATH": str(REPO)}
    n = 300
    for delay in (0.0, 0.013, 0.05, 0.11, 0.2):
        proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(n)], env=child_env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        proc.stdout.readline()  # one round committed: the next is under way
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL and "warning" not in err, err
        check = subprocess.run(
            [sys.executable, "-c", "from venvsel.cache import Cache\n"
             "es = Cache().entries()\n"
             "print(len(es), len({e.env_fingerprint for e in es}))"],
            env=child_env, capture_output=True, text=True, timeout=60, check=False)
        assert check.returncode == 0 and check.stderr == "", check.stderr
        assert check.stdout.split() == [str(n), "1"]  # all of one round, never a mix
    store = Cache()
    with contextlib.closing(sqlite3.connect(store.file)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    env = Env(path="/envs/new", kind="venv", source="test")
    store.put(new_entry(env, env_fp="f", machine_fp="m", static=StaticInfo(), probe=None))
    assert store.get(env, env_fp="f", machine_fp="m") is not None


def test_cli_cache_info_and_clear(tmp_path: Path) -> None:
    store = Cache()
    for i in range(2):
        env = Env(path=str(tmp_path / f"e{i}"), kind="venv", source="test")
        store.put(new_entry(env, env_fp="f", machine_fp="m", static=StaticInfo(), probe=None))

    out = run_venvsel("cache", "info", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["venvsel"] == 1 and doc["command"] == "cache info"
    assert doc["data"]["count"] == 2 and doc["data"]["dir"] == str(store.root)
    assert doc["data"]["file"] == str(store.file)
    assert doc["data"]["bytes"] > 0

    out = run_venvsel("cache", "info")
    assert out.returncode == 0 and "entries: 2" in out.stdout and str(store.root) in out.stdout
    assert f"file:    {store.file}" in out.stdout

    out = run_venvsel("cache", "clear", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["data"]["removed"] == 2
    assert store.entries() == []

    out = run_venvsel("cache", "clear")
    assert out.returncode == 0 and "removed 0 cache entries" in out.stdout


@pytest.mark.parametrize("sub", ["info", "clear"])
def test_cli_cache_help(sub: str) -> None:
    out = run_venvsel("cache", sub, "--help")
    assert out.returncode == 0 and "Examples" in out.stdout and "--json" in out.stdout
