"""The cache with real pip installs, real concurrent processes and the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
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
    files = sorted(store.root.glob("*.json"))
    assert len(files) == len(env_paths)
    for f in files:
        CacheEntry.from_json(json.loads(f.read_text()))  # every file whole and valid
    assert sorted(e.path for e in store.entries()) == sorted(env_paths)
    assert not [p for p in store.root.iterdir() if p.name.endswith(".tmp")]


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
    assert doc["data"]["bytes"] > 0

    out = run_venvsel("cache", "info")
    assert out.returncode == 0 and "entries: 2" in out.stdout and str(store.root) in out.stdout

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
