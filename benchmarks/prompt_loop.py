"""What `venvsel shell-hook SHELL --auto` costs at each prompt, in real bash, zsh and fish.

venvsel is installed as a user installs it (benchmarks/_tool.py) and the hook is loaded from
it. Each shell runs its prompt hooks in a loop, as it does before drawing a prompt: bash
evaluates $PROMPT_COMMAND, zsh calls each of $precmd_functions, fish emits fish_prompt. Every
loop runs once with the hook and once without it (the baseline: the same loop, no hook), in
the same shell script, timed inside the shell (``date +%s%N`` around the loop); per-prompt
figures are (hook - baseline) / prompts, medians of ``--reps`` runs:

- unchanged:       N prompts in one directory of a project whose env is active
- within_project:  N prompts, each after a ``cd`` between two directories of the project
- change:          a ``cd`` out of or into the project and the prompt after it (each one
                   deactivates or activates: one ``venvsel auto`` process), timed one by one
- activate:        one warm ``venvsel activate ENV`` through the hook's function (which
                   evaluates ``venvsel activate ENV --shell SHELL``), the yardstick for a
                   change: timed one by one, interleaved with the changes in the same loop
                   (M/2 rounds of: out, activate + deactivate, in), so load on the machine
                   hits both alike

    python benchmarks/prompt_loop.py [--prompts 1000] [--changes 20] [--reps 5] > result.json

Targets (issue 15): unchanged and within_project <= 1 ms per prompt; change <= one warm
activate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks._tool import installed_venvsel  # noqa: E402

SHELLS = ("bash", "zsh", "fish")
COMMAND = {"bash": ["bash", "--norc", "--noprofile"], "zsh": ["zsh", "-f"],
           "fish": ["fish", "--no-config"]}


def q(shell: str, value: str) -> str:
    if shell == "fish":
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return shlex.quote(value)


def prompt_call(shell: str) -> str:
    """What the shell does before each prompt (its prompt hooks)."""
    if shell == "bash":
        return 'eval "${PROMPT_COMMAND-}"'
    if shell == "zsh":
        return 'for __f in $precmd_functions; do "$__f"; done'
    return "emit fish_prompt"


def loop(shell: str, count: int, body: list[str], label: str, out: str) -> list[str]:
    """Shell code: run ``body`` ``count`` times, append "label nanoseconds" to ``out``."""
    if shell == "fish":
        return ["set -l t0 (date +%s%N)", f"for i in (seq {count})", *body, "end",
                "set -l t1 (date +%s%N)",
                f"echo {label} (math $t1 - $t0) >> {q(shell, out)}"]
    return ["t0=$(date +%s%N)", "i=0", f"while [ $i -lt {count} ]; do", *body,
            "i=$((i + 1))", "done", "t1=$(date +%s%N)",
            f"echo {label} $((t1 - t0)) >> {q(shell, out)}"]


def timed_step(shell: str, body: list[str], label: str, out: str) -> list[str]:
    """Shell code: run ``body`` once and append "label nanoseconds" to ``out``."""
    if shell == "fish":
        return ["set -l s0 (date +%s%N)", *body, "set -l s1 (date +%s%N)",
                f"echo {label} (math $s1 - $s0) >> {q(shell, out)}"]
    return ["s0=$(date +%s%N)", *body, "s1=$(date +%s%N)",
            f"echo {label} $((s1 - s0)) >> {q(shell, out)}"]


def script(shell: str, hooked: bool, tool: Path, proj: Path, outside: Path, env: Path,
           prompts: int, changes: int, out: str) -> str:
    lines: list[str] = []
    if hooked:
        hook = f"{q(shell, str(tool))} shell-hook {shell} --auto --no-completion"
        lines.append(f"{hook} | source" if shell == "fish" else f'eval "$({hook})"')
    call = prompt_call(shell)
    sub_a, sub_b = proj / "src" / "pkg", proj / "docs"
    lines += [f"cd {q(shell, str(sub_a))}", call]  # in the project, its env active
    lines += loop(shell, prompts, [call], "unchanged", out)
    lines += loop(shell, prompts // 2,
                  [f"cd {q(shell, str(sub_b))}", call, f"cd {q(shell, str(sub_a))}", call],
                  "within_project", out)
    if hooked:
        # Changes of project and warm activations, interleaved one by one (the machine's
        # load moves a lot): out of the project (the env leaves), one warm activate and
        # its deactivate, back into the project (the env comes back).
        act = f"venvsel activate {q(shell, str(env))}"  # the hook's function, as users type it
        body = [*timed_step(shell, [f"cd {q(shell, str(outside))}", call], "change", out),
                *timed_step(shell, [act], "activate", out),
                "deactivate",
                *timed_step(shell, [f"cd {q(shell, str(sub_a))}", call], "change", out)]
        if shell == "fish":
            lines += [f"for i in (seq {changes // 2})", *body, "end"]
        else:
            lines += ["i=0", f"while [ $i -lt {changes // 2} ]; do", *body, "i=$((i + 1))",
                      "done"]
    return "\n".join(lines) + "\n"


def run_once(shell: str, hooked: bool, world: dict[str, Path], tool: Path, prompts: int,
             changes: int, tmp: Path) -> dict[str, list[float]]:
    out = tmp / f"{shell}-{'hook' if hooked else 'base'}.txt"
    out.unlink(missing_ok=True)
    path = tmp / f"loop.{shell}"
    path.write_text(script(shell, hooked, tool, world["proj"], world["outside"],
                           world["proj"] / ".venv", prompts, changes, str(out)))
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp), "LANG": "C.UTF-8",
           "TERM": "dumb", "SHELL": "/bin/false"}
    proc = subprocess.run([*COMMAND[shell], str(path)], env=env, cwd=tmp,
                          capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0 or proc.stderr:
        raise RuntimeError(f"{shell}: {proc.returncode}\n{proc.stderr[-2000:]}")
    result: dict[str, list[float]] = {}
    for line in out.read_text().splitlines():
        label, ns = line.split()
        result.setdefault(label, []).append(float(ns))
    return result


def make_world(tmp: Path) -> dict[str, Path]:
    proj = tmp / "proj"
    (proj / "src" / "pkg").mkdir(parents=True)
    (proj / "docs").mkdir()
    (proj / "pyproject.toml").write_text("[project]\nname = 'proj'\n")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(proj / ".venv")],
                   check=True)
    outside = tmp / "elsewhere"
    outside.mkdir()
    return {"proj": proj, "outside": outside}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=1000)
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    tool = installed_venvsel()
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="venvsel-prompt-") as d:
        tmp = Path(d)
        world = make_world(tmp)
        for shell in SHELLS:
            runs: dict[str, list[float]] = {}
            for _ in range(args.reps):
                base = run_once(shell, False, world, tool, args.prompts, args.changes, tmp)
                hook = run_once(shell, True, world, tool, args.prompts, args.changes, tmp)
                for label in ("unchanged", "within_project"):
                    runs.setdefault(label, []).append(
                        (hook[label][0] - base[label][0]) / args.prompts)
                runs.setdefault("baseline_prompt", []).append(
                    base["unchanged"][0] / args.prompts)
                # one sample per change and per activation, interleaved in the same loop
                runs.setdefault("change", []).extend(hook["change"])
                runs.setdefault("activate", []).extend(hook["activate"])
            res: dict[str, object] = {}
            for label, values in runs.items():
                res[label] = {"median_ms": statistics.median(values) / 1e6,
                              "runs_ms": [round(v / 1e6, 4) for v in values]}
            med = {k: v["median_ms"] for k, v in res.items()}  # type: ignore[index]
            res["targets_met"] = {
                "unchanged_le_1ms": med["unchanged"] <= 1.0,
                "within_project_le_1ms": med["within_project"] <= 1.0,
                "change_le_one_activate": med["change"] <= med["activate"],
            }
            results[shell] = res
            print(f"{shell}: " + ", ".join(f"{k} {v:.4f} ms" for k, v in med.items()),
                  file=sys.stderr, flush=True)
    versions = {}
    for shell in SHELLS:
        first = subprocess.run([shell, "--version"], capture_output=True, text=True,
                               check=False).stdout.splitlines()
        versions[shell] = first[0] if first else "?"
    print(json.dumps({
        "prompts": args.prompts, "changes": args.changes, "reps": args.reps,
        "tool": str(tool), "shells": versions, "results": results,
        "machine": platform.platform(), "cpus": os.cpu_count(),
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }, indent=2))


if __name__ == "__main__":
    main()
