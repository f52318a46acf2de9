"""Trust (venvsel/trust.py, README "Trust"): an env that someone else could have changed is
shown with the reason, and nothing of it ever runs.

Every case builds a real env and real payloads owned by the real user ``nobody`` (CI runs as
root, so chown works). A payload creates a sentinel file when it runs; after every command
(scan, pick, doctor, status, activate, use, require, bench, run, repair) the sentinel must not
exist. ``test_control_*`` shows the same payloads DO run in an env that is trusted, so the
other tests can fail.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import run_venvsel
from tests.envs import make_manual_env

pytestmark = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="chown to another user needs root (CI runs as root)",
)

NOBODY = pwd.getpwnam("nobody").pw_uid if hasattr(os, "geteuid") else 65534
HOSTILE = "ev'il $(touch pwned) `touch pwned`;&|\"q\" \\x %PATH% !x"  # tests/shellnames.py bits
NAMES = ("env", HOSTILE)
BASE_PYTHON = Path(os.path.realpath(sys.executable))
PYVER = ".".join(map(str, sys.version_info[:3]))
SHORT = ".".join(map(str, sys.version_info[:2]))


def _shared_group() -> int:
    """A group with members other than root: group-writable by it means others can write."""
    for name in ("nogroup", "users"):
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            continue
    raise RuntimeError("no shared group (nogroup/users) on this machine")


@dataclass
class Case:
    env: Path  # the env dir (its name may be hostile)
    project: Path  # the dir the commands run in
    sentinel: Path  # created by the payload if it ever runs
    reason: str  # what every refusal must say


def _payload(sentinel: Path) -> str:
    return f"import os; open({str(sentinel)!r}, 'w').close()\n"


def _site(env: Path) -> Path:
    return env / "lib" / f"python{SHORT}" / "site-packages"


def _fake_torch(env: Path) -> None:
    """torch's files (no real torch): static inspection says torch is installed, so pick and
    require would confirm it with a live probe, i.e. start the env's python."""
    sp = _site(env)
    (sp / "torch").mkdir()
    (sp / "torch" / "__init__.py").write_text("")
    (sp / "torch" / "version.py").write_text("__version__ = '2.0.0+cpu'\ncuda = None\n")
    (sp / "torch-2.0.0.dist-info").mkdir()
    (sp / "torch-2.0.0.dist-info" / "METADATA").write_text("Name: torch\nVersion: 2.0.0\n")


def _base_env(tmp_path: Path, name: str) -> tuple[Path, Path, Path]:
    project = tmp_path / "proj"
    project.mkdir()
    sentinels = tmp_path / "sentinels"
    sentinels.mkdir()
    built = make_manual_env(BASE_PYTHON, tmp_path / "build", PYVER)
    _fake_torch(built)
    env = project / name
    os.rename(built, env)
    return project, env, sentinels / "SENTINEL"


def _chown(path: Path, uid: int = NOBODY, gid: int = -1) -> None:
    os.lchown(path, uid, gid)


def script_interpreter(tmp_path: Path, name: str) -> Case:
    """bin/python is a shell script owned by nobody."""
    project, env, sentinel = _base_env(tmp_path, name)
    py = env / "bin" / "python"
    py.unlink()
    py.write_text(f"#!/bin/sh\ntouch '{sentinel}'\nexec '{BASE_PYTHON}' \"$@\"\n")
    py.chmod(0o755)
    _chown(py)
    return Case(env, project, sentinel, "bin/python is owned by uid 65534 (nobody)")


def pth_payload(tmp_path: Path, name: str) -> Case:
    """A root-owned interpreter link, and nobody's .pth in site-packages."""
    project, env, sentinel = _base_env(tmp_path, name)
    pth = _site(env) / "zz_payload.pth"
    pth.write_text(_payload(sentinel))
    _chown(pth)
    return Case(env, project, sentinel, "site-packages/zz_payload.pth is owned by uid 65534")


def group_writable_site(tmp_path: Path, name: str) -> Case:
    """site-packages writable by a group others belong to (the .pth in it could be anyone's)."""
    project, env, sentinel = _base_env(tmp_path, name)
    sp = _site(env)
    (sp / "zz_payload.pth").write_text(_payload(sentinel))
    os.chown(sp, 0, _shared_group())
    sp.chmod(0o775)
    return Case(env, project, sentinel, "site-packages is group-writable")


def sitecustomize(tmp_path: Path, name: str) -> Case:
    """A sitecustomize.py owned by nobody."""
    project, env, sentinel = _base_env(tmp_path, name)
    sc = _site(env) / "sitecustomize.py"
    sc.write_text(_payload(sentinel))
    _chown(sc)
    return Case(env, project, sentinel, "site-packages/sitecustomize.py is owned by uid 65534")


def owner_changed(tmp_path: Path, name: str) -> Case:
    """Trusted and probed (the probe is cached), then handed to nobody, who adds a payload."""
    project, env, sentinel = _base_env(tmp_path, name)
    first = run_venvsel("scan", "--no-global", "--json", ".", cwd=project)
    assert first.returncode == 0, first.stderr
    (rec,) = json.loads(first.stdout)["data"]["records"]
    assert rec["probe"]["status"] == "ok" and rec["trust"]["trusted"]
    for dirpath, dirnames, filenames in os.walk(env):
        for n in dirnames + filenames:
            _chown(Path(dirpath, n))
    _chown(env)
    pth = _site(env) / "zz_payload.pth"
    pth.write_text(_payload(sentinel))
    _chown(pth)
    return Case(env, project, sentinel, "owned by uid 65534 (nobody)")


def trust_lapsed(tmp_path: Path, name: str) -> Case:
    """nobody's env, trusted with `venvsel trust`; then nobody adds a .pth: the trust lapses."""
    project, env, sentinel = _base_env(tmp_path, name)
    for dirpath, dirnames, filenames in os.walk(env):
        for n in dirnames + filenames:
            _chown(Path(dirpath, n))
    _chown(env)
    done = run_venvsel("trust", str(env), cwd=project)
    assert done.returncode == 0, done.stderr
    ran = run_venvsel("run", "--env", str(env), "--", "python", "-c", "print('ran')", cwd=project)
    assert ran.returncode == 0 and ran.stdout.strip() == "ran", ran.stderr  # trust holds
    pth = _site(env) / "zz_payload.pth"
    pth.write_text(_payload(sentinel))
    _chown(pth)
    return Case(env, project, sentinel, "an earlier `venvsel trust` lapsed")


CASES: dict[str, Callable[[Path, str], Case]] = {
    "script-interpreter": script_interpreter,
    "pth-payload": pth_payload,
    "group-writable-site-packages": group_writable_site,
    "sitecustomize": sitecustomize,
    "owner-changed": owner_changed,
    "trust-lapsed": trust_lapsed,
}


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "'\"'\"'") + "'"


@pytest.mark.parametrize("name", NAMES, ids=["plain", "hostile"])
@pytest.mark.parametrize("case_name", list(CASES))
def test_untrusted_env_never_runs(tmp_path: Path, case_name: str, name: str) -> None:
    case = CASES[case_name](tmp_path, name)
    project, env = case.project, case.env
    trust_line = f"venvsel trust {_quoted(env)}"

    def venvsel(*args: str, env_vars: dict[str, str] | None = None) -> tuple[int, str]:
        full = dict(os.environ, **(env_vars or {}))
        done = run_venvsel(*args, cwd=project, env=full)
        assert not case.sentinel.exists(), f"the payload ran during `venvsel {' '.join(args)}`"
        assert not (project / "pwned").exists() and not Path("pwned").exists()
        return done.returncode, done.stdout + done.stderr

    # Shown, with the reason, never probed.
    rc, out = venvsel("scan", "--no-global", ".")
    assert rc == 0 and case.reason in out and "untrusted" in out, out
    assert trust_line in out, out
    rc, out = venvsel("scan", "--no-global", "--json", ".")
    (rec,) = json.loads(out[: out.rindex("}") + 1])["data"]["records"]
    assert rec["trust"]["trusted"] is False and case.reason in rec["trust"]["reason"]
    assert rec["probe"] is None  # not even a cached probe from before the change
    rc, out = venvsel("doctor", ".")
    assert case.reason in out and "never run, never chosen" in out, out

    # Never chosen: torch is "installed" (files), so a trusted env would be probed and picked.
    rc, out = venvsel("pick", "--need", "torch", "--root", ".")
    assert rc == 1 and case.reason in out, out
    rc, out = venvsel("run", "--need", "torch", "--", "python", "-c", "pass")
    assert rc == 1 and case.reason in out, out
    rc, out = venvsel("bench", "--need", "torch", "--reps", "1")
    assert rc == 1 and case.reason in out, out
    rc, out = venvsel("use", "--need", "torch")
    assert rc == 1 and case.reason in out, out
    rc, out = venvsel("require", "--need", "torch", env_vars={"VIRTUAL_ENV": str(env)})
    assert rc == 1 and case.reason in out, out

    # With no ENV and no --need: "env" is the project's own env dir, and still never chosen.
    for args in (("run", "--", "python", "-c", "pass"), ("activate", "--shell", "bash"),
                 ("pick",)):
        rc, out = venvsel(*args)
        assert rc == 1, (args, out)
        if name == "env":
            assert case.reason in out, (args, out)

    # Named explicitly: refused with exit 2 and the exact trust command.
    for args in (("run", "--env", str(env), "--", "python", "-V"),
                 ("bench", "--env", str(env), "--reps", "1"),
                 ("repair", str(env), "--dry-run", "--backend", "cpu"),
                 ("activate", "--shell", "bash", str(env)),
                 ("activate", "--shell", "bash", "--need", "torch", str(env)),
                 ("use", str(env))):
        rc, out = venvsel(*args)
        assert rc == 2, (args, out)
        assert case.reason in out and trust_line in out, (args, out)

    # Recorded for the project (as if by an earlier `venvsel use`): status says untrusted.
    (project / ".venvsel.toml").write_text(f"needs = [\"torch\"]\nenv = {json.dumps(name)}\n")
    rc, out = venvsel("status")
    assert rc == 1 and "untrusted" in out and case.reason in out, out
    rc, out = venvsel("activate", "--shell", "bash")
    assert rc == 1 and case.reason in out, out
    rc, out = venvsel("pick")
    assert rc == 1 and case.reason in out, out
    assert not case.sentinel.exists()


@pytest.mark.parametrize("name", NAMES, ids=["plain", "hostile"])
def test_control_payload_runs_when_trusted(tmp_path: Path, name: str) -> None:
    """The same .pth payload, root-owned in a root-owned env: trusted, so a live scan runs it
    (this is what every test above would see without the trust rule)."""
    project, env, sentinel = _base_env(tmp_path, name)
    (_site(env) / "zz_payload.pth").write_text(_payload(sentinel))
    done = run_venvsel("scan", "--no-global", ".", cwd=project)
    assert done.returncode == 0, done.stderr
    assert sentinel.exists()
    assert "untrusted" not in done.stdout


def test_explicit_trust_list_untrust(tmp_path: Path) -> None:
    case = pth_payload(tmp_path, HOSTILE)
    env = case.env
    done = run_venvsel("trust", "--list", cwd=case.project)
    assert done.returncode == 0 and "No env is trusted" in done.stdout
    done = run_venvsel("trust", str(env), cwd=case.project)
    assert done.returncode == 0, done.stderr
    assert "owned by uid 65534 (nobody)" in done.stdout
    done = run_venvsel("trust", "--list", "--json", cwd=case.project)
    (rec,) = json.loads(done.stdout)["data"]["trusted"]
    assert rec["path"] == str(env) and rec["state"] == "holds" and rec["owner_uid"] == 0
    # Trusted now: the payload is the user's choice and runs.
    done = run_venvsel("run", "--env", str(env), "--", "python", "-c", "pass", cwd=case.project)
    assert done.returncode == 0, done.stderr
    assert case.sentinel.exists()
    case.sentinel.unlink()
    # A chmod lapses it.
    (_site(env) / "zz_payload.pth").chmod(0o666)
    done = run_venvsel("trust", "--list", cwd=case.project)
    assert "LAPSED" in done.stdout, done.stdout
    done = run_venvsel("run", "--env", str(env), "--", "python", "-V", cwd=case.project)
    assert done.returncode == 2 and "lapsed" in done.stderr, done.stderr
    assert not case.sentinel.exists()
    # untrust forgets it.
    done = run_venvsel("untrust", str(env), cwd=case.project)
    assert done.returncode == 0 and "untrusted" in done.stdout
    done = run_venvsel("trust", "--list", cwd=case.project)
    assert "No env is trusted" in done.stdout


def _edit_entries(edit: Callable[[dict[str, object]], None]) -> None:
    """Change every cached entry in place, as someone who can write the cache could."""
    import sqlite3

    from venvsel.cache import Cache

    db = sqlite3.connect(str(Cache().file))
    try:
        rows = db.execute("SELECT path, data FROM entries").fetchall()
        assert rows
        for path, raw in rows:
            data = json.loads(raw)
            edit(data)
            db.execute("UPDATE entries SET data = ? WHERE path = ?", (json.dumps(data), path))
        db.commit()
    finally:
        db.close()


def _poison(_cache_dir: Path) -> None:
    """Make every cached entry claim torch runs a CUDA kernel."""
    def edit(data: dict[str, object]) -> None:
        data["probe"] = {"status": "ok", "python": PYVER, "torch_version": "9.9.9+cu999",
                         "torch_cuda": "99.9", "cuda_available": True, "kernel_ok": True,
                         "cuda_devices": [{"index": 0, "name": "Poisoned GPU"}]}

    _edit_entries(edit)


@pytest.mark.parametrize("mode", [0o777, 0o775])
def test_cache_dir_writable_by_others_is_not_read(tmp_path: Path, mode: int) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    make_manual_env(BASE_PYTHON, project / ".venv", PYVER)
    cache = Path(os.environ["VENVSEL_CACHE_DIR"])
    assert run_venvsel("scan", "--static", "--no-global", ".", cwd=project).returncode == 0
    _poison(cache)
    # Control: in a safe cache dir the poisoned entry steers pick (what the rule prevents).
    done = run_venvsel("pick", "--need", "cuda", "--root", ".", cwd=project)
    assert done.returncode == 0 and done.stdout.strip().endswith(".venv"), done.stderr
    os.chown(cache, 0, _shared_group())
    cache.chmod(mode)
    done = run_venvsel("pick", "--need", "cuda", "--root", ".", cwd=project)
    assert done.returncode == 1, done.stdout
    why = "writable by others" if mode == 0o777 else "group-writable"
    assert f"not reading the cache dir {cache}: it is {why}" in done.stderr, done.stderr
    assert done.stderr.count("not reading the cache dir") == 1  # one warning, not one per read
    assert "Poisoned" not in done.stdout + done.stderr


def test_cache_entry_of_another_owner_is_not_used(tmp_path: Path) -> None:
    """A probe cached while the env had another owner is a miss, even in a safe cache."""
    project = tmp_path / "proj"
    project.mkdir()
    env = make_manual_env(BASE_PYTHON, project / ".venv", PYVER)
    assert run_venvsel("scan", "--static", "--no-global", ".", cwd=project).returncode == 0
    cache = Path(os.environ["VENVSEL_CACHE_DIR"])
    _poison(cache)

    def other_owner(data: dict[str, object]) -> None:
        assert data["owner_uid"] == os.lstat(env).st_uid
        data["owner_uid"] = NOBODY

    _edit_entries(other_owner)
    done = run_venvsel("pick", "--need", "cuda", "--root", ".", cwd=project)
    assert done.returncode == 1 and "Poisoned" not in done.stdout + done.stderr


def test_config_dir_of_another_user_is_not_read(tmp_path: Path) -> None:
    config = Path(os.environ["VENVSEL_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text("this is not = valid toml [\n")
    _chown(config)
    done = run_venvsel("scan", "--static", "--no-global", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr  # a bad config would be exit 2: it was not read
    assert f"not reading the config dir {config}: owned by uid 65534 (nobody)" in done.stderr


def test_sudo_uid_counts_as_owner(tmp_path: Path) -> None:
    """As root through sudo, the invoking user's envs are trusted (git's rule)."""
    project, env, _sentinel = _base_env(tmp_path, "env")
    for dirpath, dirnames, filenames in os.walk(env):
        for n in dirnames + filenames:
            _chown(Path(dirpath, n))
    _chown(env)
    plain = run_venvsel("scan", "--static", "--no-global", ".", cwd=project)
    assert "untrusted: owned by uid 65534 (nobody)" in plain.stdout
    sudo = run_venvsel("scan", "--static", "--no-global", ".", cwd=project,
                       env=dict(os.environ, SUDO_UID=str(NOBODY)))
    assert "untrusted" not in sudo.stdout, sudo.stdout

