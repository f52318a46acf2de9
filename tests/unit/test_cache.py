"""The capability cache on real files: round trips, staleness, corruption, schema, housekeeping.

Envs here are real venv layouts made by hand (pyvenv.cfg + bin/python link + site-packages);
nothing is spawned.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import pytest

from tests import envs
from venvsel import cache as cache_mod
from venvsel import paths
from venvsel.cache import SCHEMA, Cache, CacheEntry, entry_key, env_fingerprint, new_entry
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


def test_default_root_follows_the_cache_dir() -> None:
    assert Cache().root == paths.cache_dir() / "envs"
    assert str(Cache().root).startswith(os.environ["VENVSEL_CACHE_DIR"])


def test_round_trip(tmp_path: Path) -> None:
    env = make_env(tmp_path, "a")
    store = Cache()
    for probe in (PROBE, None):
        entry = entry_for(env, probe)
        store.put(entry)
        got = store.get(env, env_fp=env_fingerprint(env), machine_fp=MACHINE)
        assert got == entry
    assert (store.root / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f")
    # keyed by sha256 of the real path; a symlinked path to the env finds the same entry
    assert store.file_for(env.path).name == hashlib.sha256(env.path.encode()).hexdigest() + ".json"
    link = tmp_path / "link"
    os.symlink(env.path, link)
    assert entry_key(str(link)) == entry_key(env.path)
    data = json.loads(store.file_for(env.path).read_text())
    assert data["schema"] == SCHEMA and data["path"] == env.path


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


def test_truncated_entry_warns_once_and_is_removed(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    a, b = make_env(tmp_path, "a"), make_env(tmp_path, "b")
    store = Cache()
    for env in (a, b):
        store.put(entry_for(env))
        file = store.file_for(env.path)
        file.write_bytes(file.read_bytes()[:40])
    assert store.get(a, env_fp=env_fingerprint(a), machine_fp=MACHINE) is None
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and str(store.file_for(a.path)) in err
    assert not store.file_for(a.path).exists()
    # a second corrupt entry in the same process: a miss, removed, no second warning
    assert store.get(b, env_fp=env_fingerprint(b), machine_fp=MACHINE) is None
    assert capsys.readouterr().err == ""
    assert not store.file_for(b.path).exists()
    # and the env is cached again normally afterwards
    store.put(entry_for(a))
    assert store.get(a, env_fp=env_fingerprint(a), machine_fp=MACHINE) is not None


@pytest.mark.parametrize("content", [b"", b"[1, 2]", b'{"schema": 1}', b"\xff\xfe garbage",
                                     b'{"schema": 1, "path": "x", "static": 3}'])
def test_other_corruptions(tmp_path: Path, content: bytes,
                           capsys: pytest.CaptureFixture[str]) -> None:
    env = make_env(tmp_path, "a")
    store = Cache()
    store.put(entry_for(env))
    store.file_for(env.path).write_bytes(content)
    assert store.get(env, env_fp=env_fingerprint(env), machine_fp=MACHINE) is None
    assert "corrupt" in capsys.readouterr().err
    assert not store.file_for(env.path).exists()


def test_schema_mismatch_is_a_quiet_miss(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    env = make_env(tmp_path, "a")
    store = Cache()
    store.put(entry_for(env))
    file = store.file_for(env.path)
    data = json.loads(file.read_text())
    data["schema"] = SCHEMA + 1
    file.write_text(json.dumps(data))
    assert store.get(env, env_fp=env_fingerprint(env), machine_fp=MACHINE) is None
    assert store.entries() == []
    assert capsys.readouterr().err == ""
    assert file.exists()  # another venvsel's entry: left alone until we write ours
    store.put(entry_for(env))
    assert store.get(env, env_fp=env_fingerprint(env), machine_fp=MACHINE) is not None


def test_unwritable_cache_warns_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    store = Cache(blocker / "envs")  # cannot be created, even by root
    a, b = make_env(tmp_path, "a"), make_env(tmp_path, "b")
    store.put(entry_for(a))
    store.put(entry_for(b))
    err = capsys.readouterr().err
    assert err.count("cannot write the cache") == 1
    assert store.get(a, env_fp=env_fingerprint(a), machine_fp=MACHINE) is None
    assert store.entries() == [] and store.info()["count"] == 0 and store.clear() == 0


def test_unreadable_entry_is_a_miss(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = make_env(tmp_path, "a")
    store = Cache()
    file = store.file_for(env.path)
    file.parent.mkdir(parents=True)
    file.mkdir()  # reading a directory fails even for root
    assert store.get(env, env_fp=env_fingerprint(env), machine_fp=MACHINE) is None
    assert "cannot read cache entry" in capsys.readouterr().err


def test_entries_info_clear(tmp_path: Path) -> None:
    store = Cache()
    assert store.info() == {"dir": str(store.root), "schema": SCHEMA, "count": 0, "bytes": 0,
                            "oldest": None, "newest": None}
    made = [make_env(tmp_path, n) for n in ("a", "b", "c")]
    for env in made:
        store.put(entry_for(env))
    assert sorted(e.path for e in store.entries()) == sorted(e.path for e in made)
    info = store.info()
    assert info["count"] == 3
    assert info["bytes"] == sum(store.file_for(e.path).stat().st_size for e in made)
    assert info["oldest"] <= info["newest"]
    (store.root / ".leftover.json.abc.tmp").write_text("{")
    assert store.clear() == 3
    assert store.entries() == [] and store.info()["count"] == 0
    assert not list(store.root.glob("*.tmp")) and not list((store.root / "locks").iterdir())
