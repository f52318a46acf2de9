"""Predictions with reasons (venvsel/predict.py): every reason, from StaticInfo values as the
inspector reads them off real envs (torch/version.py, llama_cpp/lib) and Machine values as
read_machine builds them."""

from __future__ import annotations

import pytest

from venvsel.machine import read_machine
from venvsel.model import Gpu, LlamaInfo, Machine, StaticInfo, TorchInfo, Verdict
from venvsel.predict import predict

# torch/version.py of the seed's envs and of common wheels, as inspect reads them
CPU_TORCH = TorchInfo("2.13.0+cpu")
CU121 = TorchInfo("2.5.1+cu121", cuda="12.1", has_cuda_lib=True)
CU128 = TorchInfo("2.8.0+cu128", cuda="12.8", has_cuda_lib=True)
CU130 = TorchInfo("2.14.1", cuda="13.0", has_cuda_lib=True)  # a PyPI wheel: no +cu tag
CU122 = TorchInfo("2.3.0", cuda="12.2", has_cuda_lib=True)  # a build the arch table lacks
CUDA_NO_VERSION = TorchInfo("2.4.0", has_cuda_lib=True)
ROCM = TorchInfo("2.5.1+rocm6.2", hip="6.2.41133")

LLAMA_CPU = LlamaInfo("0.3.36", (), "/x/llama_cpp/lib")
LLAMA_CUDA = LlamaInfo("0.3.36", ("cuda",), "/x/llama_cpp/lib")

H200 = Gpu(0, "NVIDIA H200", "9.0", 143771, "GPU-7a1c3e52")
PASCAL = Gpu(1, "NVIDIA GeForce GTX 1080 Ti", "6.1", 11264, "GPU-0c9d8e7f")

NO_DRIVER = Machine(os="Linux", notes=(
    "No NVIDIA driver found: /proc/driver/nvidia/version and nvidia-smi are absent.",))


def gpu_machine(
    driver: str = "580.159.04", cuda: str | None = "13.0", gpus: tuple[Gpu, ...] = (H200,),
    *, os_name: str = "Linux", cvd: str | None = None, listed: bool = True,
    derived: bool = False, extra: tuple[tuple[str, str], ...] = (),
) -> Machine:
    sources: list[tuple[str, str]] = [("driver_version", "NVML (nvidia-ml-py)")]
    if cuda:
        sources.append(("cuda_driver", f"derived from driver {driver} (minor-version table)"
                        if derived else "NVML nvmlSystemGetCudaDriverVersion"))
    if listed:
        sources.append(("gpus", "NVML (nvidia-ml-py)"))
    return Machine(os=os_name, driver_version=driver, cuda_driver=cuda, gpus=gpus,
                   sources=(*sources, *extra), cuda_visible_devices=cvd)


def torch_verdict(torch: TorchInfo | None, machine: Machine, label: str = ".venv") -> Verdict:
    static = StaticInfo(python_version="3.11.7", torch=torch)
    return predict(static, machine, env_label=label).torch_cuda


def llama_verdict(llama: LlamaInfo | None, machine: Machine, label: str = ".venv") -> Verdict:
    static = StaticInfo(python_version="3.11.7", llama=llama)
    return predict(static, machine, env_label=label).llama_gpu


# --------------------------------------------------------------------------- torch


def test_no_torch() -> None:
    v = torch_verdict(None, gpu_machine())
    assert (v.outlook, v.reason, v.fix) == ("no", "no torch", "venvsel repair .venv")
    # without a driver no install changes the answer here: no fix is offered
    assert torch_verdict(None, NO_DRIVER).fix is None


def test_cpu_only_build() -> None:
    v = torch_verdict(CPU_TORCH, gpu_machine(), label="proj/.venv")
    assert v.outlook == "no"
    assert v.reason == "CPU-only torch build (2.13.0+cpu)"
    assert v.fix == "venvsel repair proj/.venv"
    assert torch_verdict(CPU_TORCH, NO_DRIVER).fix is None


def test_older_cuda_build_on_newer_driver_should_work() -> None:
    v = torch_verdict(CU121, gpu_machine())
    assert v.outlook == "yes"
    assert v.reason == "CUDA 12.1 build; driver 580.159.04 supports up to 13.0: should work"
    assert v.fix is None


def test_same_cuda_as_driver() -> None:
    v = torch_verdict(CU130, gpu_machine())
    assert (v.outlook, v.reason) == (
        "yes", "CUDA 13.0 build; driver 580.159.04 supports up to 13.0: should work")


def test_cuda_13_build_on_a_12x_driver_will_fail() -> None:
    v = torch_verdict(CU130, gpu_machine("535.104.05", "12.2", (Gpu(0, "NVIDIA A100", "8.0"),)))
    assert v.outlook == "no"
    assert v.reason == ("CUDA 13.0 build but driver 535.104.05 supports only 12.2: will fail "
                        "(CUDA 13.x needs driver >= 580)")
    assert v.fix == "venvsel repair .venv"


def test_driver_cuda_derived_from_the_table_is_said_as_a_family() -> None:
    # /proc only: the driver's own CUDA version is unknown, the table gives its family
    m = gpu_machine("535.104.05", "12.9", (Gpu(0, "NVIDIA A100", "8.0"),), derived=True)
    v = torch_verdict(CU130, m)
    assert v.reason == ("CUDA 13.0 build but driver 535.104.05 supports only 12.x: will fail "
                        "(CUDA 13.x needs driver >= 580)")
    ok = torch_verdict(CU121, m)
    assert ok.outlook == "yes" and "supports up to 12.x: should work" in ok.reason


def test_minor_version_compatibility_is_explained() -> None:
    v = torch_verdict(CU128, gpu_machine("535.104.05", "12.2", (Gpu(0, "NVIDIA A100", "8.0"),)))
    assert v.outlook == "yes"
    assert v.reason == ("CUDA 12.8 build; driver 535.104.05 supports 12.2 and runs CUDA 12.x "
                        "builds through minor-version compatibility: should work")


def test_gpu_arch_not_in_the_build() -> None:
    v = torch_verdict(CU128, gpu_machine(gpus=(Gpu(0, "NVIDIA GeForce GTX 1080 Ti", "6.1"),)))
    assert v.outlook == "no"
    assert v.reason == ("CUDA 12.8 build: GPU compute capability 6.1 (NVIDIA GeForce GTX 1080 Ti) "
                        "is not in this build's architectures (7.0 8.0 8.6 9.0 10.0 12.0): "
                        "kernels will fail")
    assert v.fix == "venvsel repair .venv"


def test_mixed_gpus_one_covered() -> None:
    v = torch_verdict(CU128, gpu_machine(gpus=(H200, PASCAL)))
    assert v.outlook == "yes"
    assert "should work on GPU 0 NVIDIA H200" in v.reason
    assert "GPU 1 NVIDIA GeForce GTX 1080 Ti (6.1) not in this build's architectures" in v.reason


def test_cvd_choosing_the_uncovered_gpu() -> None:
    v = torch_verdict(CU128, gpu_machine(gpus=(H200, PASCAL), cvd="1"))
    assert v.outlook == "no" and "compute capability 6.1" in v.reason


def test_cuda_build_without_driver() -> None:
    v = torch_verdict(CU130, NO_DRIVER)
    assert (v.outlook, v.reason, v.fix) == (
        "no", "CUDA 13.0 build, but no NVIDIA driver on this machine", None)


def test_cuda_visible_devices_hides_all_gpus() -> None:
    for cvd in ("", "-1", "NoDevFiles"):
        v = torch_verdict(CU121, gpu_machine(cvd=cvd))
        assert v.outlook == "no"
        assert v.reason == f"CUDA 12.1 build, but CUDA_VISIBLE_DEVICES={cvd!r} hides every GPU"
        assert v.fix == "unset CUDA_VISIBLE_DEVICES"
    assert torch_verdict(CU121, gpu_machine(cvd="0")).outlook == "yes"


def test_rocm_build() -> None:
    v = torch_verdict(ROCM, gpu_machine())
    assert v.outlook == "no"
    assert v.reason == ("ROCm torch build (2.5.1+rocm6.2, HIP 6.2.41133), but this machine has no "
                        "AMD GPU driver (/dev/kfd is absent)")
    assert v.fix == "venvsel repair .venv"  # an NVIDIA driver is here: a CUDA build would run
    amd = Machine(os="Linux", sources=(("amd_gpu", "/dev/kfd (ROCm kernel driver)"),))
    v = torch_verdict(ROCM, amd)
    assert v.outlook == "no" and "runs on the AMD GPU, not on NVIDIA CUDA" in v.reason
    assert v.fix is None


def test_cuda_build_with_unknown_version() -> None:
    v = torch_verdict(CUDA_NO_VERSION, gpu_machine())
    assert v.outlook == "unknown"
    assert v.reason.startswith("CUDA build (torch/version.py names no CUDA version); driver "
                               "580.159.04 supports up to 13.0: probably works")


def test_gpus_not_listed() -> None:
    v = torch_verdict(CU121, gpu_machine(gpus=(), listed=False))
    assert v.outlook == "yes"
    assert v.reason.endswith("should work (GPUs not listed, architectures not checked)")


def test_driver_without_gpus() -> None:
    v = torch_verdict(CU121, gpu_machine(gpus=()))
    assert (v.outlook, v.reason) == (
        "no", "CUDA 12.1 build, but driver 580.159.04 lists no NVIDIA GPU")


def test_build_missing_from_the_arch_table() -> None:
    v = torch_verdict(CU122, gpu_machine())
    assert v.outlook == "yes"
    assert "architectures of CUDA 12.2 builds are not in venvsel's table, not checked" in v.reason


@pytest.mark.parametrize(("os_name", "outlook"), [("Linux", "yes"), ("Windows", "no")])
def test_windows_driver_minimums(os_name: str, outlook: str) -> None:
    # 527.41 runs 12.x builds on Linux (>= 525.60.13) but not on Windows (>= 528.33)
    m = gpu_machine("527.41", "12.0", (Gpu(0, "RTX 3090", "8.6"),), os_name=os_name)
    v = torch_verdict(CU121, m)
    assert v.outlook == outlook
    if outlook == "no":
        assert "(CUDA 12.x needs driver >= 528.33)" in v.reason


def test_wsl_reads_the_windows_column() -> None:
    m = gpu_machine("527.41", "12.0", (Gpu(0, "RTX 3090", "8.6"),),
                    extra=(("driver_os", "Windows (WSL: the Windows host's driver answers)"),))
    assert torch_verdict(CU121, m).outlook == "no"


def test_cuda_driver_10_build_rules() -> None:
    old = TorchInfo("1.12.1+cu102", cuda="10.2", has_cuda_lib=True)
    assert torch_verdict(old, gpu_machine()).outlook == "yes"  # newer drivers run older CUDA
    v = torch_verdict(old, gpu_machine("418.39", "10.1", (Gpu(0, "V100", "7.0"),)))
    assert v.outlook == "no" and "supports only 10.1: will fail" in v.reason


def test_with_the_machine_read_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """read_machine's own output feeds predict: the override stands in for a driver."""
    monkeypatch.setenv("VENVSEL_CUDA_DRIVER", "580.159.04")
    m = read_machine()
    v = torch_verdict(CU121, m)
    assert v.outlook == "yes"
    assert v.reason.startswith("CUDA 12.1 build; driver 580.159.04 supports up to 13.x")
    monkeypatch.setenv("VENVSEL_CUDA_DRIVER", "535.104.05")
    v = torch_verdict(CU130, read_machine())
    assert v.outlook == "no" and "supports only 12.x: will fail" in v.reason


def test_the_lent_h200_as_read_there() -> None:
    """The Machine read_machine returned on the H200 and the image's torch 2.11.0+cu130."""
    import json
    from pathlib import Path

    from venvsel.cuda import choose_index

    fix = Path(__file__).resolve().parent.parent / "fixtures" / "machine"
    h200 = Machine.from_json(json.loads((fix / "h200_read_machine_nvml.json").read_text()))
    image_torch = TorchInfo("2.11.0+cu130", cuda="13.0", has_cuda_lib=True)
    v = torch_verdict(image_torch, h200, "/opt/torch/.venv")
    assert (v.outlook, v.reason) == (
        "yes", "CUDA 13.0 build; driver 580.159.04 supports up to 13.0: should work")
    assert torch_verdict(CPU_TORCH, h200, ".venv").fix == "venvsel repair .venv"
    assert choose_index(h200).index.name == "cu130"


# --------------------------------------------------------------------------- llama


def test_no_llama() -> None:
    v = llama_verdict(None, gpu_machine())
    assert v.outlook == "no" and v.reason == "no llama-cpp-python"
    assert v.fix is not None and "-DGGML_CUDA=on" in v.fix and ".venv" in v.fix
    assert llama_verdict(None, NO_DRIVER).fix is None


def test_cpu_only_llama() -> None:
    v = llama_verdict(LLAMA_CPU, gpu_machine())
    assert v.outlook == "no"
    assert v.reason == ("CPU-only llama-cpp-python build 0.3.36 (no GPU backend in llama_cpp/lib)")
    assert v.fix == "venvsel repair .venv"
    # CPU libraries that inspect might list are not GPU backends
    assert llama_verdict(LlamaInfo("0.3.36", ("blas", "cpu")), gpu_machine()).outlook == "no"


def test_cuda_llama_with_driver() -> None:
    v = llama_verdict(LLAMA_CUDA, gpu_machine())
    assert (v.outlook, v.reason) == (
        "yes", "CUDA backend present; driver 580.159.04 (CUDA 13.0) should work")


def test_cuda_llama_without_driver() -> None:
    v = llama_verdict(LLAMA_CUDA, NO_DRIVER)
    assert (v.outlook, v.reason) == ("no", "CUDA backend, but no NVIDIA driver on this machine")


def test_cuda_llama_hidden_gpus() -> None:
    v = llama_verdict(LLAMA_CUDA, gpu_machine(cvd=""))
    assert v.outlook == "no"
    assert v.reason == "CUDA backend, but CUDA_VISIBLE_DEVICES='' hides every GPU"
    assert v.fix == "unset CUDA_VISIBLE_DEVICES"


def test_cuda_llama_no_gpu_listed() -> None:
    v = llama_verdict(LLAMA_CUDA, gpu_machine(gpus=()))
    assert v.outlook == "no" and "lists no NVIDIA GPU" in v.reason


def test_metal_llama() -> None:
    metal = LlamaInfo("0.3.36", ("metal",))
    v = llama_verdict(metal, gpu_machine())
    assert v.outlook == "no"
    assert v.reason == "Metal backend, which runs only on macOS (this is Linux)"
    mac = Machine(os="Darwin", notes=("No NVIDIA driver: macOS has no CUDA support.",))
    assert llama_verdict(metal, mac).outlook == "yes"


def test_rocm_llama() -> None:
    rocm = LlamaInfo("0.3.36", ("rocm",))
    v = llama_verdict(rocm, gpu_machine())
    assert v.outlook == "no" and "no AMD GPU driver" in v.reason
    amd = Machine(os="Linux", sources=(("amd_gpu", "/dev/kfd (ROCm kernel driver)"),))
    assert llama_verdict(rocm, amd).outlook == "yes"


def test_vulkan_llama_is_unknown_statically() -> None:
    v = llama_verdict(LlamaInfo("0.3.36", ("vulkan",)), NO_DRIVER)
    assert v.outlook == "unknown" and v.reason.startswith("Vulkan backend")


def test_several_backends_best_answer_wins() -> None:
    both = LlamaInfo("0.3.36", ("cuda", "vulkan"))
    assert llama_verdict(both, gpu_machine()).reason.startswith("CUDA backend present")
    assert llama_verdict(both, NO_DRIVER).outlook == "unknown"  # Vulkan may still work


def test_prediction_holds_both_and_round_trips_json() -> None:
    from venvsel.model import Prediction, to_json

    p = predict(StaticInfo(torch=CPU_TORCH, llama=LLAMA_CPU), NO_DRIVER, env_label=".venv")
    assert Prediction.from_json(to_json(p)) == p
    assert p.torch_cuda.reason == "CPU-only torch build (2.13.0+cpu)"
    assert p.llama_gpu.reason.startswith("CPU-only llama-cpp-python build")
