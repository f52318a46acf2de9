"""What the trust rule (venvsel/trust.py) costs the static scan of 1,000 envs.

The farm: 1,000 envs as ``ROOT/pNNNN/.venv``, each a copy of a real virtualenv's skeleton
(pyvenv.cfg, ``bin/python`` linked to the base interpreter, and its site-packages: the
``*.pth`` files, modules and every ``*.dist-info`` dir copied, package dirs left empty,
which is everything static inspection and the trust rule look at). Built once into the test
env cache.

Each figure is measured with the rule and with the rule replaced by a stub that trusts
everything (what venvsel did before the rule), interleaved rep by rep so load from other
work hits both sides alike. Wall time and CPU time (user + system, of this process and of
the CLI's child) are both kept, each as median and minimum: on a shared, overloaded 2-core
machine wall time mostly measures the other work, and the CPU time's median is the steadier
figure of what the scan itself costs.

- inspect: discover + inspect_env of every env (benchmarks/static_scan.py's in-process
  figure), against discover + trust.check + inspect_env;
- scan_warm: venvsel.scan.scan(live=False) in one process with a warm cache (what
  ``venvsel scan --static`` does after the first run);
- cli_warm: the whole ``python -m venvsel scan --static --no-global ROOT`` process;
- vs_base (with --before-repo DIR, a checkout of the commit before this work): the whole
  ``venvsel scan --static`` process of that commit against this tree's, each with its own
  warm cache — before/after as a user sees it;
- rule_alone: trust.check of every env by itself (CPU time), as a share of the warm scan
  without the rule: the marginal cost, in a loop tight enough to measure on a busy machine.

    python benchmarks/trust_cost.py [--envs 1000] [--reps 7] [--before-repo DIR] > result.json

Target (issue 13): the static scan of 1,000 envs at most 10 % slower.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from filelock import FileLock  # noqa: E402

from tests import envs  # noqa: E402 - the test env builder is the one place that builds envs

STUB = (
    "import venvsel.trust as t\n"
    "from venvsel.model import Trust\n"
    "t.check = lambda env, listings=None: Trust(True, 'trusted')\n"
)
CLI = "import sys\nfrom venvsel.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"


def _skeleton(template: Path, dest: Path, base_python: str) -> None:
    (dest / "bin").mkdir(parents=True)
    os.symlink(base_python, dest / "bin" / "python")
    shutil.copy2(template / "pyvenv.cfg", dest / "pyvenv.cfg")
    for sp in template.glob("lib/python*/site-packages"):
        out = dest / sp.relative_to(template)
        out.mkdir(parents=True)
        for entry in os.scandir(sp):
            if entry.is_dir() and entry.name.endswith(".dist-info"):
                shutil.copytree(entry.path, out / entry.name)
            elif entry.is_dir():
                (out / entry.name).mkdir()
            else:
                shutil.copy2(entry.path, out / entry.name)


def farm(n: int) -> Path:
    spec = envs.EnvSpec("trust-farm-template")
    root = envs.CACHE_ROOT / f"trust-farm-{n}-{spec.key()}"
    envs.CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root) + ".lock", timeout=3600):
        if not (root / envs.MARKER).exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            template = envs.create_env(spec, root / "template")
            base = os.path.realpath(template / "bin" / "python")
            for i in range(n):
                _skeleton(template, root / f"p{i:04d}" / ".venv", base)
            shutil.rmtree(template)
            (root / envs.MARKER).write_text("ok")
    return root


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def _cpu() -> float:
    """CPU seconds (user + system) of this process and its waited-for children so far."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _side(samples: list[float]) -> tuple[float, float]:
    return median_ms(samples), round(min(samples) * 1000, 1)


def ab(reps: int, with_rule: Callable[[], object],
       without: Callable[[], object]) -> dict[str, float]:
    """Wall and CPU time, with and without the rule, interleaved rep by rep."""
    wall: dict[str, list[float]] = {"a": [], "b": []}
    cpu: dict[str, list[float]] = {"a": [], "b": []}
    for _ in range(reps):
        for fn, key in ((without, "b"), (with_rule, "a")):
            c, t = _cpu(), time.perf_counter()
            fn()
            wall[key].append(time.perf_counter() - t)
            cpu[key].append(_cpu() - c)
    out: dict[str, float] = {}
    for name, samples in (("wall", wall), ("cpu", cpu)):
        (b_med, b_min), (a_med, a_min) = _side(samples["b"]), _side(samples["a"])
        out.update({
            f"{name}_before_ms": b_med, f"{name}_after_ms": a_med,
            f"{name}_slower_pct": round((a_med / b_med - 1) * 100, 1),
            f"{name}_before_min_ms": b_min, f"{name}_after_min_ms": a_min,
            f"{name}_slower_min_pct": round((a_min / b_min - 1) * 100, 1),
        })
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--envs", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--before-repo", default=None, metavar="DIR",
                    help="a checkout of the commit before the rule: also time its CLI")
    args = ap.parse_args()
    root = farm(args.envs)
    state = tempfile.mkdtemp(prefix="venvsel-trust-bench-")
    os.environ["VENVSEL_CACHE_DIR"] = os.path.join(state, "cache")
    os.environ["VENVSEL_CONFIG_DIR"] = os.path.join(state, "config")
    os.environ["VENVSEL_LOG_DIR"] = os.path.join(state, "log")
    load_before = os.getloadavg()[0]

    import venvsel.trust as trust
    from venvsel.contents import inspect_env
    from venvsel.discover import discover
    from venvsel.model import Trust
    from venvsel.scan import scan

    real_check = trust.check

    def stub(_env: object, _listings: object = None) -> Trust:
        return Trust(True, "trusted")

    def inspect_only() -> None:
        for env in discover([str(root)], include_global=False):
            inspect_env(env)

    def inspect_and_rule() -> None:
        for env in discover([str(root)], include_global=False):
            assert real_check(env).trusted
            inspect_env(env)

    def scan_with(check: Callable[..., Trust]) -> Callable[[], object]:
        def go() -> object:
            trust.check = check
            try:
                return scan([str(root)], live=False, include_global=False)
            finally:
                trust.check = real_check
        return go

    found = len(discover([str(root)], include_global=False))
    scan_with(real_check)()  # fills the cache: the scans below are warm
    inspect = ab(args.reps, inspect_and_rule, inspect_only)
    scan_warm = ab(args.reps, scan_with(real_check), scan_with(stub))

    # The rule alone, as the warm scan runs it (listings taken once, as Scanner.record does),
    # against the whole warm scan without it: a tight loop whose minimum is steady even here.
    from venvsel.fsutil import list_dirs

    found_envs = discover([str(root)], include_global=False)
    listings = [list_dirs(e.site_packages) for e in found_envs]
    rule_cpu: list[float] = []
    for _ in range(args.reps):
        trust._outside.clear()
        c = _cpu()
        for e, lst in zip(found_envs, listings):
            real_check(e, lst)
        rule_cpu.append(_cpu() - c)
    rule_alone = {"cpu_median_ms": median_ms(rule_cpu),
                  "cpu_min_ms": round(min(rule_cpu) * 1000, 1),
                  "share_of_warm_scan_pct": round(
                      min(rule_cpu) * 1000 / scan_warm["cpu_before_min_ms"] * 100, 1)}

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(REPO)
    argv = ["scan", "--static", "--no-global", str(root)]

    def cli(prefix: str) -> Callable[[], object]:
        return lambda: subprocess.run([sys.executable, "-c", prefix + CLI, *argv], env=env,
                                      check=True, stdout=subprocess.DEVNULL)

    cli(STUB)()  # byte-code and page cache warm
    cli_warm = ab(args.reps, cli(""), cli(STUB))
    vs_base = None
    if args.before_repo:
        # The same command from the commit before this work (its own warm cache; cache
        # entries differ between the two), against this tree (its own warm cache).
        def cli_of(repo: str, cache: str) -> Callable[[], object]:
            e = dict(env, PYTHONPATH=repo, VENVSEL_CACHE_DIR=os.path.join(state, cache))
            return lambda: subprocess.run([sys.executable, "-m", "venvsel", *argv], env=e,
                                          check=True, stdout=subprocess.DEVNULL)
        before, after = cli_of(args.before_repo, "c-before"), cli_of(str(REPO), "c-after")
        before()
        after()
        vs_base = ab(args.reps, after, before)
        vs_base["before_repo_commit"] = subprocess.run(  # type: ignore[assignment]
            ["git", "-C", args.before_repo, "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=False).stdout.strip()
    shutil.rmtree(state, ignore_errors=True)
    json.dump({
        "benchmark": "trust_cost",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1m_before": round(load_before, 2),
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "envs": found,
        "reps": args.reps,
        "inspect": inspect,
        "scan_warm": scan_warm,
        "cli_warm": cli_warm,
        "rule_alone": rule_alone,
        "vs_base": vs_base,
        "target_slower_pct": 10,
    }, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
