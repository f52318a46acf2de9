"""`venvsel repair` for real: real envs with torch, the real CLI in a subprocess, real pip
installing from this machine's local indexes (as a user with a mirror would point it), real
kills. Every failure path checks that the env is byte-for-byte what it was (tree hash of
paths, modes, symlink targets, contents and file mtimes).

The one multi-GB CUDA install (torch 2.14.1, a CUDA 13.0 build) is
``test_repair_cpu_env_to_cuda_build``; everything else uses the CPU wheel or fails early.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import envs
from tests.conftest import VENVSEL, run_venvsel
from tests.unit.test_repair_recovery import repair_children, tree_hash

LOCAL_INDEX = "file:///opt/pypi-more/simple"  # holds torch 2.14.1 (CUDA 13.0 build) only
WHEELS = "/opt/wheels"  # holds torch 2.13.0+cpu
UNREACHABLE = "http://127.0.0.1:9/simple"
REPO = str(Path(__file__).resolve().parents[2])


def _no_driver() -> bool:
    from venvsel.machine import read_machine

    return not read_machine().has_driver


@pytest.fixture(scope="session")
def cpu_torch_env() -> Path:
    """torch 2.13.0+cpu plus two small packages of the user's (built once, cached; read-only)."""
    return envs.cached_env(envs.EnvSpec("repair-cpu", packages=(envs.TORCH_CPU, "six", "idna")))


@pytest.fixture
def fresh_project(tmp_path: Path, cpu_torch_env: Path) -> Iterator[Path]:
    """A project dir holding a private copy of the CPU-torch env as ``.venv``, never run."""
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copytree(cpu_torch_env, proj / ".venv", symlinks=True)
    yield proj
    shutil.rmtree(proj, ignore_errors=True)  # several GB after a CUDA repair


@pytest.fixture
def project(fresh_project: Path) -> Path:
    """The same env after its python has run once, as a user's env has: site's first start
    compiles ``_distutils_hack`` (from setuptools' .pth). Rollback tests hash the env as
    the user has it; the dry-run test uses ``fresh_project`` so that nothing venvsel spawns
    may write bytecode into an env it is only looking at."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([str(fresh_project / ".venv" / "bin" / "python"), "-c", "pass"], env=env,
                   check=True, timeout=60)
    return fresh_project


def leftovers(proj: Path) -> list[str]:
    return sorted(p for p in os.listdir(proj) if p != ".venv")


def py_run(env: Path, code: str) -> str:
    done = subprocess.run([str(env / "bin" / "python"), "-c", code], capture_output=True,
                          text=True, check=True, timeout=120)
    return done.stdout.strip()


# --------------------------------------------------------------------------- no change


@pytest.mark.slow
def test_dry_run_prints_the_plan_and_changes_nothing(fresh_project: Path) -> None:
    project = fresh_project
    before = tree_hash(project / ".venv")
    r = run_venvsel("repair", ".venv", "--dry-run", "--backend", "cu130",
                    "--index-url", LOCAL_INDEX, cwd=project)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "CPU-only torch build" in out
    assert "Plan for .venv (in-place" in out
    assert "torch 2.13.0 (your version) is not offered by" in out and "2.14.1" in out
    assert re.search(r"^  1\. Snapshot the env", out, re.M)
    assert re.search(r"^  2\. Install the PyTorch family from " + re.escape(LOCAL_INDEX), out, re.M)
    assert f"--index-url {LOCAL_INDEX} torch==2.14.1" in out
    assert tree_hash(project / ".venv") == before
    assert leftovers(project) == []

    r = run_venvsel("repair", ".venv", "--dry-run", "--backend", "cu130",
                    "--index-url", LOCAL_INDEX, "--json", cwd=project)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["venvsel"] == 1 and doc["command"] == "repair"
    plan = doc["data"]["plan"]
    assert doc["data"]["dry_run"] is True and plan["mode"] == "in-place"
    step = next(s for s in plan["steps"] if s["key"] == "install-torch")
    assert step["argv"][-3:] == ["--index-url", LOCAL_INDEX, "torch==2.14.1"]
    assert step["env"] == {"PIP_CONFIG_FILE": os.devnull}
    assert [f["code"] for f in doc["data"]["findings"]] == ["torch-cpu"]
    assert tree_hash(project / ".venv") == before


@pytest.mark.slow
@pytest.mark.skipif(not _no_driver(), reason="this machine has an NVIDIA driver")
def test_auto_without_a_driver_is_refused(project: Path) -> None:
    before = tree_hash(project / ".venv")
    r = run_venvsel("repair", ".venv", "--yes", cwd=project)
    assert r.returncode == 2
    assert "No NVIDIA driver found" in r.stderr and "--backend cu130" in r.stderr
    assert "CPU-only torch build" in r.stdout  # the diagnosis still says what is wrong
    assert tree_hash(project / ".venv") == before and leftovers(project) == []


@pytest.mark.slow
def test_no_tty_and_no_yes_is_refused(project: Path) -> None:
    before = tree_hash(project / ".venv")
    r = run_venvsel("repair", ".venv", "--rebuild", "--backend", "cpu", "--find-links", WHEELS,
                    cwd=project, input="y\n")
    assert r.returncode == 2
    assert "stdin is not a terminal" in r.stderr and "--yes" in r.stderr
    assert tree_hash(project / ".venv") == before and leftovers(project) == []


# --------------------------------------------------------------------------- rollback


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["in-place", "rebuild"])
def test_failed_install_rolls_back_byte_for_byte(project: Path, mode: str) -> None:
    env = project / ".venv"
    before = tree_hash(env)
    args = ["repair", ".venv", "--backend", "cu130", "--index-url", UNREACHABLE, "--yes"]
    if mode == "rebuild":
        args.append("--rebuild")
    r = run_venvsel(*args, cwd=project)
    assert r.returncode == 3, r.stdout + r.stderr
    assert f"Plan for .venv ({mode}" in r.stdout
    assert "Install the PyTorch family" in r.stderr and "FAILED" in r.stderr
    assert "Restored" in r.stderr and "exactly as it was" in r.stderr
    after = tree_hash(env)
    print(f"rollback ({mode}): tree hash before {before}, after {after}")
    assert after == before
    assert leftovers(project) == []  # no backup, no half-built env, no journal left behind
    log = re.search(r"Transcript: (\S+)", r.stderr)
    assert log is not None
    text = Path(log.group(1)).read_text()
    assert UNREACHABLE in text and "=== FAILED" in text and "restored" in text


@pytest.mark.slow
def test_wrong_build_fails_verification_and_rolls_back(project: Path) -> None:
    # a "mirror" that only has the CPU build, for a CUDA backend: pip succeeds, the probe
    # says it is not a CUDA build, and the env is put back
    env = project / ".venv"
    before = tree_hash(env)
    r = run_venvsel("repair", ".venv", "--backend", "cu130", "--find-links", WHEELS, "--yes",
                    cwd=project)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "a cpu build, but the backend is cu130" in r.stdout  # the plan warned
    assert "[5/5] Verify" in r.stderr
    assert "is not a CUDA build (torch.version.cuda is None)" in r.stderr
    assert tree_hash(env) == before and leftovers(project) == []


@pytest.mark.slow
def test_confirmation_on_a_terminal(project: Path) -> None:
    import pty

    env = project / ".venv"
    before = tree_hash(env)
    master, slave = pty.openpty()
    try:
        child = subprocess.Popen(
            [*VENVSEL, "repair", ".venv", "--rebuild", "--backend", "cpu", "--find-links", WHEELS],
            cwd=project, env=dict(os.environ, PYTHONPATH=REPO), stdin=slave,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.write(master, b"n\n")
        out, err = child.communicate(timeout=300)
    finally:
        os.close(master)
        os.close(slave)
    assert child.returncode == 2, out + err
    assert "Go ahead? [y/N]" in out + err and "not confirmed; nothing was changed" in err
    assert tree_hash(env) == before and leftovers(project) == []


def _start_repair(project: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.Popen(
        [*VENVSEL, "repair", ".venv", "--rebuild", "--backend", "cpu", "--find-links", WHEELS,
         "--yes", *extra],
        cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _wait_installing(project: Path, child: subprocess.Popen[bytes], argv_has: str = "") -> str:
    """Wait until the journal says "installing" and pip is running; the repair's id."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert child.poll() is None, "the repair ended before it was interrupted"
        for path in glob.glob(str(project / ".venv.venvsel-backup-*.journal.json")):
            try:
                with open(path) as f:
                    j = json.load(f)
            except (OSError, ValueError):
                continue
            if j["state"] == "installing" and repair_children(j["id"], argv_has):
                return str(j["id"])
        time.sleep(0.02)
    raise AssertionError("the repair never reached the install")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_install_restores_and_exits_3(project: Path, sig: signal.Signals) -> None:
    env = project / ".venv"
    before = tree_hash(env)
    child = _start_repair(project)
    try:
        rid = _wait_installing(project, child)
        child.send_signal(sig)
        assert child.wait(timeout=120) == 3
    finally:
        child.kill()
        child.wait()
    assert tree_hash(env) == before
    assert leftovers(project) == []
    assert repair_children(rid) == []


@pytest.mark.slow
@pytest.mark.parametrize("how", ["--recover", "plain"])
def test_sigkill_during_install_then_repair_restores(project: Path, how: str) -> None:
    env = project / ".venv"
    before = tree_hash(env)
    child = _start_repair(project)
    try:
        # killed while pip unpacks the torch wheel (several seconds of work left for it)
        rid = _wait_installing(project, child, argv_has="torch==")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
        child.wait()
    # venvsel is gone mid-install: pip goes on writing into the half-built env at the env's
    # path (recovery must stop it first); the original is in the backup
    assert repair_children(rid, "torch=="), "pip should have outlived venvsel"
    assert os.path.isdir(env)
    backups = [p for p in leftovers(project) if not p.endswith(".json")]
    assert len(backups) == 1 and tree_hash(project / backups[0]) == before

    if how == "--recover":
        r = run_venvsel("repair", "--recover", ".venv", cwd=project)
        assert r.returncode == 0, r.stderr
    else:
        r = run_venvsel("repair", ".venv", cwd=project)
        if _no_driver():
            assert r.returncode == 2  # restored first; then `auto` has no driver to match
    text = r.stdout + r.stderr
    assert "An interrupted repair of" in text and "stopped while installing" in text
    assert "exactly as it was" in text
    assert tree_hash(env) == before
    assert leftovers(project) == []
    assert repair_children(rid) == []
    # nothing left to recover
    r = run_venvsel("repair", "--recover", ".venv", cwd=project)
    assert r.returncode == 0 and "No interrupted repair" in r.stdout


# --------------------------------------------------------------------------- real repairs


@pytest.mark.slow
def test_rebuild_a_broken_env_with_python(tmp_path: Path) -> None:
    # an env whose base interpreter is reached through a link we then delete: the base is gone
    base_link = tmp_path / "basepy"
    real_base = Path(sys.executable).resolve()
    os.symlink(real_base.parent.parent, base_link)
    env = envs.make_manual_env(base_link / "bin" / real_base.name, tmp_path / "proj" / ".venv")
    for argv in (["-m", "ensurepip"], ["-m", "pip", "install", "-q", "six", "idna"]):
        subprocess.run([str(env / "bin" / "python"), *argv], check=True, capture_output=True,
                       env=envs.tool_env())
    site = next(env.glob("lib/python*/site-packages"))
    (tmp_path / "libs").mkdir()
    (site / "team-libs.pth").write_text(str(tmp_path / "libs") + "\n")  # the user's own
    base_link.unlink()
    before = tree_hash(env)
    proj = env.parent

    r = run_venvsel("repair", ".venv", "--backend", "cpu", "--find-links", WHEELS, "--yes",
                    cwd=proj)
    assert r.returncode == 2
    assert "interpreter gone" in r.stdout and "--python" in r.stderr
    assert tree_hash(env) == before

    r = run_venvsel("repair", ".venv", "--backend", "cpu", "--find-links", WHEELS, "--yes",
                    "--python", sys.executable, cwd=proj)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Plan for .venv (rebuild: the env is broken: interpreter gone" in r.stdout
    assert "Reinstalled as they were" in r.stdout and "six==" in r.stdout
    assert py_run(env, "import six, idna, torch; print(torch.version.cuda)") == "None"
    assert py_run(env, "import torch; print(torch.__version__)") == "2.13.0+cpu"
    assert str(tmp_path / "libs") in py_run(env, "import sys; print(sys.path)")  # .pth kept
    cfg = (env / "pyvenv.cfg").read_text()
    assert str(real_base.parent) in cfg
    kept = re.search(r"Backup of the original env kept at (\S+)", r.stdout)
    assert kept is not None and tree_hash(kept.group(1)) == before  # the original, untouched


@pytest.mark.slow
def test_repair_cpu_env_to_cuda_build(project: Path) -> None:
    """The seed's fix in one command: CPU torch → CUDA build, the user's packages kept."""
    from venvsel.cache import Cache

    env = project / ".venv"
    before = tree_hash(env)
    r = run_venvsel("repair", ".venv", "--backend", "cu130", "--index-url", LOCAL_INDEX,
                    "--yes", cwd=project, timeout=3600)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    version_py = next(env.glob("lib/python*/site-packages/torch/version.py")).read_text()
    assert "__version__ = '2.14.1+cu130'" in version_py
    assert "cuda: Optional[str] = '13.0'" in version_py
    assert py_run(env, "import six, idna; print(six.__version__, idna.__version__)")
    assert re.search(r"Repaired \.venv: torch 2\.14\.1\+cu130 \(CUDA 13\.0\)", r.stdout)
    assert "torch 2.13.0+cpu → 2.14.1+cu130 (CUDA 13.0)" in r.stdout
    for i in range(1, 6):
        assert f"[{i}/5]" in r.stderr
    kept = re.search(r"Backup of the original env kept at (\S+)", r.stdout)
    assert kept is not None and tree_hash(kept.group(1)) == before
    log = re.search(r"Transcript: (\S+)", r.stdout)
    assert log is not None
    text = Path(log.group(1)).read_text()
    assert "--no-deps --index-url " + LOCAL_INDEX + " torch==2.14.1" in text
    assert text.count("--- return code 0") == 3 and "=== done" in text
    entry = next(e for e in Cache().entries() if e.path == str(env))
    assert entry.probe is not None and entry.probe.torch_cuda == "13.0"
    assert entry.static.torch is not None and entry.static.torch.cuda == "13.0"


@pytest.mark.slow
def test_env_without_pip_gets_pip_then_torch(make_env: object) -> None:
    env = make_env("nopip", creator="venv")  # type: ignore[operator]
    assert not list(env.glob("lib/python*/site-packages/pip"))
    r = run_venvsel("repair", str(env), "--backend", "cpu", "--find-links", WHEELS,
                    "--installer", "pip", "--yes", "--json", "--discard-backup", cwd=env.parent)
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(r.stdout)["data"]
    keys = [s["key"] for s in data["plan"]["steps"]]
    assert keys == ["snapshot", "ensurepip", "install-torch", "install-torch-deps", "check",
                    "verify"]
    out = data["outcome"]
    assert out["ok"] and all(s["ok"] for s in out["steps"])
    assert out["probe"]["torch_version"] == "2.13.0+cpu" and out["probe"]["torch_cuda"] is None
    assert py_run(env, "import pip, torch; print(torch.__version__)") == "2.13.0+cpu"
    assert out["backup_path"] is None
    assert sorted(os.listdir(env.parent)) == [env.name]  # --discard-backup: nothing beside it


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not on PATH")
def test_uv_made_env_is_repaired_with_uv(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    assert uv is not None
    env = tmp_path / ".venv"
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(env)], check=True)
    r = run_venvsel("repair", ".venv", "--backend", "cpu", "--find-links", WHEELS, "--yes",
                    cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{uv} pip install --python {env}/bin/python --no-config --reinstall --no-deps " \
           f"--no-index --find-links {WHEELS} torch==2.13.0+cpu" in r.stdout
    assert py_run(env, "import torch; print(torch.__version__)") == "2.13.0+cpu"
