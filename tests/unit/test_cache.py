"""The capability cache on real files: round trips, staleness, corruption, schema, housekeeping.

Envs here are real venv layouts made by hand (pyvenv.cfg + bin/python link + site-packages);
nothing is spawned.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from tests import envs
from venvsel import cache as cache_mod
from venvsel import paths
from venvsel.cache import SCHEMA, Cache, CacheEntry, env_fingerprint, new_entry
from venvsel.model import (
    CudaDevice,
    Env,
    LlamaInfo,
    ProbeResult,
    StaticInfo,
    TorchInfo,
)

BASE_PYTHON = Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))
MACHINE = "580.159.04|13.0|NVIDIA H200/9.0|None"


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test is a fresh process as far as "warn once" goes."""
    monkeypatch.setattr(cache_mod, "_warned", set())


def make_env(root: Path, name: str) -> Env:
    dest = envs.make_manual_env(BASE_PYTHON, root / name)
    site = next((dest / "lib").glob("python*/site-packages"))
    return Env(path=str(dest), kind="venv", source="test",
               interpreter=str(dest / "bin" / "python"), site_packages=(str(site),))


STATIC = StaticInfo(
    python_version="3.11.7", implementation="CPython", home="/usr/bin",
    distributions=(("llama-cpp-python", "0.3.36"), ("torch", "2.13.0+cpu")),
    torch=TorchInfo(version="2.13.0+cpu"),
    llama=LlamaInfo(version="0.3.36", backends=("cuda",), lib_dir="/x/llama_cpp/lib"),
    nvidia_wheels=("nvidia-cublas-cu12==12.1.3.1",),
)
PROBE = ProbeResult(
    status="ok", python="3.11.7", executable="/x/bin/python", torch_version="2.14.1+cu130",
    torch_cuda="13.0", cuda_available=True,
    cuda_devices=(CudaDevice(0, "NVIDIA H200", "9.0", 143155),),
    arch_list=("sm_90", "sm_100"), kernel_ok=True, llama_version="0.3.36",
    llama_gpu_offload=True, llama_system_info="CUDA : ARCHS = 900 |", duration_s=3.9,
)


def entry_for(env: Env, probe: ProbeResult | None = PROBE) -> CacheEntry:
    return new_entry(env, env_fp=env_fingerprint(env), machine_fp=MACHINE, static=STATIC,
                     probe=probe)


def test_default_store_is_one_database_in_the_cache_dir() -> None:
    assert Cache().root == paths.cache_dir()
    assert str(Cache().root).startswith(os.environ["VENVSEL_CACHE_DIR"])
    assert Cache().file.parent == paths.cache_dir()
    assert Cache().file.name == f"envs-{os.uname().nodename}.sqlite3"


def test_round_trip(tmp_path: Path) -> None:
    env = make_env(tmp_path, "a")
    store = Cache()
    assert not store.file.exists()  # a read of a cache never written creates nothing
    assert store.get(env, env_fp=env_fingerprint(env), machine_fp=MACHINE) is None
    assert not store.file.exists()
    for probe in (PROBE, None):
        entry = entry_for(env, probe)
        store.put(entry)
        got = store.get(env, env_fp=env_fingerprint(env), machine_fp=MACHINE)
        assert got == entry
        assert Cache().get(env, env_fp=env_fingerprint(env), machine_fp=MACHINE) == entry
    assert (store.root / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f")
    # one SQLite file in WAL mode, of this schema, keyed by the env's real path
    with sqlite3.connect(store.file) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA
        rows = db.execute("SELECT path, data FROM entries").fetchall()
    assert [os.fsdecode(p) for p, _ in rows] == [env.path]
    assert json.loads(rows[0][1])["path"] == env.path
    assert [p.name for p in store.root.iterdir() if p.name.endswith(".json")] == []


def test_a_path_that_is_not_utf8_round_trips(tmp_path: Path) -> None:
    env = make_env(tmp_path, os.fsdecode(b"caf\xe9"))
    store = Cache()
    store.put(entry_for(env))
    got = store.get(env, env_fp=env_fingerprint(env), machine_fp=MACHINE)
    assert got is not None and got.path == env.path


def test_missing_and_stale_are_misses(tmp_path: Path) -> None:
    env = make_env(tmp_path, "a")
    store = Cache()
    fp = env_fingerprint(env)
    assert store.get(env, env_fp=fp, machine_fp=MACHINE) is None
    store.put(entry_for(env))
    assert store.get(env, env_fp=fp, machine_fp=MACHINE) is not None
    assert store.get(env, env_fp="other", machine_fp=MACHINE) is None
    assert store.get(env, env_fp=fp, machine_fp="another driver") is None


def test_fingerprint_follows_the_env(tmp_path: Path) -> None:
    a, b = make_env(tmp_path, "a"), make_env(tmp_path, "b")
    fa, fb = env_fingerprint(a), env_fingerprint(b)
    assert fa != fb
    assert env_fingerprint(a) == fa  # stable while nothing changes
    site = Path(a.site_packages[0])

    # an install adds entries to site-packages: its mtime moves
    (site / "six.py").write_text("")
    fa2 = env_fingerprint(a)
    assert fa2 != fa
    assert env_fingerprint(b) == fb

    # an in-place reinstall of torch touches only its dist-info dir
    info = site / "torch-2.13.0.dist-info"
    info.mkdir()
    fa3 = env_fingerprint(a)
    past = time.time() - 1000
    os.utime(site, (past, past))
    fa4 = env_fingerprint(a)
    os.utime(info, (past, past))
    assert env_fingerprint(a) != fa4
    assert len({fa, fa2, fa3, fa4}) == 4

    # pyvenv.cfg rewritten (a moved or re-created env)
    cfg = Path(a.path) / "pyvenv.cfg"
    before = env_fingerprint(a)
    cfg.write_text(cfg.read_text() + "prompt = a\n")
    assert env_fingerprint(a) != before


def test_fingerprint_finds_site_packages_when_not_given(tmp_path: Path) -> None:
    env = make_env(tmp_path, "a")
    bare = Env(path=env.path, kind="venv", source="test", interpreter=env.interpreter)
    before = env_fingerprint(bare)
    (Path(env.site_packages[0]) / "new.py").write_text("")
    assert env_fingerprint(bare) != before


def test_fingerprint_is_cheap(tmp_path: Path) -> None:
    env = make_env(tmp_path, "a")
    site = Path(env.site_packages[0])
    for i in range(300):  # a site-packages of a realistic size
        (site / f"pkg{i}-1.0.dist-info").mkdir()
    (site / "torch-2.13.0.dist-info").mkdir()
    t0 = time.perf_counter()
    for _ in range(50):
        env_fingerprint(env)
    per_call = (time.perf_counter() - t0) / 50
    assert per_call < 0.01, f"env_fingerprint took {per_call * 1000:.1f} ms"


def _set_data(store: Cache, env: Env, data: object) -> None:
    with contextlib.closing(sqlite3.connect(store.file)) as db, db:
        db.execute("UPDATE entries SET data = ? WHERE path = ?", (data, os.fsencode(env.path)))


def test_corrupt_entry_warns_once_and_is_dropped(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    a, b = make_env(tmp_path, "a"), make_env(tmp_path, "b")
    store = Cache()
    for env in (a, b):
        store.put(entry_for(env))
        _set_data(store, env, json.dumps(entry_for(env).to_json())[:40])
    store.close()
    store = Cache()
    assert store.get(a, env_fp=env_fingerprint(a), machine_fp=MACHINE) is None
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and a.path in err and "corrupt" in err
    # a second corrupt entry in the same process: a miss, dropped, no second warning
    assert store.get(b, env_fp=env_fingerprint(b), machine_fp=MACHINE) is None
    assert capsys.readouterr().err == ""
    with contextlib.closing(sqlite3.connect(store.file)) as db:
        assert db.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 0
    # and the env is cached again normally afterwards
    store.put(entry_for(a))
    assert store.get(a, env_fp=env_fingerprint(a), machine_fp=MACHINE) is not None


@pytest.mark.parametrize("content", ["", "[1, 2]", '{"schema": 2}', b"\xff\xfe garbage",
                                     '{"schema": 2, "path": "x", "static": 3}', None])
def test_other_corrupt_entries(tmp_path: Path, content: object,
                               capsys: pytest.CaptureFixture[str]) -> None:
    env, other = make_env(tmp_path, "a"), make_env(tmp_path, "b")
    store = Cache()
    store.put_many([entry_for(env), entry_for(other)])
    if content is None:  # NOT NULL column: the row is rewritten with a number instead
        content = 3
    _set_data(store, env, content)
    assert [e.path for e in Cache().entries()] == [other.path]  # the good one stays
    assert "corrupt" in capsys.readouterr().err
    assert store.get(env, env_fp=env_fingerprint(env), machine_fp=MACHINE) is None


def _fill(tmp_path: Path, n: int) -> list[Env]:
    made = [make_env(tmp_path, f"e{i}") for i in range(n)]
    store = Cache()
    store.put_many([entry_for(env) for env in made])
    store.close()  # the last connection checkpoints the WAL into the file
    return made


@pytest.mark.parametrize("damage", ["truncated", "header", "tiny", "garbage"])
def test_damaged_database_warns_once_and_is_rebuilt(
    tmp_path: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    made = _fill(tmp_path / "envs", 40)
    file = Cache().file
    raw = file.read_bytes()
    assert len(raw) > 8 * 4096 and not Path(str(file) + "-wal").exists()
    if damage == "truncated":  # a half-written copy, a full disk
        file.write_bytes(raw[: len(raw) // 2])
    elif damage == "header":
        file.write_bytes(b"\0" * 100 + raw[100:])
    elif damage == "tiny":
        file.write_bytes(raw[:40])
    else:
        file.write_bytes(os.urandom(len(raw)))
    store = Cache()
    assert store.entries() == []
    assert all(store.get(e, env_fp=env_fingerprint(e), machine_fp=MACHINE) is None
               for e in made)
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and "damaged" in err and str(file) in err
    # rebuilt: usable at once, by this process and the next
    store.put_many([entry_for(e) for e in made[:3]])
    assert len(Cache().entries()) == 3
    with contextlib.closing(sqlite3.connect(file)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert capsys.readouterr().err == ""


def test_another_schema_is_a_quiet_miss_then_rebuilt(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    env = make_env(tmp_path, "a")
    store = Cache()
    store.root.mkdir(parents=True)
    with contextlib.closing(sqlite3.connect(store.file)) as db, db:  # another version's store
        db.execute("CREATE TABLE entries (key TEXT, blob TEXT)")
        db.execute("INSERT INTO entries VALUES ('k', 'v')")
        db.execute(f"PRAGMA user_version = {SCHEMA + 1}")
    assert store.get(env, env_fp=env_fingerprint(env), machine_fp=MACHINE) is None
    assert store.entries() == [] and store.info()["count"] == 0
    assert capsys.readouterr().err == ""
    with contextlib.closing(sqlite3.connect(store.file)) as db:  # readers left it alone
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA + 1
    store.put(entry_for(env))  # the first write rebuilds it for this schema
    assert store.get(env, env_fp=env_fingerprint(env), machine_fp=MACHINE) is not None
    with contextlib.closing(sqlite3.connect(store.file)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA
    assert capsys.readouterr().err == ""


def test_unwritable_cache_warns_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    store = Cache(blocker / "cache")  # cannot be created, even by root
    a, b = make_env(tmp_path, "a"), make_env(tmp_path, "b")
    store.put(entry_for(a))
    store.put(entry_for(b))
    err = capsys.readouterr().err
    assert err.count("cannot write the cache") == 1
    assert store.get(a, env_fp=env_fingerprint(a), machine_fp=MACHINE) is None
    assert store.entries() == [] and store.info()["count"] == 0 and store.clear() == 0


def test_unreadable_database_is_a_miss(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    env = make_env(tmp_path, "a")
    store = Cache()
    store.file.mkdir(parents=True)  # opening a directory as a database fails, even for root
    assert store.get(env, env_fp=env_fingerprint(env), machine_fp=MACHINE) is None
    assert "cannot read the cache" in capsys.readouterr().err


def test_entries_info_clear(tmp_path: Path) -> None:
    store = Cache()
    assert store.info() == {"dir": str(store.root), "file": str(store.file), "schema": SCHEMA,
                            "count": 0, "bytes": 0, "oldest": None, "newest": None}
    made = [make_env(tmp_path, n) for n in ("a", "b", "c")]
    for env in made:
        store.put(entry_for(env))
    assert sorted(e.path for e in store.entries()) == sorted(e.path for e in made)
    info = store.info()
    assert info["count"] == 3
    assert info["bytes"] >= store.file.stat().st_size > 0
    assert info["oldest"] <= info["newest"]
    legacy = store.root / "envs"  # schema 1's JSON files, left by an older venvsel
    (legacy / "locks").mkdir(parents=True)
    (legacy / ("0" * 64 + ".json")).write_text("{}")
    assert store.clear() == 3
    assert store.entries() == [] and store.info()["count"] == 0
    assert not legacy.exists()


def test_a_scan_writes_in_one_transaction(tmp_path: Path) -> None:
    """30 envs inspected: one BEGIN ... COMMIT, not one write (and fsync) per env."""
    from venvsel.scan import Scanner

    made = [make_env(tmp_path, f"e{i:02d}") for i in range(30)]
    scanner = Scanner()
    scanner.cache.put(entry_for(make_env(tmp_path, "warm-up")))  # opens the connection
    statements: list[str] = []
    assert scanner.cache._conn is not None
    scanner.cache._conn.set_trace_callback(statements.append)
    records = scanner.records(made)
    assert [r.env.path for r in records] == [e.path for e in made]
    writes = [s for s in statements if s.startswith(("BEGIN", "COMMIT", "INSERT"))]
    assert [s.split()[0] for s in writes] == ["BEGIN", "INSERT", "COMMIT"] or (
        writes[0] == "BEGIN IMMEDIATE" and writes[-1] == "COMMIT"
        and sum(s.startswith("BEGIN") for s in writes) == 1
    )
    assert len(Cache().entries()) == 31
    statements.clear()
    again = scanner.records(made)  # warm: reads only
    assert [r.static for r in again] == [r.static for r in records]
    assert not [s for s in statements if s.startswith(("BEGIN", "INSERT"))]
