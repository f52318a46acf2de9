"""The output layer: one result class per command (its JSON form, its text form, its exit
code; :class:`venvsel.render.Result`) and the plain-text views they are made of. cli.py and
fast.py print a result with :func:`venvsel.render.emit`, nowhere else.

Texts that stay with their own module, because the core raises them as error messages or
streams them while it works: ``PickResult.explain``/``explain_ranking`` (selection.py),
the repair's diagnosis and plan (repair/, said while it runs), and the bench report's
formats (bench/report.py, lbformat.py, compare.py); the results below call them.

Light on purpose: a warm ``venvsel pick``/``activate`` (fast.py) prints through this
module, so the core types are imported for type checking only.
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from .model import EnvRecord, Machine, ProbeResult, needs_text
from .render import Result, ResultOf, table

if TYPE_CHECKING:
    from .bench.compare import Comparison
    from .bench.results import Report as BenchReport
    from .cache import Cache
    from .doctor import DoctorReport
    from .fleet import FleetEnv, FleetReport, NodeReport
    from .guard import GuardResult
    from .model import Env
    from .project import Status
    from .repair import RepairReport
    from .runenv import RunResult
    from .scan import ScanResult
    from .selection import PickResult
    from .shells import ShellCode
    from .trust import TrustRecord
    from .use import UndoResult, UseResult


def machine_lines(m: Machine) -> list[str]:
    lines = [f"Machine: {m.os}"]
    if m.driver_version:
        cuda = f", supports CUDA up to {m.cuda_driver}" if m.cuda_driver else ""
        lines.append(f"  NVIDIA driver {m.driver_version}{cuda}")
    else:
        lines.append("  No NVIDIA driver: no env can use an NVIDIA GPU on this machine.")
    for g in m.gpus:
        cap = f", compute capability {g.capability}" if g.capability else ""
        mem = f", {g.memory_mib} MiB" if g.memory_mib else ""
        lines.append(f"  GPU {g.index}: {g.name}{cap}{mem}")
    if m.cuda_visible_devices is not None:
        lines.append(f"  CUDA_VISIBLE_DEVICES={m.cuda_visible_devices!r}")
    for fact, source in m.sources:
        lines.append(f"  {fact} from {source}")
    lines.extend(f"  note: {n}" for n in m.notes)
    return lines


def _torch_cell(r: EnvRecord) -> str:
    t = r.static.torch
    if t is None:
        return "-"
    build = f"CUDA {t.cuda}" if t.cuda else ("ROCm " + t.hip if t.hip else t.build)
    return f"{t.version} ({build})"


def _llama_cell(r: EnvRecord) -> str:
    ll = r.static.llama
    if ll is None:
        return "-"
    return f"{ll.version} ({'+'.join(ll.backends) if ll.backends else 'cpu'})"


def _live_cell(r: EnvRecord, *, static: bool = False) -> str:
    """What the live probe found, in a word or two; "(cached)" in a static scan, where the
    probe shown is an earlier live scan's."""
    if r.untrusted:
        return "untrusted"
    p = r.probe
    if p is None:
        return "not probed"
    word = _live_word(p)
    return f"{word} (cached)" if static and r.probe_cached else word


def _live_word(p: ProbeResult) -> str:
    if not p.ok:
        return p.status
    if p.torch_version is None:
        if p.torch_error:
            return "torch: import failed"
        if p.llama_version is not None:
            return "llama: gpu" if p.llama_gpu_offload else "llama: cpu only"
        # The interpreter ran, but there is nothing GPU-related in it to test; "ok" read as
        # "can do what you asked".
        return "python only"
    if p.cuda_available and p.kernel_ok:
        return "cuda ok"
    return "cuda: no" if p.cuda_available is False else "cuda: kernel failed"


def _outlook_cell(word: str) -> str:
    return {"yes": "yes", "no": "no", "unknown": "maybe"}.get(word, word)


def scan_text(result: ScanResult, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    for line in machine_lines(result.machine):
        out.write(line + "\n")
    out.write("\n")
    if not result.records:
        out.write(f"No Python environments found under {', '.join(result.roots)}.\n")
        return
    rows = []
    for r in result.records:
        label = r.env.shown_path or r.env.path
        if r.env.active:
            label += " (active)"
        rows.append(
            [
                label,
                r.env.kind,
                r.static.python_version or "?",
                _torch_cell(r),
                _llama_cell(r),
                _outlook_cell(r.prediction.torch_cuda.outlook),
                _outlook_cell(r.prediction.llama_gpu.outlook),
                _live_cell(r, static=not result.live),
            ]
        )
    table(["ENV", "KIND", "PYTHON", "TORCH", "LLAMA-CPP", "CUDA?", "LLAMA-GPU?", "LIVE"], rows, out)
    if not result.live and any(r.probe_cached for r in result.records):
        out.write("\nLIVE (cached): --static started nothing; these are what an earlier live "
                  "scan found,\nkept in the cache (`venvsel scan` probes what changed since).\n")
    out.write("\nWhy:\n")
    for r in result.records:
        label = r.env.shown_path or r.env.path
        if _nothing_installed(r):
            # Nothing GPU-related to judge: one line, not one per need (as doctor says it).
            p = r.probe
            probe = f"; live probe: {p.status}: {p.detail}" if p is not None and not p.ok else ""
            out.write(f"  {label}: neither torch nor llama-cpp-python installed{probe}\n")
            continue
        out.write(f"  {label}\n")
        if r.env.broken:
            out.write(f"    broken: {r.env.broken}\n")
        if r.trust is not None and (r.untrusted or r.trust.explicit):
            fix = f"  → fix: {r.trust.fix}" if r.trust.fix else ""
            out.write(f"    trust:      {r.trust.reason}; never run, never chosen{fix}\n"
                      if r.untrusted else f"    trust:      {r.trust.reason}\n")
        for what, verdict in (
            ("torch/CUDA", r.prediction.torch_cuda),
            ("llama GPU", r.prediction.llama_gpu),
        ):
            fix = f"  → fix: {verdict.fix}" if verdict.fix and verdict.outlook != "yes" else ""
            out.write(f"    {what + ':':<11} {verdict.reason}{fix}\n")
        p = r.probe
        if p is not None and not p.ok:
            out.write(f"    live probe: {p.status}: {p.detail}\n")
        elif p is not None and p.kernel_error:
            out.write(f"    live probe: CUDA kernel failed: {p.kernel_error}\n")
        elif p is not None and p.torch_version and p.cuda_available is False:
            said = p.detail or "torch.cuda.is_available() is False"
            out.write(f"    live probe: torch {p.torch_version}: {said}\n")


def _nothing_installed(r: EnvRecord) -> bool:
    """No torch, no llama-cpp-python, nothing broken and nothing to say about trust."""
    return (r.static.torch is None and r.static.llama is None and not r.env.broken
            and not r.untrusted and not (r.trust is not None and r.trust.explicit))


def _env_block(label: str, checks: tuple[tuple[str, str, str], ...], r: EnvRecord) -> list[str]:
    """The lines doctor prints for one env; the label only in the first line's head."""
    status = ""
    if r.probe is not None and not r.probe.ok:
        status = f"  [probe: {r.probe.status}]"
    extra = f"  torch {_torch_cell(r)}" if r.static.torch else "  no torch"
    extra += f", llama-cpp {_llama_cell(r)}" if r.static.llama else ""
    lines = [f"({r.env.kind}, python {r.static.python_version or '?'}){extra}{status}"]
    if r.untrusted:
        assert r.trust is not None
        return [*lines, f"      ✗ {r.trust.reason}: never run, never chosen"]
    plain = r.static.torch is None and r.static.llama is None and not r.env.broken
    if plain or (r.probe is not None and not r.probe.ok):
        # Nothing GPU-related to judge (or nothing could be probed): one line, not four.
        why = (
            f"probe {r.probe.status}: {r.probe.detail}"
            if r.probe and not r.probe.ok
            else ("neither torch nor llama-cpp-python installed")
        )
        return [*lines, f"      ✗ {why}"]
    for need, outlook, reason in checks:
        mark = {"yes": "✓", "no": "✗"}.get(outlook, "?")
        lines.append(f"      {mark} {need:<9} {reason}")
    return lines


def _grouped_fixes(fixes: tuple[str, ...], labels: list[str]) -> list[str]:
    """Fixes that differ only in the env they name, said once with the envs counted."""
    by_len = sorted(set(labels), key=len, reverse=True)
    groups: dict[str, list[str]] = {}
    for fix in fixes:
        label = next((lb for lb in by_len if fix.startswith((lb + " ", lb + ":"))), None)
        key = fix.replace(label, "ENV") if label else fix
        groups.setdefault(key, []).append(label or "")
    out = []
    for key, names in groups.items():
        if len(names) == 1:
            out.append(key.replace("ENV", names[0]) if names[0] else key)
            continue
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        out.append(f"{len(names)} envs ({shown}): {key}")
    return out


def doctor_text(report: DoctorReport, out: TextIO | None = None) -> None:
    # Lazy: reasons imports the machine reader, which `activate ENV` (it imports this module
    # for its output) must not load.
    from .reasons import LIMIT, verbose

    out = out or sys.stdout
    out.write("venvsel doctor\n\n")
    for line in machine_lines(report.machine):
        out.write(line + "\n")
    out.write(f"\nEnvironments ({len(report.records)}):\n")
    blocks = [(label, _env_block(label, checks, r))
              for (label, checks), r in zip(report.verdicts, report.records)]
    many = len(blocks) > LIMIT and not verbose()
    if not many:
        for label, block in blocks:
            out.write(f"  {label}  {block[0]}\n")
            for line in block[1:]:
                out.write(line + "\n")
    else:  # envs whose verdicts read the same are one entry, with a count
        groups: dict[tuple[str, ...], list[str]] = {}
        for label, block in blocks:
            groups.setdefault(tuple(block), []).append(label)
        ordered = sorted(groups.items(), key=lambda kv: -len(kv[1]))
        shown = 0
        for n, (lines, labels) in enumerate(ordered):
            if n >= 8:
                break
            if len(labels) == 1:
                out.write(f"  {labels[0]}  {lines[0]}\n")
            else:
                more = f" and {len(labels) - 3} more" if len(labels) > 3 else ""
                out.write(f"  {len(labels)} envs  {lines[0]}\n")
                out.write(f"      {', '.join(labels[:3])}{more}\n")
            for line in lines[1:]:
                out.write(line + "\n")
            shown += len(labels)
        if shown < len(blocks):
            out.write(f"  … and {len(blocks) - shown} more envs\n")
        out.write("  (--verbose lists every env)\n")
    out.write("\nBest env per need:\n")
    for b in report.best:
        out.write(
            f"  {b.need:<9} {b.env or '(none)'}" + (f"  — {b.reason}" if b.env else "") + "\n"
        )
    out.write("\nFixes:\n")
    fixes = list(report.fixes)
    if many:
        fixes = _grouped_fixes(report.fixes, [label for label, _ in blocks])
    for i, fix in enumerate(fixes, 1):
        out.write(f"  {i}. {fix}\n")


def _captured(write: Callable[[TextIO], None]) -> str:
    buf = io.StringIO()
    write(buf)
    return buf.getvalue()


def _line(text: str) -> str:
    """As click.echo prints one message: the text and a newline."""
    return text + "\n"


# --------------------------------------------------------------------------- scan / doctor


class ScanOutput(ResultOf):
    COMMAND = "scan"
    __slots__ = ()
    result: ScanResult

    def text(self) -> str:
        return _captured(lambda out: scan_text(self.result, out))


class DoctorOutput(ResultOf):
    COMMAND = "doctor"
    __slots__ = ()
    result: DoctorReport

    def text(self) -> str:
        return _captured(lambda out: doctor_text(self.result, out))


# --------------------------------------------------------------------------- pick / require


class PickOutput(Result):
    """``pick``: the chosen env's path (stdout), or why none fits (stderr, exit 1). With no
    need, ``recorded`` is the project's own env and ``result`` is None."""

    COMMAND = "pick"
    __slots__ = ("ranking", "recorded", "result")

    def __init__(
        self, result: PickResult | None = None,
        recorded: Env | None = None,
        ranking: str | None = None,
    ) -> None:
        self.result = result
        self.recorded = recorded
        self.ranking = ranking  # --explain: every env in rank order (stderr, both modes)

    @property
    def exit_code(self) -> int:
        return 1 if self.result is not None and self.result.chosen is None else 0

    def data(self) -> Any:
        if self.result is None:
            return {"chosen": {"env": self.recorded}, "recorded": True}
        return self.result

    def text(self) -> str:
        if self.recorded is not None:
            return _line(self.recorded.path)
        if self.result is not None and self.result.chosen is not None:
            return _line(self.result.chosen.env.path)
        return ""

    def text_err(self) -> str:
        if self.result is not None and self.result.chosen is None:
            return _line(self.result.explain())
        return ""

    def notes(self) -> str:
        return _line(self.ranking) if self.ranking is not None else ""


class RequireOutput(ResultOf):
    COMMAND = "require"
    __slots__ = ()
    result: GuardResult

    @property
    def exit_code(self) -> int:
        return 0 if self.result.ok else 1

    def text_err(self) -> str:
        return "" if self.result.ok else _line(self.result.message)


# --------------------------------------------------------------------------- cache


class CacheInfoOutput(Result):
    COMMAND = "cache info"
    __slots__ = ("info",)

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info

    def data(self) -> Any:
        return self.info

    def text(self) -> str:
        def when(t: float | None) -> str:
            return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t is not None else "-"

        d = self.info
        return "".join(_line(x) for x in (
            f"dir:     {d['dir']}",
            f"file:    {d['file']}",
            f"entries: {d['count']} ({d['bytes']} bytes)",
            f"oldest:  {when(d['oldest'])}",
            f"newest:  {when(d['newest'])}",
        ))


class CacheClearOutput(Result):
    COMMAND = "cache clear"
    __slots__ = ("removed", "root")

    def __init__(self, root: str, removed: int) -> None:
        self.root = root
        self.removed = removed

    def data(self) -> Any:
        return {"dir": self.root, "removed": self.removed}

    def text(self) -> str:
        noun = "entry" if self.removed == 1 else "entries"
        return _line(f"removed {self.removed} cache {noun} from {self.root}")

    @classmethod
    def of(cls, store: Cache, removed: int) -> CacheClearOutput:
        return cls(str(store.root), removed)


# --------------------------------------------------------------------------- bench


class BenchOutput(Result):
    """The bench table (or llama-bench's format ``output``) on stdout, the envelope with
    --json; a crash/hang/error exits 3 and a FALLBACK 1, with the problems on stderr (the
    files asked for are written before it is printed)."""

    COMMAND = "bench"
    __slots__ = ("output", "report")

    def __init__(self, report: BenchReport, output: str | None = None) -> None:
        self.report = report
        self.output = output

    @property
    def exit_code(self) -> int:
        from .bench import report as bench_report  # bench output only: off the warm path

        return bench_report.exit_code(self.report)

    def data(self) -> Any:
        from .bench import report as bench_report  # bench output only: off the warm path

        return bench_report.as_data(self.report)

    def text(self) -> str:
        from .bench import report as bench_report  # bench output only: off the warm path

        if self.output:
            from .bench import lbformat  # bench output only: off the warm path

            return lbformat.render(self.output, self.report)
        return _captured(lambda out: bench_report.render_text(self.report, out))

    def notes(self) -> str:
        from .bench import report as bench_report  # bench output only: off the warm path

        return _line(f"venvsel: {bench_report.problems_message(self.report)}") if (
            self.exit_code) else ""


class BenchCompareOutput(Result):
    COMMAND = "bench"
    __slots__ = ("comparison",)

    def __init__(self, comparison: Comparison) -> None:
        self.comparison = comparison

    def data(self) -> Any:
        return self.comparison.as_data()

    def text(self) -> str:
        from .bench import compare as bench_compare  # bench output only: off the warm path

        return bench_compare.render(self.comparison)


# --------------------------------------------------------------------------- use / status


class UseOutput(ResultOf):
    COMMAND = "use"
    __slots__ = ()
    result: UseResult

    def text(self) -> str:
        r = self.result
        wanted = needs_text(r.needs, r.python)
        lines = [
            f"project  {r.root}",
            f"needs    {wanted or '(none: the env itself is the choice)'}",
            f"env      {r.env_recorded}" + (f"  ({r.env})" if r.env_recorded != r.env else ""),
            f"why      {r.why}",
        ]
        if r.changes:
            lines.append("changed:")
            lines += [f"  {c}" for c in r.changes]
        else:
            lines.append("nothing to change: the project already records this env")
        lines += [f"note: {n}" for n in r.notes]
        if r.undo_command:
            lines.append(f"Undo with: {r.undo_command}")
        return _line("\n".join(lines))


class UndoOutput(ResultOf):
    COMMAND = "use"
    __slots__ = ()
    result: UndoResult

    def data(self) -> Any:
        return {"undo": self.result}

    def text(self) -> str:
        r = self.result
        lines = [f"undid the last `venvsel use` in {r.root}:"]
        lines += [f"  {x}" for x in r.restored] or ["  (it had changed no file)"]
        if r.remaining:
            lines.append(f"{r.remaining} earlier `venvsel use` can still be undone "
                         "(run `venvsel use --undo` again).")
        return _line("\n".join(lines))


class StatusOutput(ResultOf):
    """``status``: exit 1 when the recorded env is gone, broken or untrusted."""

    COMMAND = "status"
    __slots__ = ("short",)
    result: Status

    def __init__(self, result: Status, short: bool = False) -> None:
        super().__init__(result)
        self.short = short

    @property
    def exit_code(self) -> int:
        return 0 if self.result.ok else 1

    def text(self) -> str:
        if self.short:
            word = self.result.short()
            return _line(word) if word else ""
        return _line(status_text(self.result))


def status_text(st: Status) -> str:
    wanted = needs_text(st.needs, st.python)
    if st.root is None:
        lines = [f"project  none ({st.detail})"]
    elif st.settings_file is None:  # no venvsel settings: the env its tools name
        lines = [f"project  {st.root}",
                 f"env      {st.env or '(none)'}",
                 f"state    {st.state}: {st.detail}"]
    else:
        lines = [f"project  {st.root}  ({os.path.basename(st.settings_file or '')})",
                 f"needs    {wanted or '(none)'}",
                 f"env      {st.env or '(none recorded)'}",
                 f"state    {st.state}: {st.detail}"]
        if st.chosen_at is not None:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(st.chosen_at))
            lines[-1] += f" (chosen {when})"
    if st.active:
        mark = "  (the project's env)" if st.active_is_env else (
            "  (not the project's env)" if st.root is not None and st.env else "")
        lines.append(f"active   {st.active}{mark}")
    lines.append(st.message)
    return "\n".join(lines)


# --------------------------------------------------------------------------- shells / run


class ShellCodeOutput(Result):
    """activate / deactivate / shell-hook: the code, as bytes, exactly as the shell reads
    it; deactivate with nothing active says so on stderr."""

    __slots__ = ("code", "name", "payload")

    def __init__(self, code: ShellCode, name: str, payload: dict[str, Any]) -> None:
        self.code = code
        self.name = name  # the command
        self.payload = payload

    @property
    def command(self) -> str:
        return self.name

    def data(self) -> Any:
        return self.payload

    def text(self) -> bytes:
        from .shells import encode  # shell code only: a warm pick prints through this module

        return encode(self.code.code, self.code.shell)

    def text_err(self) -> str:
        if self.name == "deactivate" and self.code.nothing_active:
            return _line("venvsel: no environment is active")  # --json: "active": false
        return ""

    @classmethod
    def activation(cls, code: ShellCode) -> ShellCodeOutput:
        return cls(code, "activate", {"shell": code.shell, "env": code.env,
                                      "prompt": code.prompt, "code": code.code})

    @classmethod
    def deactivation(cls, code: ShellCode) -> ShellCodeOutput:
        return cls(code, "deactivate", {"shell": code.shell, "active": not code.nothing_active,
                                        "code": code.code})

    @classmethod
    def hook(cls, code: ShellCode) -> ShellCodeOutput:
        return cls(code, "shell-hook", {"shell": code.shell, "code": code.code})


class RunOutput(ResultOf):
    """``run``: CMD already ran with the terminal's streams; --json adds the envelope after
    it. The exit status is CMD's."""

    COMMAND = "run"
    __slots__ = ()
    result: RunResult

    @property
    def exit_code(self) -> int:
        return self.result.exit_code


class ExitOutput(Result):
    """A command that printed its own output (the hidden ``auto`` the shell hook runs):
    only its exit code."""

    __slots__ = ("code", "name")

    def __init__(self, name: str, code: int) -> None:
        self.name = name
        self.code = code

    @property
    def command(self) -> str:
        return self.name

    @property
    def exit_code(self) -> int:
        return self.code

    def data(self) -> Any:
        return None


# --------------------------------------------------------------------------- trust


class TrustListOutput(Result):
    COMMAND = "trust"
    __slots__ = ("records",)

    def __init__(self, records: tuple[TrustRecord, ...]) -> None:
        self.records = records

    def data(self) -> Any:
        return {"trusted": list(self.records)}

    def text(self) -> str:
        if not self.records:
            return _line("No env is trusted explicitly (`venvsel trust PATH` adds one).")
        words = {"holds": "holds", "lapsed": "LAPSED: ownership or modes changed since",
                 "gone": "gone: no longer an env"}
        return "".join(_line(f"{r.path}  owner {r.owner}  {words[r.state]}")
                       for r in self.records)


class TrustOutput(Result):
    COMMAND = "trust"
    __slots__ = ("records",)

    def __init__(self, records: tuple[TrustRecord, ...]) -> None:
        self.records = records

    def data(self) -> Any:
        return {"trusted": list(self.records)}

    def text(self) -> str:
        out = []
        for r in self.records:
            why = f"it fails the rule: {r.rule}" if r.rule else "it passes the rule anyway"
            out.append(_line(f"trusted {r.path} (owner {r.owner}; {why}). The trust lapses "
                             "when the owner or mode of its checked files changes."))
        return "".join(out)


class UntrustOutput(Result):
    COMMAND = "untrust"
    __slots__ = ("removed",)

    def __init__(self, removed: dict[str, bool]) -> None:
        self.removed = removed

    def data(self) -> Any:
        return {"removed": self.removed}

    def text(self) -> str:
        return "".join(_line(f"untrusted {p}" if was
                             else f"{p} was not trusted explicitly; nothing to do")
                       for p, was in self.removed.items())


# --------------------------------------------------------------------------- repair / fleet


class RepairOutput(Result):
    """``repair``: the diagnosis and plan were said while it ran; this is the outcome. A dry
    run whose plan cannot run as it stands exits 1 and says why."""

    COMMAND = "repair"
    __slots__ = ("env_arg", "report")

    def __init__(self, report: RepairReport, env_arg: str | None = None) -> None:
        self.report = report
        self.env_arg = env_arg

    @property
    def exit_code(self) -> int:
        return 1 if self.report.dry_run and self.report.cannot_run else 0

    def data(self) -> Any:
        return self.report.to_data()

    def notes(self) -> str:
        if not self.exit_code:
            return ""
        return _line("venvsel: this plan cannot run as it stands: "
                     + "; ".join(self.report.cannot_run) + ". Fix that (or give another "
                     "--index-url or --find-links) and run the dry run again.")

    def text(self) -> str:
        out = self.report.outcome
        if out is None or self.exit_code:
            return ""
        plan = self.report.plan
        lines = [f"Repaired {plan.label if plan else self.env_arg}: {out.reason}."]
        lines += [f"  {change}" for change in out.changes]
        lines += [f"  Note: {note}" for note in out.notes]
        if out.backup_path:
            lines.append(f"Backup of the original env kept at {out.backup_path} "
                         "(delete it when satisfied, or use --discard-backup next time).")
        lines.append(f"Transcript: {out.log_path}")
        return "".join(_line(x) for x in lines)


class FleetOutput(ResultOf):
    __slots__ = ()
    result: FleetReport

    @property
    def command(self) -> str:
        return f"fleet {self.result.command}"

    @property
    def exit_code(self) -> int:
        return self.result.exit_code

    def text(self) -> str:
        return _captured(lambda out: fleet_text(self.result, out))


def _gpus_cell(r: NodeReport) -> str:
    if not r.ok:
        return "-"
    if not r.gpus:
        return "none"
    names: dict[str, int] = {}
    for g in r.gpus:
        names[g.name] = names.get(g.name, 0) + 1
    return ", ".join(f"{n}x {name}" for name, n in names.items())


def _why_not(e: FleetEnv) -> list[str]:
    """One line per distinct reason, with the nodes it holds for."""
    from .fleet import hostlist  # see fleet_text

    groups: dict[str, list[str]] = {}
    for on in e.nodes:
        if on.cuda != "yes":
            groups.setdefault(("FAILS: " if on.failed else "") + on.reason, []).append(on.node)
    if e.missing_on:
        groups.setdefault("not found on this node", []).extend(e.missing_on)
    return [f"{hostlist(where)}: {why}" for why, where in groups.items()]


def fleet_text(report: FleetReport, out: TextIO | None = None) -> None:
    # fleet.py (srun, base64, uuid, ...) only here: a warm pick/activate imports this module.
    from .fleet import hostlist

    out = out or sys.stdout
    ok = sum(1 for r in report.nodes if r.ok)
    out.write(f"venvsel fleet {report.command}: {ok} of {len(report.nodes)} nodes answered "
              f"({report.duration_s:.1f} s, job {report.job_name})\n\n")
    if report.error:
        out.write(f"{report.error}\n")
    if report.nodes:
        rows = [[r.node, r.host or "-", r.driver or ("-" if not r.ok else "none"),
                 r.cuda or "-", _gpus_cell(r),
                 f"ok, {r.envs} envs" if r.ok else f"FAILED: {r.reason}"]
                for r in report.nodes]
        table(["NODE", "HOST", "DRIVER", "CUDA", "GPUS", "STATUS"], rows, out)
    if report.envs:
        out.write("\n")
        rows = []
        for e in sorted(report.envs, key=lambda x: (x.torch is None, x.label)):
            why = _why_not(e) or ["-"]
            rows.append([e.label, e.torch or "no torch",
                         hostlist(e.cuda_on) if e.cuda_on else "-", why[0]])
            rows += [["", "", "", more] for more in why[1:]]
        table(["ENV", "TORCH", "CUDA ON", "WHY NOT ON THE OTHERS"], rows, out)
    if report.problems:
        out.write("\nProblems:\n")
        for i, p in enumerate(report.problems, 1):
            out.write(f"  {i}. {p}\n")
