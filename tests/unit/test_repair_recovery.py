"""repair/recovery.py: recovery puts the original tree back exactly (hash of paths, modes,
symlink targets and contents), from every state a kill can leave; stragglers carrying the
repair id are killed; one repair per env at a time."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from venvsel.errors import OperationFailed, UsageError
from venvsel.repair.recovery import (
    ID_VAR,
    Journal,
    env_lock,
    journal_dir,
    kill_stragglers,
    pending,
    real_env_path,
    recover_pending,
    restore,
)


def _load_tree_hash_script() -> ModuleType:
    """scripts/tree-hash.py: the same hash the GPU runs print, so their figures compare."""
    path = Path(__file__).resolve().parents[2] / "scripts" / "tree-hash.py"
    spec = importlib.util.spec_from_file_location("venvsel_tree_hash", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_TREE_HASH = _load_tree_hash_script()


def tree_hash(root: str | os.PathLike[str]) -> str:
    """sha256 over every entry under ``root``: relative path, type and mode bits, symlink
    target, file contents and file mtime. Two trees with the same hash are the same tree."""
    digest: str = _TREE_HASH.tree_hash(os.fspath(root))[0]
    return digest


def make_tree(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "lib" / "site-packages" / "pkg").mkdir(parents=True)
    (root / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (root / "lib" / "site-packages" / "pkg" / "__init__.py").write_text("x = 1\n")
    script = root / "bin" / "tool"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    os.symlink("/usr/bin/python3", root / "bin" / "python")
    os.symlink("python", root / "bin" / "python3")
    (root / "private").write_text("secret")
    (root / "private").chmod(0o600)
    return root


def test_tree_hash_sees_every_kind_of_change(tmp_path: Path) -> None:
    t = make_tree(tmp_path / "t")
    h0 = tree_hash(t)
    assert tree_hash(t) == h0
    (t / "private").chmod(0o644)
    assert tree_hash(t) != h0
    (t / "private").chmod(0o600)
    assert tree_hash(t) == h0
    os.unlink(t / "bin" / "python3")
    os.symlink("python3.11", t / "bin" / "python3")
    assert tree_hash(t) != h0


def _journal(tmp_path: Path, mode: str, state: str) -> tuple[Journal, Path, str]:
    env = make_tree(tmp_path / "proj" / ".venv")
    original = tree_hash(env)
    j = Journal("20260101-000000-1", str(env), str(env) + ".venvsel-backup-20260101-000000",
                mode)
    j.set(state)
    return j, env, original


def test_restore_after_a_kill_in_the_middle_of_a_rebuild(tmp_path: Path) -> None:
    j, env, original = _journal(tmp_path, "rebuild", "moving")
    os.rename(env, j.backup)  # what the repair did
    j.set("installing")
    (env / "bin").mkdir(parents=True)  # a half-built fresh env
    (env / "bin" / "python").write_text("new")
    msg = restore(j)
    assert "restored" in msg and tree_hash(env) == original
    assert not os.path.exists(j.backup) and not os.path.exists(j.trash)
    assert j.state == "restored" and not os.path.exists(j.sibling_file)
    assert Journal.load(j.cache_file).state == "restored"  # type: ignore[union-attr]


def test_restore_when_killed_right_after_the_move(tmp_path: Path) -> None:
    j, env, original = _journal(tmp_path, "rebuild", "moving")
    os.rename(env, j.backup)  # killed before anything was created
    restore(j)
    assert tree_hash(env) == original


def test_restore_when_killed_before_the_move(tmp_path: Path) -> None:
    j, env, original = _journal(tmp_path, "rebuild", "moving")
    assert "is in place" in restore(j)
    assert tree_hash(env) == original and j.state == "restored"


def test_restore_is_idempotent_after_a_kill_during_restore(tmp_path: Path) -> None:
    j, env, original = _journal(tmp_path, "rebuild", "installing")
    os.rename(env, j.backup)
    env.mkdir()
    (env / "half").write_text("x")
    os.rename(env, j.trash)  # restore had moved the half-built env away, then died
    j.set("restoring")
    restore(j)
    assert tree_hash(env) == original and not os.path.exists(j.trash)


def test_restore_in_place_puts_the_snapshot_back(tmp_path: Path) -> None:
    j, env, original = _journal(tmp_path, "in-place", "snapshotting")
    shutil.copytree(env, j.backup, symlinks=True)
    j.set("installing")
    (env / "lib" / "site-packages" / "pkg" / "__init__.py").write_text("x = 2\n")
    (env / "lib" / "site-packages" / "new.py").write_text("")
    os.unlink(env / "bin" / "python3")
    restore(j)
    assert tree_hash(env) == original


def test_restore_in_place_during_the_snapshot_keeps_the_env(tmp_path: Path) -> None:
    j, env, original = _journal(tmp_path, "in-place", "snapshotting")
    (Path(j.backup) / "bin").mkdir(parents=True)  # a partial copy
    assert "had not been changed" in restore(j)
    assert tree_hash(env) == original and not os.path.exists(j.backup)


def test_restore_with_nothing_left_fails_loudly(tmp_path: Path) -> None:
    j, env, _ = _journal(tmp_path, "rebuild", "installing")
    shutil.rmtree(env)
    with pytest.raises(OperationFailed, match="cannot restore"):
        restore(j)


def test_pending_finds_the_sibling_journal_when_the_cache_is_gone(tmp_path: Path) -> None:
    j, env, original = _journal(tmp_path, "rebuild", "moving")
    os.rename(env, j.backup)
    j.set("installing")
    shutil.rmtree(journal_dir())
    found = pending(real_env_path(str(env)))
    assert [x.id for x in found] == [j.id] and found[0].state == "installing"
    said: list[str] = []
    msgs = recover_pending(real_env_path(str(env)), said.append)
    assert len(msgs) == 1 and "stopped while installing" in said[0]
    assert tree_hash(env) == original
    assert pending(real_env_path(str(env))) == []


def test_finished_journals_are_not_pending(tmp_path: Path) -> None:
    _, env, _ = _journal(tmp_path, "rebuild", "done")
    assert pending(str(env)) == []
    assert pending(None) == []


def test_recover_without_env_restores_every_pending_repair(tmp_path: Path) -> None:
    j, env, original = _journal(tmp_path, "rebuild", "moving")
    os.rename(env, j.backup)
    j.set("creating")
    msgs = recover_pending(None, lambda _t: None)
    assert len(msgs) == 1 and tree_hash(env) == original


def test_one_repair_per_env(tmp_path: Path) -> None:
    path = str(tmp_path / ".venv")
    with env_lock(path), pytest.raises(UsageError, match="another venvsel repair"), \
            env_lock(path):
        pass
    with env_lock(path):  # released
        pass


def test_lock_is_released_when_its_holder_is_killed(tmp_path: Path) -> None:
    path = str(tmp_path / ".venv")
    repo = str(Path(__file__).resolve().parents[2])
    code = (f"import sys, time; sys.path.insert(0, {repo!r})\n"
            "from venvsel.repair.recovery import env_lock\n"
            f"with env_lock({path!r}):\n    print('locked', flush=True); time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        with pytest.raises(UsageError), env_lock(path):
            pass
        child.kill()
        child.wait()
        with env_lock(path):
            pass
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="stragglers are found through /proc")
def test_kill_stragglers_kills_only_the_repairs_children() -> None:
    env = dict(os.environ, **{ID_VAR: "r-test-1"})
    other = dict(os.environ, **{ID_VAR: "r-test-2"})
    # a child in its own session that starts a grandchild, like pip running a build
    mine = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60"], env=env, start_new_session=True)
    theirs = subprocess.Popen(["sleep", "60"], env=other, start_new_session=True)
    try:
        time.sleep(0.2)
        assert kill_stragglers("r-test-1") >= 2
        assert mine.wait(timeout=5) != 0
        assert theirs.poll() is None
    finally:
        for p in (mine, theirs):
            p.kill()
            p.wait()


SPAWNER = """
import os, subprocess, sys, time
# like ninja: every command in a process group of its own, new ones all the time
while True:
    subprocess.Popen(["sleep", "60"], start_new_session=True)
    time.sleep(0.002)
"""


def repair_children(repair_id: str, argv_has: str = "") -> list[int]:
    """Live processes carrying this repair's id in their environment (and ``argv_has`` in
    their command line); zombies and dead entries left out."""
    needle = f"{ID_VAR}={repair_id}".encode()
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if argv_has.encode() not in f.read():
                    continue
            with open(f"/proc/{entry}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[-1].split()[0] not in (b"Z", b"X"):
                    out.append(int(entry))
        except OSError:
            continue
    return out


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="stragglers are found through /proc")
def test_kill_stragglers_catches_children_started_during_the_kill() -> None:
    """A parent that keeps starting children in their own process groups (ninja starting
    nvcc) must leave nothing behind: children started between a scan and the parent's death
    are caught by the next scan."""
    env = dict(os.environ, **{ID_VAR: "r-test-spawner"})
    spawner = subprocess.Popen([sys.executable, "-c", SPAWNER], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while len(repair_children("r-test-spawner")) < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(repair_children("r-test-spawner")) >= 20
        assert kill_stragglers("r-test-spawner") >= 20
        assert spawner.wait(timeout=5) != 0
        time.sleep(0.2)
        assert repair_children("r-test-spawner") == []
    finally:
        spawner.kill()
        spawner.wait()
        for pid in repair_children("r-test-spawner"):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


# Journals as the dict-based Journal.save wrote them (venvsel before the typed journal):
# sorted keys, history as [state, time] pairs. @ENV@ stands for the env's path.
OLD_REBUILD_JOURNAL = """{
 "backup": "@ENV@.venvsel-backup-20251130-101010",
 "history": [["started", 1764497410.5], ["moving", 1764497410.6],
             ["creating", 1764497411.0], ["installing", 1764497420.25]],
 "id": "20251130-101010-4194309",
 "log": "/nonexistent/logs/repair-20251130-101010-4194309.log",
 "mode": "rebuild",
 "original": "@ENV@",
 "pid": 4194309,
 "reason": "",
 "started": 1764497410.5,
 "state": "installing",
 "updated": 1764497420.25
}"""

OLD_IN_PLACE_JOURNAL = """{
 "backup": "@ENV@.venvsel-backup-20251130-111111",
 "history": [["started", 1764501071.0], ["snapshotting", 1764501071.1],
             ["snapshotted", 1764501072.0], ["installing", 1764501072.5]],
 "id": "20251130-111111-4194310",
 "log": "",
 "mode": "in-place",
 "original": "@ENV@",
 "pid": 4194310,
 "reason": "",
 "started": 1764501071.0,
 "state": "installing",
 "updated": 1764501072.5
}"""


def test_old_format_journals_load_and_recover(tmp_path: Path) -> None:
    import json

    rebuilt = make_tree(tmp_path / "a" / ".venv")
    in_place = make_tree(tmp_path / "b" / ".venv")
    want = {rebuilt: tree_hash(rebuilt), in_place: tree_hash(in_place)}
    text_a = OLD_REBUILD_JOURNAL.replace("@ENV@", str(rebuilt))
    text_b = OLD_IN_PLACE_JOURNAL.replace("@ENV@", str(in_place))
    # the rebuild: moved aside, a half-built env in its place; its journal in the cache dir
    os.rename(rebuilt, str(rebuilt) + ".venvsel-backup-20251130-101010")
    (rebuilt / "bin").mkdir(parents=True)
    (rebuilt / "bin" / "python").write_text("half-built")
    journal_dir().mkdir(parents=True, exist_ok=True)
    (journal_dir() / "20251130-101010-4194309.json").write_text(text_a)
    # the in-place one: snapshotted, then pip changed the env; only the sibling journal left
    shutil.copytree(in_place, str(in_place) + ".venvsel-backup-20251130-111111", symlinks=True)
    (in_place / "lib" / "site-packages" / "pkg" / "__init__.py").write_text("x = 2\n")
    (in_place / "lib" / "site-packages" / "new.py").write_text("")
    Path(str(in_place) + ".venvsel-backup-20251130-111111.journal.json").write_text(text_b)

    j = Journal.load(journal_dir() / "20251130-101010-4194309.json")
    assert j is not None and (j.mode, j.state, j.pid) == ("rebuild", "installing", 4194309)
    assert j.history[-1] == ("installing", 1764497420.25)
    assert json.dumps(j.to_json(), indent=1, sort_keys=True) == json.dumps(
        json.loads(text_a), indent=1, sort_keys=True)  # saved back in the same form
    assert [x.id for x in pending(real_env_path(str(in_place)))] == ["20251130-111111-4194310"]

    said: list[str] = []
    assert len(recover_pending(None, said.append)) == 1  # the cache dir's journal
    assert len(recover_pending(real_env_path(str(in_place)), said.append)) == 1  # the sibling
    assert len(said) == 2 and all("stopped while installing" in m for m in said)
    assert {p: tree_hash(p) for p in want} == want
    assert pending(None) == [] and pending(real_env_path(str(in_place))) == []


def test_a_journal_with_an_unknown_state_is_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    path.write_text(OLD_REBUILD_JOURNAL.replace('"state": "installing"', '"state": "dancing"'))
    assert Journal.load(path) is None
    path.write_text(OLD_REBUILD_JOURNAL.replace('"mode": "rebuild"', '"mode": "sideways"'))
    assert Journal.load(path) is None
    path.write_text(OLD_REBUILD_JOURNAL)
    assert Journal.load(path) is not None
