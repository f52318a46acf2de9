"""``venvsel fleet doctor|scan``: every node of a Slurm cluster in one view, through Slurm.

One ``srun`` step runs one task per node; each task runs ``venvsel doctor --json`` (or
``scan --json``) on its node. srun's ``--label`` prefixes every line of every task's output
with the task number, so the outputs come back separated through srun itself (no shared
temp dir needed). A tiny ``sh`` wrapper around each task prints the Slurm node name and the
host first, then venvsel's output base64-encoded (srun cuts long lines), and venvsel's exit
status last, so a task that never finished is told apart from one that failed.

Nothing here waits forever: srun gets ``--time`` (Slurm's own limit on the step),
``--wait`` (once one node is done, the others get that long) and, outside an allocation,
``--immediate`` (give up when the nodes are not free soon); the srun process itself runs
under venvsel's subprocess timeout, after which the job is cancelled by its unique name.
Every node that did not answer is a row with the reason.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import re
import shlex
import shutil
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import proc
from .errors import UsageError
from .model import EnvRecord, Gpu, Machine, Need
from .paths import cache_dir
from .selection import NO, YES, check

MARK = "#venvsel-fleet"
NODE_CACHE_VAR = "VENVSEL_FLEET_CACHE"
# The task's wrapper: who am I, run venvsel, how did it end. POSIX sh and coreutils exist on
# every node. venvsel's JSON travels base64-encoded: srun --label cuts lines at 1024 bytes
# (each piece labelled on a line of its own), which would break a long JSON string; base64
# lines are 76 characters.
# Each node keeps its own cache under $VENVSEL_FLEET_CACHE: nodes share a home, and one
# cache entry per env holds one machine's answers, so a shared cache would make every node
# probe every env again on every run (and spoil the login node's warm cache).
TASK_SCRIPT = (
    f'if [ -n "${NODE_CACHE_VAR}" ]; then '
    f'VENVSEL_CACHE_DIR="${NODE_CACHE_VAR}/${{SLURMD_NODENAME:-$(uname -n)}}"; '
    "export VENVSEL_CACHE_DIR; fi; "
    f'echo "{MARK} node=${{SLURMD_NODENAME:-?}} host=$(uname -n)"; '
    'out=$(mktemp) || exit 70; trap \'rm -f "$out"\' EXIT; trap "exit 143" TERM HUP INT; '
    '"$@" >"$out"; rc=$?; base64 <"$out"; '
    f'echo "{MARK} exit=$rc"; exit $rc'
)
GRACE_S = 15.0  # venvsel's own timeout on srun: the step's limits plus this much
OUTPUT_CAP = 256 * 1024 * 1024  # every node's JSON comes back through srun's stdout
COMMANDS = ("doctor", "scan")


@dataclass(frozen=True)
class FleetRequest:
    """What ``venvsel fleet doctor|scan`` was asked; srun's own options pass through."""

    command: str = "doctor"  # "doctor" or "scan"
    roots: tuple[str, ...] = ()
    nodes: str | None = None  # srun --nodes (a count or a min-max range)
    partition: str | None = None
    nodelist: str | None = None
    gpus_per_node: str | None = None
    srun_args: tuple[str, ...] = ()  # verbatim, after venvsel's own srun options
    node_timeout: float = 300.0  # seconds one node's task may take
    queue_timeout: float = 60.0  # seconds to wait for the nodes (outside an allocation)
    probe_timeout: float | None = None  # passed to the node's doctor/scan --timeout
    refresh: bool = False
    venvsel: tuple[str, ...] = ()  # how a node starts venvsel; default: this python -m venvsel


@dataclass(frozen=True)
class NodeReport:
    """One node: its machine facts, or why it did not answer."""

    node: str  # the Slurm node name
    host: str | None  # what the node calls itself (uname -n)
    ok: bool
    reason: str = ""  # why not ok, in words
    task: int | None = None  # srun task number
    exit_code: int | None = None  # venvsel's exit status on the node; None: did not finish
    machine: Machine | None = None
    envs: int = 0  # how many envs the node found
    probed: int | None = None  # envs probed live in this run (scan says; None: not told)

    @property
    def driver(self) -> str | None:
        return self.machine.driver_version if self.machine else None

    @property
    def cuda(self) -> str | None:
        return self.machine.cuda_driver if self.machine else None

    @property
    def gpus(self) -> tuple[Gpu, ...]:
        return self.machine.gpus if self.machine else ()


@dataclass(frozen=True)
class EnvOnNode:
    node: str
    cuda: str  # the node's verdict on CUDA: yes / no / unknown
    reason: str
    expected: bool  # from files and the node's driver/GPUs, CUDA should work there
    failed: bool  # expected, and it does not work


@dataclass(frozen=True)
class FleetEnv:
    """One env (by path: nodes share a home) as every node that answered sees it."""

    path: str
    label: str  # as the user would write it (relative to a root), else the path
    torch: str | None  # "2.14.1 (CUDA 12.8)", None without torch
    cuda_on: tuple[str, ...]  # nodes where CUDA works (a kernel ran)
    nodes: tuple[EnvOnNode, ...]
    missing_on: tuple[str, ...] = ()  # nodes that answered but did not find it


@dataclass(frozen=True)
class FleetReport:
    command: str
    srun: tuple[str, ...]  # the srun command line that was run
    job_name: str
    nodes: tuple[NodeReport, ...]
    envs: tuple[FleetEnv, ...]
    problems: tuple[str, ...]  # each node that failed, each env that fails where it should work
    srun_messages: tuple[str, ...] = ()  # srun's own lines on stderr
    error: str | None = None  # srun could not run the step at all
    duration_s: float = 0.0
    exit_code: int = 0


# --------------------------------------------------------------------------- building srun


def node_command(req: FleetRequest) -> list[str]:
    """What each task runs: ``venvsel doctor --json`` (or scan) with the request's options."""
    base = list(req.venvsel) or [sys.executable, "-m", "venvsel"]
    cmd = [*base, req.command, "--json"]
    if req.refresh:
        cmd.append("--refresh")
    if req.probe_timeout is not None:
        cmd += ["--timeout", f"{req.probe_timeout:g}"]
    return [*cmd, *req.roots]


def _slurm_time(seconds: float) -> str:
    s = max(60, math.ceil(seconds))  # Slurm checks limits about twice a minute anyway
    return f"{s // 60}:{s % 60:02d}"


def in_allocation(environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return bool(env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID"))


def srun_argv(req: FleetRequest, job_name: str, *, allocation: bool) -> list[str]:
    argv = ["srun", f"--job-name={job_name}", "--ntasks-per-node=1", "--label",
            "--kill-on-bad-exit=0", f"--wait={math.ceil(req.node_timeout)}",
            f"--time={_slurm_time(req.node_timeout)}"]
    if not allocation:
        argv.append(f"--immediate={math.ceil(req.queue_timeout)}")
    if req.nodes:
        argv.append(f"--nodes={req.nodes}")
    if req.partition:
        argv.append(f"--partition={req.partition}")
    if req.nodelist:
        argv.append(f"--nodelist={req.nodelist}")
    if req.gpus_per_node:
        argv.append(f"--gpus-per-node={req.gpus_per_node}")
    argv += list(req.srun_args)
    return [*argv, "sh", "-c", TASK_SCRIPT, "venvsel-fleet", *node_command(req)]


# --------------------------------------------------------------------------- reading the output

_LABEL = re.compile(r"^\s*(\d+): ?(.*)$")
_SRUN_TASK = re.compile(r"^srun: error: (\S+): tasks? ([0-9,\-]+): (.*)$")
_CANCELLED = re.compile(r"\*\*\* STEP \S+ ON (\S+) CANCELLED AT \S+ (.*?)\s*\*\*\*")


@dataclass
class _Task:
    task: int
    node: str | None = None
    host: str | None = None
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)
    exit_code: int | None = None


def _task_ids(spec: str) -> list[int]:
    ids: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        if lo.isdigit():
            ids.extend(range(int(lo), int(hi) + 1) if hi.isdigit() else [int(lo)])
    return ids


def split_output(stdout: str, stderr: str) -> tuple[dict[int, _Task], list[str]]:
    """Per-task stdout/stderr from srun --label output; srun's own lines separately."""
    tasks: dict[int, _Task] = {}
    srun_lines: list[str] = []

    def task(i: int) -> _Task:
        return tasks.setdefault(i, _Task(i))

    for line in stdout.splitlines():
        m = _LABEL.match(line)
        if not m:
            continue
        t, text = task(int(m.group(1))), m.group(2)
        if text.startswith(MARK + " node="):
            fields = dict(kv.split("=", 1) for kv in text[len(MARK) + 1:].split() if "=" in kv)
            t.node, t.host = fields.get("node"), fields.get("host")
        elif text.startswith(MARK + " exit="):
            with contextlib.suppress(ValueError):
                t.exit_code = int(text.split("=", 1)[1])
        else:
            t.out.append(text)
    for line in stderr.splitlines():
        m = _LABEL.match(line)
        if m:
            task(int(m.group(1))).err.append(m.group(2))
        elif line.strip():
            srun_lines.append(line.rstrip())
    return tasks, srun_lines


def _node_key(name: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _tail(lines: Sequence[str], n: int = 1) -> str:
    kept = [ln.strip() for ln in lines if ln.strip()]
    return " | ".join(kept[-n:])


def _torch_cell(rec: EnvRecord) -> str | None:
    t = rec.static.torch
    if t is None:
        return None
    build = f"CUDA {t.cuda}" if t.cuda else ("ROCm " + t.hip if t.hip else t.build)
    return f"{t.version} ({build})"


def _parse_node(t: _Task, name: str) -> tuple[NodeReport, list[EnvRecord]]:
    """A finished task's JSON → the node's row and its env records."""
    try:
        text = base64.b64decode("".join(ln.strip() for ln in t.out), validate=True).decode(
            "utf-8", "replace").strip()
    except ValueError:  # binascii.Error: cut short
        text = "\n".join(t.out)
    try:
        data = json.loads(text)["data"]
        machine = Machine.from_json(data["machine"])
        records = [EnvRecord.from_json(r) for r in data["records"]]
    except (ValueError, KeyError, TypeError) as exc:
        why = "no output" if not text else f"its output is not venvsel's JSON ({exc})"
        err = _tail(t.err)
        return NodeReport(name, t.host, False, f"{why}{': ' + err if err else ''}", t.task,
                          t.exit_code), []
    probed = data.get("probed") if isinstance(data.get("probed"), int) else None
    return NodeReport(name, t.host, True, "", t.task, t.exit_code, machine, len(records),
                      probed), records


def _unfinished_reason(t: _Task, srun_why: dict[str, str], gave_up: float | None,
                       req: FleetRequest) -> str:
    name = t.node or "?"
    said = srun_why.get(name) or _tail(t.err)
    if gave_up is not None:
        base = f"no answer: venvsel stopped waiting after {gave_up:g} s"
    else:
        base = f"no answer within {req.node_timeout:g} s (--node-timeout): srun stopped the task"
    return f"{base}{' (' + said + ')' if said else ''}"


def merge(req: FleetRequest, stdout: str, stderr: str, *, gave_up: float | None = None,
          expected: Sequence[str] = ()) -> tuple[
              list[NodeReport], list[FleetEnv], list[str], list[str]]:
    """srun's output → node rows, env rows, problems and srun's own messages. ``gave_up``:
    the seconds after which venvsel killed srun, None when srun ended by itself."""
    tasks, srun_lines = split_output(stdout, stderr)
    srun_why: dict[str, str] = {}
    task_node: dict[int, str] = {}
    for line in srun_lines:
        m = _SRUN_TASK.match(line)
        if m:
            for i in _task_ids(m.group(2)):
                task_node[i] = m.group(1)
            srun_why[m.group(1)] = m.group(3)
            continue
        c = _CANCELLED.search(line)
        if c:
            srun_why.setdefault(c.group(1), f"cancelled {c.group(2)}".strip().lower())
    for t in tasks.values():
        for line in t.err:
            c = _CANCELLED.search(line)
            if c:
                srun_why.setdefault(c.group(1), f"cancelled {c.group(2)}".strip().lower())
        if t.node is None and t.task in task_node:
            t.node = task_node[t.task]

    rows: dict[str, NodeReport] = {}
    per_node: dict[str, list[EnvRecord]] = {}
    for t in sorted(tasks.values(), key=lambda x: x.task):
        name = t.node or f"task {t.task}"
        if t.exit_code is None:  # no end line: killed before venvsel finished there
            rows[name] = NodeReport(name, t.host, False,
                                    _unfinished_reason(t, srun_why, gave_up, req), t.task)
        elif t.exit_code != 0:
            err = _tail(t.err, 2) or "no message"
            rows[name] = NodeReport(
                name, t.host, False,
                f"venvsel {req.command} exited with status {t.exit_code}: {err}",
                t.task, t.exit_code)
        else:
            rows[name], records = _parse_node(t, name)
            per_node[name] = records
    for name, why in srun_why.items():
        if name not in rows:
            rows[name] = NodeReport(name, None, False, f"the task did not run: {why}")
    for name in expected:
        if name not in rows:
            why = ("venvsel stopped waiting before it started" if gave_up is not None
                   else "srun started no task there")
            rows[name] = NodeReport(name, None, False, f"no output from this node: {why}")

    nodes = sorted(rows.values(), key=lambda r: _node_key(r.node))
    envs = _merge_envs(nodes, per_node)
    problems = [f"{r.node}: {r.reason}" for r in nodes if not r.ok]
    for e in envs:
        for on in e.nodes:
            if on.failed:
                problems.append(f"{e.label} should run CUDA on {on.node} but does not: "
                                f"{on.reason}")
    return nodes, envs, problems, srun_lines


def _merge_envs(nodes: Sequence[NodeReport],
                per_node: dict[str, list[EnvRecord]]) -> list[FleetEnv]:
    cuda = Need("cuda")
    seen: dict[str, dict[str, Any]] = {}
    answered = [r.node for r in nodes if r.ok]
    for r in nodes:
        if not r.ok or r.machine is None:
            continue
        for rec in per_node.get(r.node, []):
            entry = seen.setdefault(rec.env.path, {
                "label": rec.env.shown_path or rec.env.path, "torch": _torch_cell(rec),
                "on": []})
            if entry["torch"] is None:
                entry["torch"] = _torch_cell(rec)
            verdict = check(rec, cuda, r.machine)
            expected = rec.prediction.torch_cuda.outlook != NO
            entry["on"].append(EnvOnNode(r.node, verdict.outlook, verdict.reason, expected,
                                         expected and verdict.outlook == NO))
    out = []
    for path, entry in sorted(seen.items(), key=lambda kv: kv[1]["label"]):
        on: list[EnvOnNode] = entry["on"]
        found = {o.node for o in on}
        out.append(FleetEnv(path, entry["label"], entry["torch"],
                            tuple(o.node for o in on if o.cuda == YES), tuple(on),
                            tuple(n for n in answered if n not in found)))
    return out


# --------------------------------------------------------------------------- running it


def expand_nodelist(nodelist: str) -> list[str]:
    """``n[1-3],gpu7`` → the node names, as Slurm expands them (scontrol show hostnames)."""
    try:
        res = proc.run(["scontrol", "show", "hostnames", nodelist], timeout=15)
    except OSError:
        return []
    if res.returncode != 0:
        return []
    return res.stdout.decode("utf-8", "replace").split()


def fleet(req: FleetRequest) -> FleetReport:
    """Run the step, wait (bounded), merge. Never raises for what a node did."""
    if req.command not in COMMANDS:
        raise UsageError(f"unknown fleet command {req.command!r}")
    if shutil.which("srun") is None:
        raise UsageError(
            "srun not found: `venvsel fleet` runs through Slurm.",
            hint="Run it where Slurm's client commands work (a login node), or use "
            f"`venvsel {req.command}` on one machine.")
    job_name = f"venvsel-fleet-{uuid.uuid4().hex[:10]}"
    allocation = in_allocation()
    argv = srun_argv(req, job_name, allocation=allocation)
    budget = (0.0 if allocation else req.queue_timeout) + req.node_timeout + GRACE_S
    start = time.monotonic()
    env = proc.clean_env(drop=(), extra={NODE_CACHE_VAR: str(cache_dir() / "fleet-nodes")})
    res = proc.run(argv, timeout=budget, output_cap=OUTPUT_CAP, env=env)
    if res.timed_out and not allocation:
        # srun was killed outright: the job would live on until its time limit. (Inside an
        # allocation the step's own --time ends it, and the allocation's end at the latest.)
        proc.run(["scancel", f"--name={job_name}"], timeout=15)
    duration = time.monotonic() - start
    stdout = res.stdout.decode("utf-8", "replace")
    stderr = res.stderr.decode("utf-8", "replace")
    expected = expand_nodelist(req.nodelist) if req.nodelist else []
    nodes, envs, problems, srun_lines = merge(
        req, stdout, stderr, gave_up=budget if res.timed_out else None, expected=expected)
    error = None
    if not any(r.ok for r in nodes) and not any(r.host for r in nodes):
        # No task ever started: srun itself failed (bad option, no such partition, busy).
        said = _tail([ln for ln in srun_lines if "error" in ln.lower()], 3) or _tail(
            srun_lines, 3)
        if res.timed_out:
            error = f"srun started no task within {budget:g} s"
        else:
            error = f"srun failed (exit status {res.returncode})"
        if said:
            error += f": {said}"
    exit_code = 3 if error else (1 if problems else 0)
    return FleetReport(req.command, tuple(argv), job_name, tuple(nodes), tuple(envs),
                       tuple(problems), tuple(srun_lines), error, round(duration, 3), exit_code)


def parse_venvsel(cmd: str | None) -> tuple[str, ...]:
    return tuple(shlex.split(cmd)) if cmd else ()


# --------------------------------------------------------------------------- text view


def hostlist(names: Sequence[str]) -> str:
    """``n1,n2,n3,gpu07`` → ``n[1-3],gpu07``: Slurm's compact notation, for the table."""
    groups: dict[tuple[str, int], list[int]] = {}
    others: list[str] = []
    for name in names:
        m = re.fullmatch(r"(.*?)(\d+)", name)
        if m:
            digits = m.group(2)  # zero-padded numbers keep their width: gpu07, not gpu7
            width = len(digits) if digits.startswith("0") and len(digits) > 1 else 0
            groups.setdefault((m.group(1), width), []).append(int(digits))
        else:
            others.append(name)
    parts: list[str] = []
    for (prefix, width), nums in groups.items():
        nums = sorted(set(nums))
        if len(nums) == 1:
            parts.append(f"{prefix}{nums[0]:0{width}d}")
            continue
        spans, lo = [], nums[0]
        for prev, cur in zip(nums, [*nums[1:], None]):
            if cur != prev + 1:
                spans.append(f"{lo:0{width}d}" + (f"-{prev:0{width}d}" if prev != lo else ""))
                lo = cur if cur is not None else lo
        parts.append(f"{prefix}[{','.join(spans)}]")
    return ",".join(parts + others)


__all__ = [
    "EnvOnNode",
    "FleetEnv",
    "FleetReport",
    "FleetRequest",
    "NodeReport",
    "fleet",
    "hostlist",
    "merge",
    "node_command",
    "parse_venvsel",
    "split_output",
    "srun_argv",
]
