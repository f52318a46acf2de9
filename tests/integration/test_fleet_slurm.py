"""venvsel on a real Slurm cluster (tests/slurm.py: slurmctld + two slurmd on this host).

`fleet doctor` goes through srun to both nodes and merges what each node's own venvsel said;
a node task that hangs becomes a row with the reason in bounded time; and guarded batch jobs
in a CPU-only env fail at once, with venvsel's reason in the job's output file and the exit
status in Slurm's record of the job.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests import envs, slurm
from tests.conftest import run_venvsel

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
HOST = socket.gethostname().split(".")[0]


def _env(cluster: slurm.Cluster, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(cluster.env)
    env["PYTHONPATH"] = str(REPO)  # the nodes run this checkout's venvsel, like the CLI tests
    env.update(extra)
    return env


def _fleet(cluster: slurm.Cluster, *args: str, cwd: Path | None = None,
           timeout: float = 240) -> tuple[Any, float, str]:
    start = time.monotonic()
    res = run_venvsel("fleet", *args, env=_env(cluster), cwd=cwd, timeout=timeout)
    took = time.monotonic() - start
    return res, took, res.stderr


def _by(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


def test_fleet_doctor_merges_both_nodes(slurm_cluster: slurm.Cluster, seed_project: Path,
                                        tmp_path: Path) -> None:
    res, _, _ = _fleet(slurm_cluster, "doctor", "-w", "n[1-2]", "--root", str(seed_project),
                       "--json", "--", "--comment=venvsel-fleet-test", cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr  # .venv310 fails on n2, see below
    envelope = json.loads(res.stdout)
    assert envelope["command"] == "fleet doctor"
    data = envelope["data"]
    assert data["error"] is None
    nodes = _by(data["nodes"], "node")
    assert sorted(nodes) == ["n1", "n2"]
    for name in ("n1", "n2"):
        assert nodes[name]["ok"], nodes[name]
        assert nodes[name]["host"] == HOST
    # Each node's own facts, read by the venvsel that ran there.
    assert nodes["n1"]["machine"]["driver_version"] is None
    assert nodes["n2"]["machine"]["driver_version"] == slurm.N2_DRIVER
    assert nodes["n2"]["machine"]["cuda_driver"] == "13.0"

    envs_ = _by(data["envs"], "path")
    gpu = envs_[os.path.realpath(seed_project / ".venv310")]
    cpu = envs_[os.path.realpath(seed_project / ".venv")]
    assert gpu["cuda_on"] == [] and cpu["cuda_on"] == []
    gpu_on = _by(gpu["nodes"], "node")
    # n1 has no driver: not expected to work, so not a failure.
    assert "no NVIDIA driver" in gpu_on["n1"]["reason"]
    assert not gpu_on["n1"]["expected"] and not gpu_on["n1"]["failed"]
    # n2 reports a driver that runs this CUDA build, so it should work — and live it does not.
    assert gpu_on["n2"]["expected"] and gpu_on["n2"]["failed"]
    assert "is_available() is False" in gpu_on["n2"]["reason"]
    for on in cpu["nodes"]:
        assert "CPU-only torch build" in on["reason"] and not on["failed"]
    assert any(".venv310" in p and "n2" in p for p in data["problems"])
    assert len(data["problems"]) == 1

    # One srun step, one task per node, with the srun arguments given after `--`.
    srun = data["srun"]
    assert srun[0] == "srun" and "--ntasks-per-node=1" in srun and "--label" in srun
    assert "--nodelist=n[1-2]" in srun and "--comment=venvsel-fleet-test" in srun
    job = slurm_cluster.run("scontrol", "show", "job", "--oneliner")
    record = next(line for line in job.stdout.splitlines() if data["job_name"] in line)
    assert "Comment=venvsel-fleet-test" in record and "NodeList=n[1-2]" in record

    # The same run as a table.
    res, _, _ = _fleet(slurm_cluster, "doctor", "-w", "n1,n2", "--root", str(seed_project),
                       cwd=tmp_path)
    assert res.returncode == 1
    lines = res.stdout.splitlines()
    n1 = next(ln for ln in lines if ln.startswith("n1 "))
    n2 = next(ln for ln in lines if ln.startswith("n2 "))
    assert HOST in n1 and "none" in n1 and "ok" in n1
    assert slurm.N2_DRIVER in n2 and "13.0" in n2 and "ok" in n2
    assert "n2: FAILS: torch.cuda.is_available() is False" in res.stdout
    assert "n1: CUDA" in res.stdout and "no NVIDIA driver" in res.stdout


def _hang_on(node: str, tmp_path: Path) -> Path:
    """A `venvsel` for the nodes that hangs forever on ``node`` and is venvsel elsewhere."""
    script = tmp_path / "venvsel-or-hang"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$SLURMD_NODENAME" = {node} ]; then exec sleep 3600; fi\n'
        f'exec "{sys.executable}" -m venvsel "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _no_job_named(cluster: slurm.Cluster, name: str) -> bool:
    res = cluster.run("squeue", "--noheader", "--name", name, "-o", "%i %T")
    return res.returncode == 0 and not res.stdout.strip()


def test_fleet_node_that_hangs_is_a_row_with_the_reason(slurm_cluster: slurm.Cluster,
                                                        tmp_path: Path) -> None:
    # Two nodes: n1 answers, n2 hangs; srun --wait ends n2 five seconds after n1 is done.
    hang = _hang_on("n2", tmp_path)
    res, took, _ = _fleet(slurm_cluster, "doctor", "-w", "n1,n2", "--node-timeout", "5",
                          "--venvsel", str(hang), "--json", cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    data = json.loads(res.stdout)["data"]
    nodes = _by(data["nodes"], "node")
    assert nodes["n1"]["ok"]
    assert not nodes["n2"]["ok"]
    assert "no answer within 5 s" in nodes["n2"]["reason"]
    assert nodes["n2"]["host"] == HOST  # it did start there: the row says where it hung
    assert took < 60, took
    assert _no_job_named(slurm_cluster, data["job_name"])

    # One node that hangs: no other task ends first, so venvsel's own timeout ends it and
    # cancels the job.
    res, took, _ = _fleet(slurm_cluster, "doctor", "-w", "n2", "--node-timeout", "5",
                          "--queue-timeout", "5", "--venvsel", str(hang), cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    row = next(ln for ln in res.stdout.splitlines() if ln.startswith("n2 "))
    assert "FAILED: no answer: venvsel stopped waiting" in row
    assert took < 60, took
    deadline = time.monotonic() + 30
    name = next(ln for ln in res.stdout.splitlines() if "job venvsel-fleet-" in ln)
    job_name = name.rsplit("job ", 1)[1].rstrip(")")
    while not _no_job_named(slurm_cluster, job_name) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _no_job_named(slurm_cluster, job_name)


def test_fleet_node_whose_venvsel_fails(slurm_cluster: slurm.Cluster, tmp_path: Path) -> None:
    broken = tmp_path / "venvsel-broken-on-n2"
    broken.write_text(
        "#!/bin/sh\n"
        'if [ "$SLURMD_NODENAME" = n2 ]; then echo "venvsel: no python here" >&2; exit 3; fi\n'
        f'exec "{sys.executable}" -m venvsel "$@"\n'
    )
    broken.chmod(0o755)
    res, _, _ = _fleet(slurm_cluster, "scan", "-w", "n1,n2", "--venvsel", str(broken),
                       "--json", cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    nodes = _by(json.loads(res.stdout)["data"]["nodes"], "node")
    assert nodes["n1"]["ok"] and not nodes["n2"]["ok"]
    assert nodes["n2"]["reason"] == "venvsel scan exited with status 3: venvsel: no python here"
    assert nodes["n2"]["exit_code"] == 3


def test_fleet_when_srun_cannot_run_the_step(slurm_cluster: slurm.Cluster,
                                             tmp_path: Path) -> None:
    res, _, _ = _fleet(slurm_cluster, "scan", "-N", "1", "-p", "nosuchpartition", "--json",
                       cwd=tmp_path)
    assert res.returncode == 3, res.stdout + res.stderr
    data = json.loads(res.stdout)["data"]
    assert data["nodes"] == [] and "invalid partition" in data["error"].lower()
    # --gpus-per-node goes to srun as it is; this cluster has no GPUs to give.
    res, _, _ = _fleet(slurm_cluster, "scan", "-N", "1", "--gpus-per-node", "1", cwd=tmp_path)
    assert res.returncode == 3
    assert "srun failed" in res.stdout and "gres" in res.stdout.lower()


def test_fleet_scan_one_node(slurm_cluster: slurm.Cluster, bare_env: Path,
                             tmp_path: Path) -> None:
    res, _, _ = _fleet(slurm_cluster, "scan", "-N", "1", "-w", "n1", "--root",
                       str(bare_env.parent), "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    data = json.loads(res.stdout)["data"]
    assert [n["node"] for n in data["nodes"]] == ["n1"]
    env = _by(data["envs"], "path")[os.path.realpath(bare_env)]
    assert env["nodes"][0]["node"] == "n1" and env["torch"] is None


def test_fleet_answer_with_lines_longer_than_srun_passes_whole(
        slurm_cluster: slurm.Cluster, tmp_path: Path) -> None:
    # srun --label cuts output lines at 1024 bytes; an env path longer than that is one JSON
    # string in the node's answer, and must still arrive intact.
    deep = tmp_path.joinpath(*(f"{i}-" + "d" * 200 for i in range(6)))
    deep.mkdir(parents=True)
    env = envs.create_env(envs.EnvSpec("deep", creator="venv"), deep / "venv")
    assert len(str(env)) > 1100
    res, _, _ = _fleet(slurm_cluster, "scan", "-w", "n1", "--root", str(deep), "--json",
                       cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    data = json.loads(res.stdout)["data"]
    assert data["nodes"][0]["ok"], data["nodes"]
    assert os.path.realpath(env) in {e["path"] for e in data["envs"]}


def test_fleet_nodes_keep_their_own_warm_cache(slurm_cluster: slurm.Cluster, bare_env: Path,
                                               tmp_path: Path) -> None:
    # n1 and n2 see different machines (n2 has a driver). With one shared cache each run
    # would overwrite the other node's answers and every env would be probed again.
    args = ("scan", "-w", "n1,n2", "--root", str(bare_env.parent), "--json")
    first = json.loads(_fleet(slurm_cluster, *args, cwd=tmp_path)[0].stdout)["data"]
    assert all(n["probed"] and n["probed"] >= 1 for n in first["nodes"]), first["nodes"]
    again = json.loads(_fleet(slurm_cluster, *args, cwd=tmp_path)[0].stdout)["data"]
    assert [(n["node"], n["probed"]) for n in again["nodes"]] == [("n1", 0), ("n2", 0)]


# --------------------------------------------------------------------------- job guard


@pytest.fixture(scope="module")
def cpu_env() -> Path:
    """A CPU-only torch env with venvsel installed in it (for `venvsel.require`)."""
    return envs.cached_env(envs.EnvSpec("slurm-guard-cpu", python=envs.WHEEL_PYTHON,
                                        packages=(envs.TORCH_CPU, "-e", str(REPO))))


def _venvsel_on_path(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    shim = bin_dir / "venvsel"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m venvsel "$@"\n')
    shim.chmod(0o755)
    return bin_dir


def _sbatch(cluster: slurm.Cluster, script: str, tmp_path: Path, name: str
            ) -> tuple[str, str, dict[str, str]]:
    """Submit, wait for the end, return (job id, output file text, scontrol fields)."""
    path = tmp_path / f"{name}.sbatch"
    path.write_text(script)
    out = tmp_path / f"{name}.out"
    env = _env(cluster, PATH=f"{_venvsel_on_path(tmp_path / name)}:{os.environ['PATH']}")
    res = cluster.run("sbatch", "--parsable", "--wait", "-w", "n1", f"--output={out}",
                      str(path), env=env, cwd=tmp_path, timeout=300)
    job_id = res.stdout.strip().split(";")[0]
    assert job_id.isdigit(), res.stdout + res.stderr
    assert res.returncode == 1, (res.stdout, res.stderr)  # sbatch --wait: the job's status
    show = cluster.run("scontrol", "show", "job", job_id)
    return job_id, out.read_text(), slurm.job_fields(show.stdout)


TRAIN = "open('trained', 'w').write('ran on the CPU')\n"


def test_guarded_job_fails_in_a_cpu_env(slurm_cluster: slurm.Cluster, cpu_env: Path,
                                        tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(TRAIN)
    py = cpu_env / "bin" / "python"

    # Pattern 1: venvsel picks an env that runs CUDA, or the job ends here.
    _, out, job = _sbatch(slurm_cluster, (
        "#!/bin/bash\n"
        f"source {cpu_env}/bin/activate\n"
        "venvsel run --need cuda -- python train.py\n"
    ), tmp_path, "run-need-cuda")
    assert "venvsel: No environment satisfies cuda:" in out, out
    assert f"{os.path.realpath(cpu_env)}: cuda: CPU-only torch build (2.13.0+cpu)" in out, out
    assert job["JobState"] == "FAILED" and job["ExitCode"] == "1:0", job
    assert not (tmp_path / "trained").exists()

    # Pattern 2: the job's first step asks the interpreter itself.
    job_id, out, job = _sbatch(slurm_cluster, (
        "#!/bin/bash\n"
        "set -e\n"
        f"{py} -c \"import venvsel; venvsel.require('cuda')\"\n"
        f"{py} train.py\n"
    ), tmp_path, "require-cuda")
    assert f"this environment ({os.path.realpath(cpu_env)}) does not satisfy cuda" in out, out
    assert "CPU-only torch build (2.13.0+cpu)" in out, out
    assert job["JobState"] == "FAILED" and job["ExitCode"] == "1:0", job
    assert not (tmp_path / "trained").exists()
    # Pattern 3: the CLI checks the active env (venvsel need not be installed in it).
    _, out, job = _sbatch(slurm_cluster, (
        "#!/bin/bash\n"
        "set -e\n"
        f"source {cpu_env}/bin/activate\n"
        "venvsel require --need cuda\n"
        "python train.py\n"
    ), tmp_path, "cli-require")
    assert "does not satisfy cuda" in out and "CPU-only torch build (2.13.0+cpu)" in out, out
    assert job["JobState"] == "FAILED" and job["ExitCode"] == "1:0", job
    assert not (tmp_path / "trained").exists()

    # No accounting database (slurmdbd) here: plain sacct is disabled, but the job-completion
    # log (jobcomp/filetxt) has the record, and `sacct --completion` reads it.
    comp = slurm_cluster.jobcomp.read_text()
    line = next(ln for ln in comp.splitlines() if f"JobId={job_id} " in ln)
    assert "JobState=FAILED" in line and "ExitCode=1:0" in line, line
    acct = slurm_cluster.run("sacct", "--completion", "-j", job_id, "-n", "-P",
                             "-o", "JobID,State,ExitCode")
    assert acct.stdout.split() == [f"{job_id}|FAILED|1:0"], acct.stdout + acct.stderr
    plain = slurm_cluster.run("sacct", "-j", job_id)
    assert "accounting storage is disabled" in plain.stdout + plain.stderr
