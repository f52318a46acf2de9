"""Reasons at scale: grouping and the machine's own causes (venvsel/reasons.py)."""

from __future__ import annotations

from venvsel.model import Gpu, Machine, Need
from venvsel.reasons import LIMIT, Reason, format_reasons, machine_causes

NO_TORCH = "no torch installed"


def _no_torch(label: str) -> Reason:
    fix = f"install torch into {label}, or venvsel repair {label}"
    return Reason(label, "torch", NO_TORCH, fix)


def test_few_envs_one_line_each_as_before() -> None:
    reasons = [_no_torch("a"),
               Reason("b", "torch", "torch does not import: boom", "venvsel repair b")]
    assert format_reasons(reasons) == [
        "  a: torch: no torch installed  → fix: install torch into a, or venvsel repair a",
        "  b: torch: torch does not import: boom  → fix: venvsel repair b",
    ]


def test_many_envs_sharing_a_reason_are_one_line() -> None:
    reasons = [_no_torch(f"p{i}/.venv") for i in range(1, 999)]
    broken = "broken env: bin/python points to /gone"
    reasons += [Reason("old", "torch", broken, "venvsel repair old"),
                Reason("x", "torch", "torch does not import: boom", "venvsel repair x")]
    lines = format_reasons(reasons)
    assert len(lines) <= LIMIT
    assert lines[0] == ("  998 envs: torch: no torch installed  → fix: install torch into ENV, "
                        "or venvsel repair ENV")
    assert lines[1] == "      p1/.venv, p2/.venv, p3/.venv and 995 more"
    assert f"  old: torch: {broken}  → fix: venvsel repair old" in lines
    assert lines[-1] == "  (--verbose lists every env)"
    every = format_reasons(reasons, all_envs=True)
    assert len(every) == 1000 and every[0].startswith("  p1/.venv: torch: ")


def test_more_distinct_reasons_than_lines_are_counted() -> None:
    reasons = [Reason(f"e{i}", "torch", f"reason {i}") for i in range(60)]
    lines = format_reasons(reasons)
    assert len(lines) <= LIMIT
    shown = sum(1 for line in lines if line.startswith("  e"))
    assert lines[-2] == f"  … and {60 - shown} more envs ({60 - shown} other reasons)"


def test_no_driver_is_said_once_first_and_no_env_repair_is_suggested() -> None:
    machine = Machine(os="Linux")  # no driver
    causes = machine_causes(machine, [Need("cuda")])
    assert causes and causes[0].startswith("no NVIDIA driver on this machine")
    reasons = [Reason("~/.pyenv/versions/2.7.18", "cuda", NO_TORCH,
                      "install torch into ~/.pyenv/versions/2.7.18, or venvsel repair "
                      "~/.pyenv/versions/2.7.18")]
    lines = format_reasons(reasons, causes=causes)
    assert lines[0].startswith("  No NVIDIA driver on this machine")
    assert not any("venvsel repair" in line for line in lines)
    assert machine_causes(machine, [Need("torch")]) == []  # torch alone needs no driver


def test_cuda_visible_devices_hiding_every_gpu() -> None:
    machine = Machine(os="Linux", driver_version="580.95.05", cuda_driver="13.0",
                      gpus=(Gpu(0, "NVIDIA H200", "9.0"),), cuda_visible_devices="")
    causes = machine_causes(machine, [Need("llama-gpu")])
    assert causes == ["CUDA_VISIBLE_DEVICES='' hides every GPU from every env; unset it "
                      "(`unset CUDA_VISIBLE_DEVICES`) to use them"]
    shown = Machine(os="Linux", driver_version="580.95.05", gpus=machine.gpus,
                    cuda_visible_devices="0")
    assert machine_causes(shown, [Need("cuda")]) == []
