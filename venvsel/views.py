"""Plain-text views of scan, pick and doctor results (JSON goes through render.emit_json)."""

from __future__ import annotations

import sys
from typing import TextIO

from .doctor import DoctorReport
from .model import EnvRecord, Machine, ProbeResult
from .render import table
from .scan import ScanResult


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
