"""repair/backend.py: the backend choice against machine facts, the exact PyTorch family pins,
and version listings from a real local index with the real pip (no network)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.envs import WHEEL_PYTHON
from venvsel.errors import UsageError
from venvsel.model import Gpu, Machine
from venvsel.repair.backend import (
    Backend,
    Source,
    VersionListing,
    choose_backend,
    companion_series,
    cuda_architectures,
    family_pins,
    is_follower,
    list_versions,
    parse_index_versions,
    public,
    strict_env,
)

LOCAL_INDEX = "file:///opt/pypi-more/simple"  # this machine's local index with torch 2.14.1
WHEELS = "/opt/wheels"  # torch 2.13.0+cpu lies here


def _machine(driver: str | None = None, *caps: str) -> Machine:
    gpus = tuple(Gpu(i, f"GPU{i}", c) for i, c in enumerate(caps))
    return Machine(os="Linux", driver_version=driver, gpus=gpus)


def _backend(name: str = "cu130", cuda: str | None = "13.0") -> Backend:
    return Backend(name, cuda, "test", Source(index_url="https://example.invalid/" + name))


# --------------------------------------------------------------------------- choice


def test_auto_without_driver_refuses_and_suggests_backend() -> None:
    with pytest.raises(UsageError) as exc:
        choose_backend(_machine(None), "auto")
    assert exc.value.exit_code == 2
    assert "No NVIDIA driver" in str(exc.value)
    assert "--backend" in str(exc.value)


def test_auto_picks_newest_index_the_driver_runs() -> None:
    b = choose_backend(_machine("580.159.04", "9.0"), "auto")
    assert (b.name, b.cuda) == ("cu130", "13.0")
    assert b.source == Source(index_url="https://download.pytorch.org/whl/cu130")
    assert not b.explicit
    b = choose_backend(_machine("535.104.05", "8.6"), "auto")
    assert b.cuda is not None and b.cuda.startswith("12.")


def test_auto_walks_back_for_an_old_gpu() -> None:
    # compute capability 6.1 (Pascal) is not in the 12.8+ builds
    b = choose_backend(_machine("580.1", "6.1"), "auto")
    assert b.name in ("cu126", "cu124", "cu121")


def test_explicit_backend_without_driver_is_honoured_with_a_warning() -> None:
    b = choose_backend(_machine(None), "cu130")
    assert b.explicit and b.cuda == "13.0"
    assert b.warning and "No NVIDIA driver" in b.warning


def test_cpu_backend_is_valid_anywhere() -> None:
    b = choose_backend(_machine(None), "cpu")
    assert b.cuda is None and not b.is_cuda
    assert b.source.index_url == "https://download.pytorch.org/whl/cpu"


def test_unknown_backend_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="cu999"):
        choose_backend(_machine(None), "cu999")


def test_index_url_and_find_links_replace_the_pytorch_index(tmp_path: Path) -> None:
    b = choose_backend(_machine(None), "cu130", index_url=LOCAL_INDEX)
    assert b.source == Source(index_url=LOCAL_INDEX)
    assert "instead of the PyTorch index" in b.reason
    b = choose_backend(_machine(None), "cpu", find_links=str(tmp_path))
    assert b.source == Source(find_links=str(tmp_path))
    with pytest.raises(UsageError, match="not a directory"):
        choose_backend(_machine(None), "cpu", find_links=str(tmp_path / "nope"))


def test_source_arguments() -> None:
    assert Source(index_url="U").strict_args() == ("--index-url", "U")
    assert Source(find_links="D").strict_args() == ("--no-index", "--find-links", "D")
    assert Source("U", "D").strict_args() == ("--index-url", "U", "--find-links", "D")
    # dependencies: the chosen index is added to the user's own, never replaces it
    assert Source(index_url="U").extra_args() == ("--extra-index-url", "U")
    assert Source(find_links="D").extra_args() == ("--find-links", "D")


def test_strict_env_drops_every_other_source() -> None:
    base = {"PIP_FIND_LINKS": "/w", "PIP_EXTRA_INDEX_URL": "x", "PIP_CACHE_DIR": "/c", "HOME": "/h"}
    sets, unset = strict_env("pip", base)
    assert sets == (("PIP_CONFIG_FILE", os.devnull),)
    assert set(unset) == {"PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL"}  # the cache dir stays
    sets, unset = strict_env("uv", {"UV_INDEX_URL": "x", "UV_CACHE_DIR": "/c"})
    assert sets == () and unset == ("UV_INDEX_URL",)


def test_followers() -> None:
    for name in ("nvidia-cublas-cu12", "nvidia-cudnn-cu13", "triton", "cuda-toolkit",
                 "pytorch-triton-rocm"):
        assert is_follower(name), name
    for name in ("numpy", "torch", "six", "nvml", "cuda-python-helpers"):
        assert not is_follower(name), name


def test_cuda_architectures() -> None:
    assert cuda_architectures(_machine("580", "9.0")) == "90"
    assert cuda_architectures(_machine("580", "9.0", "12.0", "9.0")) == "120;90"
    assert cuda_architectures(_machine(None)) is None


# --------------------------------------------------------------------------- versions


def test_parse_index_versions() -> None:
    out = "torch (2.14.1)\nAvailable versions: 2.14.1, 2.13.0+cu130, 2.9.0\n"
    assert parse_index_versions(out) == ["2.14.1", "2.13.0+cu130", "2.9.0"]
    assert parse_index_versions("nothing") is None


def test_public() -> None:
    assert public("2.13.0+cpu") == "2.13.0"
    assert public("2.14.1") == "2.14.1"


def test_companion_series() -> None:
    assert companion_series("torchvision", "2.14.1") == "0.29.*"
    assert companion_series("torchvision", "2.5.1+cu121") == "0.20.*"
    assert companion_series("torchaudio", "2.14.1") == "2.14.*"
    assert companion_series("torchvision", "1.13.1") == "0.14.*"
    assert companion_series("torchaudio", "1.13.1") == "0.13.*"
    assert companion_series("torchvision", "garbage") is None


def test_pins_keep_the_users_version_when_the_index_has_it() -> None:
    listing = VersionListing(("2.14.1+cu130", "2.13.0+cu130", "2.13.0", "2.12.0+cu130"), "x")
    pins = family_pins({"torch": "2.13.0+cpu", "torchvision": "0.28.0+cpu"}, listing, _backend())
    # the build for the chosen backend wins over a plain one of the same version
    assert pins.requirements == ("torch==2.13.0+cu130", "torchvision==0.28.0")
    assert pins.kept and "Keeps your torch version 2.13.0" in pins.note


def test_pins_say_which_version_and_why_when_the_index_lacks_it() -> None:
    listing = VersionListing(("2.14.1", "2.15.0rc1"), "x")
    have = {"torch": "2.13.0+cpu", "torchvision": "0.28.0", "torchaudio": "2.13.0"}
    pins = family_pins(have, listing, _backend())
    assert pins.requirements == ("torch==2.14.1", "torchvision==0.29.*", "torchaudio==2.14.*")
    assert not pins.kept
    assert "2.13.0" in pins.note and "not offered" in pins.note and "2.14.1" in pins.note


def test_pins_when_the_source_cannot_be_listed() -> None:
    pins = family_pins({"torch": "2.13.0+cpu"}, VersionListing(None, "connection refused"),
                       _backend())
    assert pins.requirements == ("torch==2.13.0",)
    assert "Could not list" in pins.note and "connection refused" in pins.note
    pins = family_pins({}, VersionListing(None, "offline"), _backend())
    assert pins.requirements == ("torch",)


def test_pins_for_an_env_without_torch() -> None:
    pins = family_pins({}, VersionListing(("2.13.0+cpu",), "x"), _backend("cpu", None))
    assert pins.requirements == ("torch==2.13.0+cpu",)
    assert "was not installed" in pins.note


def test_a_source_without_torch_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="offers no torch"):
        family_pins({"torch": "2.13.0"}, VersionListing((), "x"), _backend())


# --------------------------------------------------------------------------- real listings


def test_list_versions_from_the_local_index_with_real_pip() -> None:
    listing = list_versions([(WHEEL_PYTHON, None)], Source(index_url=LOCAL_INDEX))
    assert listing.versions is not None and "2.14.1" in listing.versions


def test_list_versions_sees_only_the_chosen_source() -> None:
    # /opt/wheels is in this machine's pip configuration; a strict listing must not see it
    listing = list_versions([(WHEEL_PYTHON, None)], Source(index_url=LOCAL_INDEX))
    assert listing.versions is not None and "2.13.0+cpu" not in listing.versions
    listing = list_versions([(WHEEL_PYTHON, None)], Source(find_links=WHEELS))
    assert listing.versions == ("2.13.0+cpu",)


def test_list_versions_for_another_python_version() -> None:
    # asked for 3.12, the cp311-only local wheels are not candidates: an empty answer
    listing = list_versions([(sys.executable, "3.12")], Source(find_links=WHEELS))
    assert listing.versions == ()


def test_list_versions_unreachable_index_is_unknown_not_empty() -> None:
    listing = list_versions([(sys.executable, None)],
                            Source(index_url="http://127.0.0.1:9/simple"))
    assert listing.versions is None


def test_list_versions_moves_on_from_an_interpreter_without_pip(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-python")
    listing = list_versions([(missing, None), (WHEEL_PYTHON, None)], Source(find_links=WHEELS))
    assert listing.versions == ("2.13.0+cpu",)


def test_pins_warn_when_the_source_has_another_backends_build() -> None:
    pins = family_pins({"torch": "2.13.0+cpu"}, VersionListing(("2.13.0+cpu",), "x"), _backend())
    assert pins.requirements == ("torch==2.13.0+cpu",)
    assert pins.warning is not None and "a cpu build" in pins.warning
    ok = family_pins({}, VersionListing(("2.14.1+cu130",), "x"), _backend())
    assert ok.warning is None
    assert family_pins({}, VersionListing(("2.14.1",), "x"), _backend()).warning is None
