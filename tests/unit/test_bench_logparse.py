"""Placement and verdicts from llama.cpp load logs (real captured logs and H200-shaped ones)."""

from __future__ import annotations

from pathlib import Path

import pytest

from venvsel.bench import logparse

LOGS = Path(__file__).resolve().parent.parent / "fixtures" / "llama_logs"


def load(name: str) -> logparse.LoadLog:
    return logparse.parse((LOGS / name).read_text(encoding="utf-8"))


def test_captured_cpu_log() -> None:
    log = load("cpu_0.3.36_tiny_q4_0.log")
    assert log.n_layer == 4
    assert log.layers == tuple((i, "CPU") for i in range(5))  # 4 repeating + the output layer
    assert log.offloaded is None  # a CPU-only build never prints "offloaded X/Y"
    assert dict(log.buffers) == {"CPU_Mapped": 2.26, "CPU_REPACK": 2.25}  # KV/compute not counted
    assert log.gpu_buffer_mib == 0
    assert log.cuda_error is None and log.cuda_devices is None
    assert log.last_phase == "done"
    assert log.file_type == "Q4_0"
    pl = logparse.placement(log, 4)
    assert (pl.n_layer, pl.gpu_layers, pl.cpu_layers) == (4, 0, 4)
    assert pl.devices == (("CPU", 4),)
    assert pl.output_device == "CPU"
    assert pl.summary() == "CPU 4/4"
    assert "per-layer" in pl.evidence
    j = logparse.judge(
        pl, log, gpu_asked=False, n_gpu_layers=0, gpu_offload=False, cvd=None, env=".venv"
    )
    assert j.verdict == "CPU" and j.reason is None


def test_cpu_only_build_asked_for_gpu_is_fallback_with_reason_and_fix() -> None:
    log = load("cpu_build_gpu_asked_0.3.36_tiny_q4_0.log")
    pl = logparse.placement(log)
    assert pl.summary() == "CPU 4/4"
    j = logparse.judge(
        pl, log, gpu_asked=True, n_gpu_layers=-1, gpu_offload=False, cvd=None, env=".venv"
    )
    assert j.verdict == "FALLBACK"
    assert j.reason is not None and j.reason.startswith("CPU-only build (no GPU backend)")
    assert j.fix is not None and "venvsel repair .venv" in j.fix and "--need llama-gpu" in j.fix


def test_h200_cuda_run_is_gpu() -> None:
    log = load("h200_cuda_3b_q4_0.log")
    assert log.cuda_devices == 1
    assert log.devices_used == ("CUDA0 (NVIDIA H200)",)
    assert log.offloaded == (37, 37)
    assert log.gpu_buffer_mib == pytest.approx(1803.88)  # "CUDA0 model buffer size" as captured
    pl = logparse.placement(log, 36)
    assert pl.devices == (("CUDA0", 36),)
    assert pl.output_device == "CUDA0"
    assert pl.summary() == "CUDA0 36/36"
    j = logparse.judge(
        pl, log, gpu_asked=True, n_gpu_layers=-1, gpu_offload=True, cvd=None, env=".venv310"
    )
    assert j.verdict == "GPU"


@pytest.mark.parametrize(
    "cvd, fix_word",
    [("", "unset CUDA_VISIBLE_DEVICES"), ("7", "names a GPU that exists"), (None, "driver")],
)
def test_h200_hidden_gpu_is_fallback_despite_offloaded_line(cvd: str | None, fix_word: str) -> None:
    log = load("h200_cuda_hidden_3b_q4_0.log")
    # The line that fooled the seed: it prints the requested count.
    assert log.offloaded == (37, 37)
    assert log.cuda_error == "no CUDA-capable device is detected"
    pl = logparse.placement(log)
    assert pl.summary() == "CPU 36/36"
    j = logparse.judge(
        pl, log, gpu_asked=True, n_gpu_layers=-1, gpu_offload=True, cvd=cvd, env=".venv310"
    )
    assert j.verdict == "FALLBACK"
    assert j.reason is not None
    assert j.reason.startswith(
        "no GPU device visible (ggml_cuda_init: failed to initialize CUDA: "
        "no CUDA-capable device is detected"
    )
    assert f"CUDA_VISIBLE_DEVICES={'unset' if cvd is None else repr(cvd)}" in j.reason
    assert j.fix is not None and fix_word in j.fix


def test_old_prefix_per_layer_lines() -> None:
    log = load("old_llm_load_tensors_per_layer.log")
    assert log.n_layer == 36
    pl = logparse.placement(log)
    assert pl.summary() == "CUDA0 36/36"
    assert "per-layer" in pl.evidence


def test_old_log_without_per_layer_lines_uses_offloaded_and_buffers() -> None:
    log = load("old_llm_load_tensors_no_layer_lines.log")
    assert log.layers == ()
    assert dict(log.buffers) == {"CPU": 43.95, "CUDA0": 1803.27}  # the KV buffer is not a weight
    pl = logparse.placement(log)
    assert (pl.n_layer, pl.gpu_layers) == (36, 36)
    assert "offloaded 37/37" in pl.evidence and "no per-layer" in pl.evidence
    assert pl.summary() == "CUDA0 36/36"
    j = logparse.judge(
        pl, log, gpu_asked=True, n_gpu_layers=-1, gpu_offload=True, cvd=None, env="e"
    )
    assert j.verdict == "GPU"


def test_offloaded_line_without_gpu_buffer_counts_as_cpu() -> None:
    text = (
        "llm_load_print_meta: n_layer          = 32\n"
        "llm_load_tensors: offloaded 33/33 layers to GPU\n"
        "llm_load_tensors:        CPU buffer size =  3891.24 MiB\n"
    )
    log = logparse.parse(text)
    pl = logparse.placement(log)
    assert (pl.gpu_layers, pl.cpu_layers) == (0, 32)
    j = logparse.judge(
        pl, log, gpu_asked=True, n_gpu_layers=-1, gpu_offload=True, cvd=None, env="e"
    )
    assert j.verdict == "FALLBACK"


def test_partial_split_and_its_verdicts() -> None:
    lines = [
        f"load_tensors: layer {i:3d} assigned to device {'CPU' if i < 20 else 'CUDA0'}, is_swa = 0"
        for i in range(37)
    ]
    lines += [
        "print_info: n_layer               = 36",
        "llama_prepare_model_devices: using device CUDA0 (NVIDIA H200) (0000:00:06.0)",
    ]
    log = logparse.parse("\n".join(lines))
    pl = logparse.placement(log)
    assert pl.devices == (("CUDA0", 16), ("CPU", 20))
    assert pl.summary() == "CUDA0 16/36, CPU 20/36"
    # Asked for 17 layers (16 repeating + output): a split, as asked.
    asked_split = logparse.judge(
        pl, log, gpu_asked=True, n_gpu_layers=17, gpu_offload=True, cvd=None, env="e"
    )
    assert asked_split.verdict == "PARTIAL"
    # Asked for all of them: 20 stayed behind, that is a fallback (not a device problem).
    asked_all = logparse.judge(
        pl, log, gpu_asked=True, n_gpu_layers=-1, gpu_offload=True, cvd=None, env="e"
    )
    assert asked_all.verdict == "FALLBACK"
    assert asked_all.reason is not None and "stayed on the CPU" in asked_all.reason


def test_n_gpu_layers_zero_reason() -> None:
    log = load("cpu_0.3.36_tiny_q4_0.log")
    pl = logparse.placement(log)
    reason, fix = logparse.why_no_gpu(
        log, gpu_offload=True, n_gpu_layers=0, cvd=None, env="e", gpu_layers=pl.gpu_layers or 0
    )
    assert reason.startswith("n_gpu_layers is 0")
    assert "--n-gpu-layers -1" in fix


def test_no_evidence_is_unknown_not_a_guess() -> None:
    log = logparse.parse("llama_context: n_ctx = 2048\n")
    pl = logparse.placement(log)
    assert pl.gpu_layers is None and pl.summary() == "unknown"
    j = logparse.judge(
        pl, log, gpu_asked=True, n_gpu_layers=-1, gpu_offload=True, cvd=None, env="e"
    )
    assert j.verdict == "UNKNOWN"


def test_crash_phase_marker() -> None:
    log = logparse.parse(
        "[venvsel-worker] phase=import\n[venvsel-worker] phase=load\n"
        "llama_model_loader: loaded meta data\n"
    )
    assert log.last_phase == "load"
    assert (
        logparse.parse_phase("[venvsel-worker] phase=import\n[venvsel-worker] phase=rep 2\nx")
        == "rep 2"
    )
    assert logparse.parse_phase("nothing yet") is None


def test_hidden_gpu_on_a_cuda_build_is_not_called_a_cpu_only_build() -> None:
    """Regression from the H200 run: with CUDA_VISIBLE_DEVICES="" a CUDA build's
    llama_supports_gpu_offload() is False too; its files (a CUDA backend library) and the
    captured ggml_cuda_init line say the real reason."""
    log = load("h200_cuda_hidden_import.log")
    assert log.cuda_error == "no CUDA-capable device is detected"
    reason, fix = logparse.why_no_gpu(
        log, gpu_offload=False, n_gpu_layers=-1, cvd="", env=".venv310", has_backend=True
    )
    assert reason.startswith("no GPU device visible (ggml_cuda_init: failed to initialize CUDA")
    assert "CUDA_VISIBLE_DEVICES=''" in reason
    assert "unset CUDA_VISIBLE_DEVICES" in fix
    cpu_reason, _ = logparse.why_no_gpu(
        log, gpu_offload=False, n_gpu_layers=-1, cvd="", env=".venv", has_backend=False
    )
    assert cpu_reason.startswith("CPU-only build")
