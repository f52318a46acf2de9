"""repair/plan.py: the user's packages read from real dist-info trees, the split into
"reinstall as is" and "skipped, and why", shell-exact step commands, and whole plans made
for real envs (in-place, pip-less, rebuild of a broken env, llama with CUDA)."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import envs
from tests.envs import WHEEL_PYTHON
from venvsel.contents import inspect_env
from venvsel.discover import env_from_path
from venvsel.errors import UsageError
from venvsel.model import Gpu, LlamaInfo, Machine
from venvsel.repair.backend import Backend, Source, choose_backend
from venvsel.repair.diagnose import diagnose
from venvsel.repair.plan import (
    BACKUP_TAG,
    RepairRequest,
    Step,
    backup_path_for,
    installed_distributions,
    make_plan,
    split_packages,
)

WHEELS = "/opt/wheels"
NO_GPU = Machine(os="Linux")


def dist(site: Path, name: str, version: str, direct_url: dict[str, Any] | None = None) -> None:
    d = site / f"{name.replace('-', '_')}-{version}.dist-info"
    d.mkdir(parents=True)
    (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n"
                                "Version: 9.9 (in the body, not a header)\n")
    if direct_url is not None:
        (d / "direct_url.json").write_text(json.dumps(direct_url))


def site_of(env: Path) -> Path:
    return next(env.glob("lib/python*/site-packages"))


# --------------------------------------------------------------------------- packages


def test_split_packages_from_real_dist_info(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    wheel = tmp_path / "mine-1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")
    dist(site, "six", "1.17.0")
    dist(site, "Requests", "2.32.3")
    dist(site, "torch", "2.13.0+cpu")
    dist(site, "torchvision", "0.28.0+cpu")
    dist(site, "nvidia-cublas-cu12", "12.1.3.1")
    dist(site, "triton", "3.6.0")
    dist(site, "llama-cpp-python", "0.3.36")
    dist(site, "pip", "24.0")
    dist(site, "myproj", "0.1", {"url": "file:///src/myproj", "dir_info": {"editable": True}})
    dist(site, "fromgit", "1.0", {"url": "https://git.example/x.git",
                                  "vcs_info": {"vcs": "git", "commit_id": "abc"}})
    dist(site, "mine", "1.0", {"url": wheel.as_uri(), "archive_info": {}})
    dist(site, "gone", "1.0", {"url": (tmp_path / "gone.whl").as_uri(), "archive_info": {}})
    (site / "legacy-2.0.egg-info").mkdir()
    (site / "legacy-2.0.egg-info" / "PKG-INFO").write_text("Name: legacy\nVersion: 2.0\n")

    found = installed_distributions((str(site),))
    assert {d.name: d.version for d in found}["requests"] == "2.32.3"
    keep, skipped = split_packages(found)
    assert keep == [f"mine @ {wheel.as_uri()}", "requests==2.32.3", "six==1.17.0"]
    why = dict(skipped)
    assert why["torch 2.13.0+cpu"] == "installed from the chosen backend"
    assert why["torchvision 0.28.0+cpu"] == "installed from the chosen backend"
    assert "follows the new torch build" in why["nvidia-cublas-cu12 12.1.3.1"]
    assert "follows the new torch build" in why["triton 3.6.0"]
    assert why["myproj 0.1"].startswith("editable install of file:///src/myproj")
    assert "version control" in why["fromgit 1.0"]
    assert "cannot be fetched again" in why["gone 1.0"]
    assert "egg" in why["legacy 2.0"]
    names = " ".join(keep) + " ".join(why)
    assert "llama" not in names and "pip" not in names  # their own step / the new env's own


def test_backup_path_is_a_fresh_sibling(tmp_path: Path) -> None:
    env = tmp_path / ".venv"
    first = backup_path_for(str(env), "20260101-000000")
    assert first == str(tmp_path / f".venv{BACKUP_TAG}20260101-000000")
    os.mkdir(first)
    second = backup_path_for(str(env), "20260101-000000")
    assert second != first and os.path.dirname(second) == str(tmp_path)


@pytest.mark.parametrize("path", ["/tmp/a b/.venv", "/tmp/x';uname -a;'/.venv", "/tmp/$(id)/`x`"])
def test_step_command_is_exact_shell(path: str) -> None:
    argv = (f"{path}/bin/python", "-m", "pip", "install", "torch==2.14.1")
    step = Step("install-torch", "t", argv, env=(("PIP_CONFIG_FILE", "/dev/null"),),
                unset=("PIP_FIND_LINKS",))
    assert shlex.split(step.command()) == ["env", "-u", "PIP_FIND_LINKS",
                                           "PIP_CONFIG_FILE=/dev/null", *argv]
    step = Step("build-llama", "t", argv, env=(("CMAKE_ARGS", "-DGGML_CUDA=on -DX=1"),))
    assert shlex.split(step.command()) == ["CMAKE_ARGS=-DGGML_CUDA=on -DX=1", *argv]
    assert Step("move", "m", action="mv a b").command() == "mv a b"


# --------------------------------------------------------------------------- whole plans


def _plan(env_dir: Path, backend: Backend, machine: Machine = NO_GPU, **req: Any) -> Any:
    env = env_from_path(str(env_dir))
    static = inspect_env(env)
    d = diagnose(env, static, None, machine, backend)
    return make_plan(RepairRequest(env=str(env_dir), **req), d, backend), d


def test_in_place_plan_for_an_env_without_torch(bare_env: Path) -> None:
    backend = choose_backend(NO_GPU, "cpu", find_links=WHEELS)
    plan, d = _plan(bare_env, backend)
    assert [f.code for f in d.findings] == ["torch-missing"]
    assert plan.mode == "in-place"
    assert [s.key for s in plan.steps] == ["snapshot", "install-torch", "install-torch-deps",
                                           "check", "verify"]
    py = str(bare_env / "bin" / "python")
    torch_step = plan.steps[1]
    assert torch_step.argv == (py, "-m", "pip", "install", "--disable-pip-version-check",
                               "--no-input", "--progress-bar", "off", "--force-reinstall",
                               "--no-deps", "--no-index", "--find-links", WHEELS,
                               "torch==2.13.0+cpu")
    assert dict(torch_step.env) == {"PIP_CONFIG_FILE": os.devnull}
    assert "PIP_FIND_LINKS" in torch_step.unset  # set on this machine; must not leak in
    assert plan.steps[2].argv[-3:] == ("--find-links", WHEELS, "torch==2.13.0+cpu")
    assert plan.expect.torch_cuda is None and not plan.expect.kernel
    assert plan.backup_path.startswith(str(bare_env) + BACKUP_TAG)
    text = plan.render()
    assert "1. Snapshot the env" in text and "5. Verify" in text
    assert shlex.join(torch_step.argv) in text
    assert not os.path.exists(plan.backup_path) and not os.path.exists(plan.run_dir)


def test_pipless_env_gets_ensurepip_first(make_env: Any) -> None:
    env = make_env("nopip", creator="venv", python=WHEEL_PYTHON)
    plan, _ = _plan(env, choose_backend(NO_GPU, "cpu", find_links=WHEELS), installer="pip")
    assert [s.key for s in plan.steps][:2] == ["snapshot", "ensurepip"]
    assert plan.steps[1].argv == (str(env / "bin" / "python"), "-m", "ensurepip", "--default-pip")


def test_uv_installer_needs_uv_on_path(bare_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UsageError, match="uv is not on PATH"):
        _plan(bare_env, choose_backend(NO_GPU, "cpu", find_links=WHEELS), installer="uv")


def test_rebuild_plan_for_a_broken_env(tmp_path: Path) -> None:
    base_link = tmp_path / "basepy"
    os.symlink(Path(WHEEL_PYTHON).resolve().parent.parent, base_link)
    exe = base_link / "bin" / Path(WHEEL_PYTHON).resolve().name
    env_dir = envs.make_manual_env(exe, tmp_path / "proj" / ".venv")
    site = site_of(env_dir)
    dist(site, "six", "1.17.0")
    dist(site, "torch", "2.13.0+cpu")
    dist(site, "nvidia-cudnn-cu12", "9.1.0.70")
    dist(site, "setuptools", "80.0.0")
    (next(site.glob("setuptools-*.dist-info")) / "RECORD").write_text(
        "distutils-precedence.pth,sha256=x,151\nsetuptools/__init__.py,,\n")
    (site / "distutils-precedence.pth").write_text("import os\n")  # setuptools' own
    (site / "mine.pth").write_text("/opt/shared/libs\n")  # the user's
    base_link.unlink()  # the base interpreter is gone

    backend = choose_backend(NO_GPU, "cpu", find_links=WHEELS)
    with pytest.raises(UsageError, match="--python"):
        _plan(env_dir, backend)
    plan, d = _plan(env_dir, backend, python=WHEEL_PYTHON)
    assert d.rebuild_needed and plan.mode == "rebuild"
    assert plan.reason.startswith("the env is broken: interpreter gone")
    assert [s.key for s in plan.steps] == ["move", "create", "install-others", "copy-pth",
                                           "install-torch", "install-torch-deps", "check",
                                           "verify"]
    real = os.path.realpath(env_dir)
    assert plan.steps[0].command() == shlex.join(["mv", real, plan.backup_path])
    assert plan.steps[1].argv == (sys.executable, "-m", "virtualenv", "--no-periodic-update",
                                  "-p", WHEEL_PYTHON, real)
    assert plan.packages == ("setuptools==80.0.0", "six==1.17.0")
    req_path, text = plan.files[0]
    assert plan.steps[2].argv[-3:] == ("--no-deps", "-r", req_path)
    assert text == "setuptools==80.0.0\nsix==1.17.0\n"
    rel_site = os.path.relpath(site, env_dir)
    assert plan.copies == ((os.path.join(plan.backup_path, rel_site, "mine.pth"),
                            os.path.join(real, rel_site, "mine.pth")),)
    assert plan.torch.requirements == ("torch==2.13.0+cpu",)  # the user's version, kept
    assert "--force-reinstall" not in plan.steps[4].argv  # a fresh env
    skipped = dict(plan.skipped)
    assert "nvidia-cudnn-cu12 9.1.0.70" in skipped and "torch 2.13.0+cpu" in skipped
    assert plan.expect.packages == (("setuptools", "80.0.0"), ("six", "1.17.0"))


def test_rebuild_refuses_conda_envs(tmp_path: Path) -> None:
    env_dir = tmp_path / "condaenv"
    (env_dir / "conda-meta").mkdir(parents=True)
    (env_dir / "bin").mkdir()
    os.symlink(sys.executable, env_dir / "bin" / "python")
    with pytest.raises(UsageError, match="conda"):
        _plan(env_dir, choose_backend(NO_GPU, "cpu", find_links=WHEELS), rebuild=True)


def test_llama_is_rebuilt_with_cuda_for_this_machines_gpus(bare_env: Path) -> None:
    h200 = Machine(os="Linux", driver_version="580.159.04", gpus=(Gpu(0, "NVIDIA H200", "9.0"),))
    backend = Backend("cu130", "13.0", "r", Source(find_links=WHEELS), explicit=True)
    env = env_from_path(str(bare_env))
    static = inspect_env(env)
    from dataclasses import replace

    static = replace(static, llama=LlamaInfo("0.3.36"))
    d = diagnose(env, static, None, h200, backend)
    assert "llama-cpu" in [f.code for f in d.findings]
    plan = make_plan(RepairRequest(env=str(bare_env)), d, backend)
    step = next(s for s in plan.steps if s.key == "build-llama")
    assert step.argv[-4:] == ("--force-reinstall", "--no-cache-dir", "--no-deps",
                              "llama-cpp-python==0.3.36")
    env_vars = dict(step.env)
    assert env_vars["CMAKE_ARGS"] == "-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=90"
    assert plan.expect.llama == "gpu" and plan.expect.kernel
    # no GPU here: offload cannot be confirmed live, so the CUDA backend library must be there
    d_cpu = diagnose(env, static, None, NO_GPU, backend)
    plan = make_plan(RepairRequest(env=str(bare_env)), d_cpu, backend)
    step = next(s for s in plan.steps if s.key == "build-llama")
    assert dict(step.env)["CMAKE_ARGS"] == "-DGGML_CUDA=on"
    assert plan.expect.llama == "cuda-build" and not plan.expect.kernel
    # --no-llama: left alone, and said so
    plan = make_plan(RepairRequest(env=str(bare_env), with_llama=False), d, backend)
    assert "build-llama" not in [s.key for s in plan.steps]
    assert any("--no-llama" in n for n in plan.notes)


def test_nothing_to_do_is_a_plan_without_steps(bare_env: Path) -> None:
    env = env_from_path(str(bare_env))
    static = inspect_env(env)
    backend = choose_backend(NO_GPU, "cpu", find_links=WHEELS)
    d = diagnose(env, static, None, NO_GPU, backend)
    from dataclasses import replace

    d = replace(d, findings=())
    plan = make_plan(RepairRequest(env=str(bare_env)), d, backend)
    assert plan.mode == "none" and plan.steps == ()
    assert plan.render().startswith("Nothing to repair")


def test_python_option_means_a_rebuild(bare_env: Path) -> None:
    plan, _ = _plan(bare_env, choose_backend(NO_GPU, "cpu", find_links=WHEELS),
                    python=WHEEL_PYTHON)
    assert plan.mode == "rebuild" and plan.reason.startswith("a fresh env from --python")
    assert plan.base_python == WHEEL_PYTHON


def test_working_cuda_torch_is_left_alone_and_only_llama_is_rebuilt(bare_env: Path,
                                                                   tmp_path: Path) -> None:
    """The seed's .venv on the H200: the machine's CUDA torch works (the live probe ran a
    kernel), llama-cpp-python is a CPU build. Only llama is rebuilt: for sm_90, from the
    sdist in the offline --find-links folder, never from a CPU wheel."""
    from dataclasses import replace

    from venvsel.model import ProbeResult, TorchInfo

    h200 = Machine(os="Linux", driver_version="580.159.04", cuda_driver="13.0",
                   gpus=(Gpu(0, "NVIDIA H200", "9.0"),))
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    backend = choose_backend(h200, "auto", find_links=str(wheels))
    assert backend.name == "cu130" and not backend.explicit
    env = env_from_path(str(bare_env))
    static = replace(inspect_env(env), torch=TorchInfo("2.11.0+cu130", cuda="13.0"),
                     llama=LlamaInfo("0.3.36"))
    probe = ProbeResult(status="ok", torch_version="2.11.0+cu130", torch_cuda="13.0",
                        cuda_available=True, kernel_ok=True, llama_version="0.3.36",
                        llama_gpu_offload=False)
    d = diagnose(env, static, probe, h200, backend)
    assert [f.code for f in d.findings] == ["llama-cpu"]
    plan = make_plan(RepairRequest(env=str(bare_env), find_links=str(wheels)), d, backend)
    assert plan.mode == "in-place" and plan.reason == "rebuild llama-cpp-python"
    keys = [s.key for s in plan.steps]
    assert "install-torch" not in keys and "install-torch-deps" not in keys
    assert keys[0] == "snapshot" and keys[-3:] == ["build-llama", "check", "verify"]
    assert plan.torch is None and "torch is left as it is." in plan.notes
    step = next(s for s in plan.steps if s.key == "build-llama")
    assert step.argv[-8:] == ("--no-binary", "llama-cpp-python", "--find-links", str(wheels),
                              "--force-reinstall", "--no-cache-dir", "--no-deps",
                              "llama-cpp-python==0.3.36")
    assert dict(step.env)["CMAKE_ARGS"] == "-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=90"
    assert plan.expect.llama == "gpu"
    assert plan.expect.torch_kept == "2.11.0+cu130" and plan.expect.kernel_kept
    text = plan.render()
    assert "--no-binary llama-cpp-python --find-links" in text
    assert ("Success means: torch 2.11.0+cu130 is still there and still runs a CUDA kernel; "
            "llama_supports_gpu_offload() is True.") in text
