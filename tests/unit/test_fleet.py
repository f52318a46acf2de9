"""fleet's pure parts: the srun command line, reading srun --label output, hostlists.

The lines below are srun's own formats, as Slurm 22.05 printed them on the test cluster
(tests/integration/test_fleet_slurm.py runs the real thing end to end)."""

from __future__ import annotations

import base64
import json
import sys

from venvsel.fleet import MARK, FleetRequest, hostlist, merge, split_output, srun_argv


def test_hostlist_compacts_like_slurm() -> None:
    assert hostlist(["n1", "n2", "n3", "n5", "n10"]) == "n[1-3,5,10]"
    assert hostlist(["gpu07", "gpu08", "login"]) == "gpu[07-08],login"
    assert hostlist(["n2"]) == "n2"
    assert hostlist([]) == ""


def test_srun_argv_ours_first_then_the_users_then_the_task() -> None:
    req = FleetRequest(command="scan", roots=("/p",), nodes="2", partition="gpu",
                       gpus_per_node="h200:1", srun_args=("--time=9", "--account=ml"),
                       node_timeout=90, queue_timeout=20, probe_timeout=12.5)
    argv = srun_argv(req, "venvsel-fleet-x", allocation=False)
    assert argv[:4] == ["srun", "--job-name=venvsel-fleet-x", "--ntasks-per-node=1", "--label"]
    assert "--wait=90" in argv and "--time=1:30" in argv and "--immediate=20" in argv
    assert "--nodes=2" in argv and "--partition=gpu" in argv
    assert "--gpus-per-node=h200:1" in argv
    sh = argv.index("sh")
    assert argv[sh - 2:sh] == ["--time=9", "--account=ml"]  # the user's own win: last
    assert argv[sh + 1] == "-c" and argv[sh + 4:] == [
        sys.executable, "-m", "venvsel", "scan", "--json", "--timeout", "12.5", "/p"]
    inside = srun_argv(req, "j", allocation=True)
    assert not any(a.startswith("--immediate") for a in inside)


def test_split_output_by_task_label() -> None:
    out = "\n".join([
        f"0: {MARK} node=n1 host=vm", f" 1: {MARK} node=n2 host=vm2", "0: {", '1: {"a":',
        "0: }", "1: 1}", f"0: {MARK} exit=0", f"1: {MARK} exit=0", "garbage without label",
    ])
    err = "srun: job 7 queued and waiting for resources\n1: some warning\n"
    tasks, srun_lines = split_output(out, err)
    assert tasks[0].node == "n1" and tasks[1].host == "vm2"
    assert tasks[0].out == ["{", "}"] and tasks[1].out == ['{"a":', "1}"]
    assert tasks[1].err == ["some warning"] and tasks[0].exit_code == 0
    assert srun_lines == ["srun: job 7 queued and waiting for resources"]


def _doctor_json(driver: str | None) -> list[str]:
    """A node's answer as the task wrapper sends it: base64 lines (`base64` wraps at 76)."""
    machine = {"os": "Linux", "driver_version": driver, "cuda_driver": "13.0" if driver else None,
               "gpus": [], "sources": [], "cuda_visible_devices": None, "notes": ["x" * 3000]}
    text = json.dumps({"venvsel": 1, "command": "doctor",
                       "data": {"machine": machine, "records": []}}, indent=2)
    encoded = base64.b64encode(text.encode()).decode()
    return [encoded[i:i + 76] for i in range(0, len(encoded), 76)]


def test_merge_rows_for_failed_hung_and_missing_nodes() -> None:
    lines = [f"0: {MARK} node=n1 host=vm"] + [f"0: {x}" for x in _doctor_json(None)]
    lines += [f"0: {MARK} exit=0", f"1: {MARK} node=n2 host=vm", f"1: {MARK} exit=3",
              f"2: {MARK} node=n3 host=vm"]
    err = "\n".join([
        "1: venvsel: the cache dir is not writable",
        "srun: error: n2: task 1: Exited with exit code 3",
        "srun: error: n3: task 2: Killed",
    ])
    req = FleetRequest(node_timeout=5)
    nodes, envs, problems, _ = merge(req, "\n".join(lines), err, expected=["n1", "n2", "n3",
                                                                           "n4"])
    rows = {r.node: r for r in nodes}
    assert [r.node for r in nodes] == ["n1", "n2", "n3", "n4"]
    assert rows["n1"].ok and rows["n1"].machine is not None and envs == []
    assert rows["n1"].machine.notes == ("x" * 3000,)
    assert rows["n2"].reason == ("venvsel doctor exited with status 3: "
                                 "venvsel: the cache dir is not writable")
    assert rows["n3"].reason == ("no answer within 5 s (--node-timeout): srun stopped the "
                                 "task (Killed)")
    assert rows["n4"].reason == "no output from this node: srun started no task there"
    assert len(problems) == 3

    nodes, _, _, _ = merge(req, f"0: {MARK} node=n1 host=vm\n0: {{", "", gave_up=25)
    assert nodes[0].reason.startswith("no answer: venvsel stopped waiting after 25 s")
