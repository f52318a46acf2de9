"""A real Slurm cluster on this machine for the fleet and job-guard tests.

Debian's slurm-wlm (slurmctld, slurmd, munge; installed by scripts/test.sh) started with a
generated minimal slurm.conf in a temp dir: a private munged (own key and socket), one
slurmctld, and two slurmd on this host as nodes n1 and n2 (Debian builds Slurm with
--enable-multiple-slurmd, so ``slurmd -N n2`` with its own port works). Ports are picked
free, so a leftover daemon or a real Slurm on the machine is never touched.

n2's jobs get ``VENVSEL_CUDA_DRIVER`` from a TaskProlog, so the two nodes differ the way a
CPU node and a GPU node of a real cluster do in what venvsel reads: n1 has no NVIDIA driver,
n2 reports driver 580.65.06 (this host has no GPU, so CUDA still fails there — live).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd", "sinfo", "squeue", "srun", "sbatch", "scontrol",
           "scancel")
N2_DRIVER = "580.65.06"
NODES = ("n1", "n2")


@dataclass
class Cluster:
    root: Path
    conf: Path
    env: dict[str, str]  # what the client commands need (SLURM_CONF)
    pid_files: list[Path]
    jobcomp: Path

    def run(self, *argv: str, timeout: float = 60, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        full = dict(os.environ if env is None else env)
        full.update(self.env)
        return subprocess.run(list(argv), env=full, cwd=cwd, capture_output=True, text=True,
                              timeout=timeout, check=False)

    def logs(self) -> str:
        parts = []
        for log in sorted((self.root / "log").glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-15:]
            parts.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(parts)


def missing_tools() -> list[str]:
    return [t for t in DAEMONS if shutil.which(t) is None]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _conf(root: Path, host: str, ports: list[int], cpus: int) -> str:
    ctld, slurmd, p1, p2 = ports
    return f"""\
ClusterName=venvseltest
SlurmctldHost={host}
SlurmctldPort={ctld}
SlurmdPort={slurmd}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/sock
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
TaskProlog={root}/taskprolog.sh
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={root}/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool-%n
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd-%n.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd-%n.log
SlurmctldTimeout=30
SlurmdTimeout=30
KillWait=2
InactiveLimit=0
MinJobAge=600
NodeName=n1 NodeHostname={host} NodeAddr=127.0.0.1 Port={p1} CPUs={cpus} State=UNKNOWN
NodeName=n2 NodeHostname={host} NodeAddr=127.0.0.1 Port={p2} CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def _start(argv: list[str], root: Path) -> None:
    """Start a daemon (it forks into the background); its startup errors go to a file."""
    with open(root / "log" / "startup.txt", "a") as err:
        proc = subprocess.run(argv, stdout=err, stderr=err, timeout=60, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} did not start (exit {proc.returncode}): see "
                           f"{root / 'log'}\n" + (root / "log" / "startup.txt").read_text())


def start(root: Path) -> Cluster:
    """munged, slurmctld and two slurmd; returns once sinfo shows both nodes idle."""
    for d in ("munge", "state", "run", "log", "spool-n1", "spool-n2"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    os.chmod(root / "munge", 0o755)  # munged wants the socket dir reachable by everyone
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    os.chmod(key, 0o400)
    prolog = root / "taskprolog.sh"
    prolog.write_text(
        "#!/bin/sh\n"
        "# What a GPU node's driver would say: venvsel's documented driver override.\n"
        f'if [ "$SLURMD_NODENAME" = n2 ]; then echo "export VENVSEL_CUDA_DRIVER={N2_DRIVER}"; fi\n'
    )
    os.chmod(prolog, 0o755)
    host = socket.gethostname().split(".")[0]
    conf = root / "slurm.conf"
    conf.write_text(_conf(root, host, [_free_port() for _ in range(4)], os.cpu_count() or 1))
    cluster = Cluster(root, conf, {"SLURM_CONF": str(conf)},
                      [root / "run" / "slurmd-n1.pid", root / "run" / "slurmd-n2.pid",
                       root / "run" / "slurmctld.pid", root / "munge" / "pid"],
                      root / "log" / "jobcomp.txt")
    m = root / "munge"
    try:
        _start(["munged", "--force", f"--socket={m}/sock", f"--key-file={key}",
                f"--log-file={root}/log/munged.log", f"--pid-file={m}/pid",
                f"--seed-file={m}/seed"], root)
        _start(["slurmctld", "-f", str(conf)], root)
        for node in NODES:
            _start(["slurmd", "-f", str(conf), "-N", node], root)
        wait_idle(cluster)
    except BaseException:
        stop(cluster)  # whatever did start must not outlive the test run
        raise
    return cluster


def wait_idle(cluster: Cluster, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        res = cluster.run("sinfo", "--noheader", "-N", "-o", "%N %t", timeout=15)
        last = res.stdout + res.stderr
        states = dict(line.split() for line in res.stdout.splitlines() if len(line.split()) == 2)
        if all(states.get(n) == "idle" for n in NODES):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the test cluster's nodes did not become idle in {timeout:g} s; "
                       f"sinfo said: {last.strip()}\n{cluster.logs()}")


def stop(cluster: Cluster) -> None:
    """Cancel every job, then stop the daemons this cluster started (by their pid files)."""
    with contextlib.suppress(Exception):
        cluster.run("scancel", "--full", "--user", str(os.getuid()), timeout=15)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            res = cluster.run("squeue", "--noheader", timeout=10)
            if res.returncode != 0 or not res.stdout.strip():
                break
            time.sleep(0.5)
    for pid_file in cluster.pid_files:
        _kill(pid_file)


def _kill(pid_file: Path) -> None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


def job_fields(text: str) -> dict[str, str]:
    """``scontrol show job`` output as {field: value} (first occurrence wins)."""
    fields: dict[str, str] = {}
    for m in re.finditer(r"(\w+)=(\S*)", text):
        fields.setdefault(m.group(1), m.group(2))
    return fields
