"""repair/diagnose.py: findings in words from static facts and probe results, judged against
the backend the repair aims for."""

from __future__ import annotations

from venvsel.model import Env, Gpu, LlamaInfo, Machine, ProbeResult, StaticInfo, TorchInfo
from venvsel.repair.backend import Backend, Source
from venvsel.repair.diagnose import diagnose

ENV = Env(path="/p/.venv", kind="virtualenv", source="project", interpreter="/p/.venv/bin/python",
          shown_path=".venv")
NO_GPU = Machine(os="Linux")
H200 = Machine(os="Linux", driver_version="580.159.04", cuda_driver="13.0",
               gpus=(Gpu(0, "NVIDIA H200", "9.0"),))
OLD_DRIVER = Machine(os="Linux", driver_version="535.104.05", cuda_driver="12.2",
                     gpus=(Gpu(0, "NVIDIA A100", "8.0"),))
PASCAL = Machine(os="Linux", driver_version="580.1", gpus=(Gpu(0, "GTX 1080", "6.1"),))
CU130 = Backend("cu130", "13.0", "r", Source("u"), explicit=True)
CU126 = Backend("cu126", "12.6", "r", Source("u"))
CPU = Backend("cpu", None, "r", Source("u"), explicit=True)


def _static(torch: TorchInfo | None = None, llama: LlamaInfo | None = None) -> StaticInfo:
    return StaticInfo(python_version="3.11.7", torch=torch, llama=llama)


def _probe(**kw: object) -> ProbeResult:
    return ProbeResult(status="ok", **kw)  # type: ignore[arg-type]


def codes(d: object) -> list[str]:
    return [f.code for f in d.findings]  # type: ignore[attr-defined]


def test_cpu_only_torch_build() -> None:
    d = diagnose(ENV, _static(TorchInfo("2.13.0+cpu")),
                 _probe(torch_version="2.13.0+cpu", cuda_available=False), NO_GPU, CU130)
    assert codes(d) == ["torch-cpu"]
    assert "CPU-only torch build" in d.findings[0].text
    assert d.torch_needed and not d.rebuild_needed and not d.llama_needed


def test_cpu_build_is_fine_for_the_cpu_backend() -> None:
    d = diagnose(ENV, _static(TorchInfo("2.13.0+cpu")), _probe(torch_version="2.13.0+cpu"),
                 NO_GPU, CPU)
    assert codes(d) == []
    assert "nothing wrong found" in d.render()


def test_cuda_build_with_the_cpu_backend_is_a_wrong_build() -> None:
    d = diagnose(ENV, _static(TorchInfo("2.14.1", cuda="13.0")),
                 _probe(torch_version="2.14.1", torch_cuda="13.0"), NO_GPU, CPU)
    assert codes(d) == ["wrong-build"]


def test_cuda_13_build_but_driver_supports_12() -> None:
    d = diagnose(ENV, _static(TorchInfo("2.14.1+cu130", cuda="13.0")),
                 _probe(torch_version="2.14.1+cu130", torch_cuda="13.0", cuda_available=False),
                 OLD_DRIVER, CU126)
    assert "driver-too-old" in codes(d)
    text = next(f.text for f in d.findings if f.code == "driver-too-old")
    assert "CUDA 13.0 build but driver 535.104.05 supports CUDA 12.x" in text


def test_gpu_architecture_missing_from_the_build() -> None:
    d = diagnose(ENV, _static(TorchInfo("2.14.1+cu130", cuda="13.0")),
                 _probe(torch_version="2.14.1+cu130", torch_cuda="13.0", cuda_available=True,
                        kernel_ok=False, kernel_error="no kernel image is available"),
                 PASCAL, None)
    assert codes(d) == ["arch-missing"]
    assert "6.1" in d.findings[0].text and "no kernel image" in d.findings[0].text


def test_kernel_failure_on_a_gpu_machine() -> None:
    d = diagnose(ENV, _static(TorchInfo("2.11.0+cu130", cuda="13.0")),
                 _probe(torch_version="2.11.0+cu130", torch_cuda="13.0", cuda_available=True,
                        kernel_ok=False, kernel_error="CUDA error: out of memory"), H200, None)
    assert codes(d) == ["kernel-failed"]


def test_a_working_cuda_env_has_nothing_to_fix() -> None:
    d = diagnose(ENV, _static(TorchInfo("2.11.0+cu130", cuda="13.0")),
                 _probe(torch_version="2.11.0+cu130", torch_cuda="13.0", cuda_available=True,
                        kernel_ok=True), H200, CU130)
    assert codes(d) == []


def test_explicit_backend_with_another_cuda() -> None:
    d = diagnose(ENV, _static(TorchInfo("2.5.1+cu121", cuda="12.1")),
                 _probe(torch_version="2.5.1+cu121", torch_cuda="12.1"), NO_GPU, CU130)
    assert codes(d) == ["wrong-cuda"]


def test_torch_missing_and_import_error() -> None:
    d = diagnose(ENV, _static(), _probe(), NO_GPU, CU130)
    assert codes(d) == ["torch-missing"] and "torch missing" in d.findings[0].text
    d = diagnose(ENV, _static(TorchInfo("2.13.0")),
                 _probe(torch_error="ImportError: libtorch_cpu.so: cannot open"), NO_GPU, CU130)
    assert codes(d) == ["torch-import"]


def test_llama_cpu_only_build() -> None:
    d = diagnose(ENV, _static(TorchInfo("2.13.0+cpu"), LlamaInfo("0.3.36")),
                 _probe(torch_version="2.13.0+cpu", llama_version="0.3.36",
                        llama_gpu_offload=False), NO_GPU, CU130)
    assert codes(d) == ["torch-cpu", "llama-cpu"]
    assert "llama-cpp-python 0.3.36 is a CPU-only build" in d.findings[1].text
    assert d.llama_needed
    # --backend cpu: a CPU llama is what was asked for
    d = diagnose(ENV, _static(TorchInfo("2.13.0+cpu"), LlamaInfo("0.3.36")),
                 _probe(torch_version="2.13.0+cpu"), NO_GPU, CPU)
    assert codes(d) == []


def test_llama_cuda_build_is_fine() -> None:
    d = diagnose(ENV, _static(TorchInfo("2.14.1", cuda="13.0"), LlamaInfo("0.3.36", ("cuda",))),
                 _probe(torch_version="2.14.1", torch_cuda="13.0", llama_version="0.3.36",
                        llama_gpu_offload=True), NO_GPU, CU130)
    assert "llama-cpu" not in codes(d)


def test_interpreter_gone_needs_a_rebuild_and_is_judged_from_files() -> None:
    broken = Env(path="/p/.venv", kind="venv", source="project",
                 interpreter="/p/.venv/bin/python",
                 broken="bin/python points to /opt/py/bin/python3.11, which no longer exists")
    d = diagnose(broken, _static(TorchInfo("2.13.0+cpu")), None, NO_GPU, CU130)
    assert codes(d) == ["env-broken", "torch-cpu"]
    assert d.findings[0].text.startswith("interpreter gone: bin/python points to")
    assert d.rebuild_needed


def test_python_that_crashes_needs_a_rebuild() -> None:
    d = diagnose(ENV, _static(TorchInfo("2.13.0+cpu")),
                 ProbeResult(status="crashed", detail="killed by SIGSEGV"), NO_GPU, CU130)
    assert codes(d)[0] == "python-fails" and d.rebuild_needed
    assert "SIGSEGV" in d.findings[0].text


def test_hidden_gpus_are_reported() -> None:
    m = Machine(os="Linux", driver_version="580.1", gpus=(Gpu(0, "H200", "9.0"),),
                cuda_visible_devices="")
    d = diagnose(ENV, _static(TorchInfo("2.11.0", cuda="13.0")),
                 _probe(torch_version="2.11.0", torch_cuda="13.0", cuda_available=False), m, None)
    assert "gpus-hidden" in codes(d)
