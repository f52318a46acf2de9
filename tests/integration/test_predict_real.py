"""Predictions for the seed's real envs: inspect_env reads their files, read_machine this
machine (GPU-less in CI; VENVSEL_CUDA_DRIVER stands in for the drivers it lacks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from venvsel.contents import inspect_env
from venvsel.cuda import choose_index
from venvsel.discover import env_from_path
from venvsel.errors import UsageError
from venvsel.machine import read_machine
from venvsel.model import Prediction
from venvsel.predict import predict

pytestmark = pytest.mark.slow  # the seed project is built once (minutes), then cached


def _predict(seed: Path, name: str) -> Prediction:
    static = inspect_env(env_from_path(str(seed / name)))
    return predict(static, read_machine(), env_label=name)


def test_seed_envs_on_this_machine(seed_project: Path) -> None:
    machine = read_machine()
    venv, gpu, v310 = (_predict(seed_project, n) for n in (".venv", ".venv-gpu", ".venv310"))

    assert venv.torch_cuda.outlook == "no"
    assert venv.torch_cuda.reason == "CPU-only torch build (2.13.0+cpu)"
    assert venv.llama_gpu.outlook == "no"
    assert venv.llama_gpu.reason == (
        "CPU-only llama-cpp-python build 0.3.36 (no GPU backend in llama_cpp/lib)")

    assert (gpu.torch_cuda.outlook, gpu.torch_cuda.reason) == ("no", "no torch")
    assert (gpu.llama_gpu.outlook, gpu.llama_gpu.reason) == ("no", "no llama-cpp-python")

    if machine.has_driver:  # a GPU machine: the CUDA build is judged against its driver
        assert v310.torch_cuda.reason.startswith("CUDA 13.0 build")
        assert f"driver {machine.driver_version}" in v310.torch_cuda.reason
    else:
        assert v310.torch_cuda.outlook == "no"
        assert v310.torch_cuda.reason == "CUDA 13.0 build, but no NVIDIA driver on this machine"
        assert v310.torch_cuda.fix is None  # nothing in the env can fix a missing driver
        assert venv.torch_cuda.fix is None
        with pytest.raises(UsageError, match="No NVIDIA driver found"):
            choose_index(machine)


def test_seed_envs_against_a_580_driver(
    seed_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VENVSEL_CUDA_DRIVER", "580.159.04")
    v310 = _predict(seed_project, ".venv310")
    assert v310.torch_cuda.outlook == "yes"
    assert v310.torch_cuda.reason.startswith(
        "CUDA 13.0 build; driver 580.159.04 supports up to 13.x: should work")
    venv = _predict(seed_project, ".venv")
    assert venv.torch_cuda.fix == "venvsel repair .venv"  # with a driver, repair is the fix
    assert venv.llama_gpu.fix == "venvsel repair .venv"
    assert choose_index(read_machine()).index.name == "cu130"


def test_seed_envs_against_a_535_driver(
    seed_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VENVSEL_CUDA_DRIVER", "535.104.05")
    v310 = _predict(seed_project, ".venv310")
    assert v310.torch_cuda.outlook == "no"
    assert v310.torch_cuda.reason == (
        "CUDA 13.0 build but driver 535.104.05 supports only 12.x: will fail "
        "(CUDA 13.x needs driver >= 580)")
    assert v310.torch_cuda.fix == "venvsel repair .venv310"
    assert choose_index(read_machine()).index.name == "cu129"
