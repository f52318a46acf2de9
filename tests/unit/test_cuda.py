"""The CUDA tables and the wheel-index choice (venvsel/cuda.py): pure functions, many cases."""

from __future__ import annotations

import pytest

from venvsel import cuda
from venvsel.cuda import (
    INDEXES,
    TORCH_ARCHS,
    arch_supported,
    choose_index,
    cuda_from_int,
    driver_supports,
    index_url,
    major_minor,
    max_cuda_for_driver,
    parse_version,
    version_ge,
)
from venvsel.errors import UsageError
from venvsel.model import Gpu, Machine

# --------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("580.159.04", (580, 159, 4)),
        ("13.0", (13, 0)),
        ("12.1", (12, 1)),
        ("12.1.105", (12, 1, 105)),
        ("v12.4", (12, 4)),
        ("2.13.0+cpu", (2, 13, 0)),
        ("580", (580,)),
        (" 535.104.05\n", (535, 104, 5)),
    ],
)
def test_parse_version(text: str, parts: tuple[int, ...]) -> None:
    assert parse_version(text) == parts


@pytest.mark.parametrize("text", ["", "abc", "N/A", "[Not Supported]", "cu121"])
def test_parse_version_refuses_non_versions(text: str) -> None:
    with pytest.raises(ValueError):
        parse_version(text)


def test_version_ge_pads_missing_parts() -> None:
    assert version_ge("580.0", "580")
    assert version_ge("580", "580.0.0")
    assert not version_ge("579.99", "580")
    assert version_ge("525.60.13", "525.60.13")
    assert not version_ge("525.60.12", "525.60.13")
    assert version_ge("525.60.100", "525.60.13")  # numeric, not string, comparison


def test_cuda_from_int_and_major_minor() -> None:
    assert cuda_from_int(13000) == "13.0"
    assert cuda_from_int(12020) == "12.2"
    assert cuda_from_int(11080) == "11.8"
    assert major_minor("12.1.105") == "12.1"
    assert major_minor("13") == "13.0"


# --------------------------------------------------------------------------- driver table


@pytest.mark.parametrize(
    ("cuda_version", "driver", "os_name", "ok"),
    [
        # 13.x: >= 580 on both systems
        ("13.0", "580", "Linux", True),
        ("13.0", "580.0", "Linux", True),
        ("13.0", "580.159.04", "Linux", True),
        ("13.0", "579.99", "Linux", False),
        ("13.0", "575.57.08", "Linux", False),
        ("13.0", "580.88", "Windows", True),
        ("13.0", "576.02", "Windows", False),
        ("13.1", "580.0", "Linux", True),  # minor-version compatibility within the family
        # 12.x: >= 525.60.13 Linux, >= 528.33 Windows
        ("12.1", "525.60.13", "Linux", True),
        ("12.1", "525.60.12", "Linux", False),
        ("12.9", "525.60.13", "Linux", True),
        ("12.8", "535.104.05", "Linux", True),
        ("12.4", "520.61.05", "Linux", False),
        ("12.1", "528.33", "Windows", True),
        ("12.1", "528.32", "Windows", False),
        ("12.1", "527.41", "Windows", False),
        ("12.1", "527.41", "Linux", True),  # the same number is enough on Linux
        ("12.6", "580.159.04", "Linux", True),  # newer drivers run older CUDA
        # 11.x: >= 450.80.02 Linux, >= 452.39 Windows
        ("11.8", "450.80.02", "Linux", True),
        ("11.8", "450.80.01", "Linux", False),
        ("11.8", "452.39", "Windows", True),
        ("11.8", "452.38", "Windows", False),
        ("11.8", "580.159.04", "Linux", True),
        # no row: CUDA 10 had no minor-version compatibility, 14 is unknown
        ("10.2", "580.159.04", "Linux", False),
        ("14.0", "700.1", "Linux", False),
    ],
)
def test_driver_supports(cuda_version: str, driver: str, os_name: str, ok: bool) -> None:
    assert driver_supports(cuda_version, driver, os_name) is ok


@pytest.mark.parametrize(
    ("driver", "os_name", "expected"),
    [
        ("580.159.04", "Linux", "13.0"),
        ("580", "Linux", "13.0"),
        ("579.99", "Linux", "12.9"),
        ("535.104.05", "Linux", "12.9"),
        ("525.60.13", "Linux", "12.9"),
        ("525.60.12", "Linux", "11.8"),
        ("450.80.02", "Linux", "11.8"),
        ("450.80.01", "Linux", None),
        ("418.39", "Linux", None),
        ("528.33", "Windows", "12.9"),
        ("528.24", "Windows", "11.8"),
        ("452.39", "Windows", "11.8"),
        ("452.06", "Windows", None),
    ],
)
def test_max_cuda_for_driver(driver: str, os_name: str, expected: str | None) -> None:
    assert max_cuda_for_driver(driver, os_name) == expected


def test_indexes_cover_the_named_backends_and_match_the_table() -> None:
    names = [i.name for i in INDEXES]
    assert names == ["cpu", "cu118", "cu121", "cu124", "cu126", "cu128", "cu129", "cu130"]
    by_name = {i.name: i for i in INDEXES}
    assert by_name["cpu"].cuda is None
    assert by_name["cu130"].cuda == "13.0"
    cu130 = by_name["cu130"]
    assert (cu130.min_driver_linux, cu130.min_driver_windows) == ("580", "580")
    for name in ("cu121", "cu124", "cu126", "cu128", "cu129"):
        assert (by_name[name].min_driver_linux, by_name[name].min_driver_windows) == (
            "525.60.13", "528.33")
    assert (by_name["cu118"].min_driver_linux, by_name["cu118"].min_driver_windows) == (
        "450.80.02", "452.39")
    assert index_url("cu130") == "https://download.pytorch.org/whl/cu130"
    assert by_name["cpu"].url == "https://download.pytorch.org/whl/cpu"
    # every CUDA index has an architecture row, so auto can check every one
    assert all(i.cuda in TORCH_ARCHS for i in INDEXES if i.cuda)


# --------------------------------------------------------------------------- architectures


@pytest.mark.parametrize(
    ("torch_cuda", "capability", "ok"),
    [
        ("13.0", "9.0", True),  # H200 on the image's cu130
        ("13.0", "7.5", True),
        ("13.0", "7.0", False),  # CUDA 13 dropped Volta
        ("13.0", "6.1", False),
        ("13.0", "12.0", True),
        ("13.0", "12.1", True),  # sm_120 code runs on 12.1 (same major, higher minor)
        ("13.0", "10.3", True),
        ("12.8", "6.1", False),  # uv #14742: Pascal with a cu128 wheel
        ("12.8", "7.0", True),
        ("12.8", "7.5", True),  # 7.0 SASS runs on 7.5
        ("12.8", "8.9", True),  # 8.6 SASS runs on 8.9 (Ada)
        ("12.8", "11.0", False),  # Thor is not in the 12.8 list
        ("12.6", "6.1", True),  # 6.0 covers Pascal 6.1
        ("12.6", "5.2", True),
        ("12.6", "12.0", False),  # Blackwell consumer GPUs need 12.8+
        ("12.6", "10.0", False),
        ("12.1", "9.0", True),
        ("11.8", "3.7", True),
        ("11.8", "3.5", False),
        ("12.1.105", "8.0", True),  # a full CUDA version is read as its major.minor
    ],
)
def test_arch_supported(torch_cuda: str, capability: str, ok: bool) -> None:
    assert arch_supported(torch_cuda, capability) is ok


def test_arch_supported_is_none_for_builds_the_table_does_not_know() -> None:
    assert arch_supported("12.2", "9.0") is None
    assert arch_supported("10.2", "7.0") is None


def test_anchor_arch_lists_are_the_tables() -> None:
    assert TORCH_ARCHS["12.6"] == ("5.0", "6.0", "7.0", "8.0", "8.6", "9.0")
    assert TORCH_ARCHS["12.8"] == ("7.0", "8.0", "8.6", "9.0", "10.0", "12.0")
    assert TORCH_ARCHS["13.0"] == ("7.5", "8.0", "8.6", "9.0", "10.0", "11.0", "12.0")


# --------------------------------------------------------------------------- choose_index


def _machine(driver: str | None, *caps: str, os_name: str = "Linux") -> Machine:
    gpus = tuple(Gpu(i, f"GPU{i}-{c}", c, 16000) for i, c in enumerate(caps))
    sources = (("gpus", "nvidia-smi --query-gpu"),) if driver else ()
    return Machine(os=os_name, driver_version=driver, gpus=gpus, sources=sources)


@pytest.mark.parametrize(
    ("driver", "caps", "os_name", "expected"),
    [
        ("580.159.04", ("9.0",), "Linux", "cu130"),  # the lent H200
        ("580.159.04", ("6.1",), "Linux", "cu126"),  # Pascal: walk back past 13.0/12.9/12.8
        ("580.159.04", ("7.0",), "Linux", "cu129"),  # Volta: 13.0 dropped it
        ("580.159.04", ("12.0",), "Linux", "cu130"),
        ("575.57.08", ("12.0",), "Linux", "cu129"),  # below 580: newest 12.x
        ("535.104.05", ("8.0",), "Linux", "cu129"),
        ("535.104.05", ("6.1",), "Linux", "cu126"),
        ("525.60.13", ("8.6",), "Linux", "cu129"),
        ("525.60.12", ("8.6",), "Linux", "cu118"),
        ("470.82.01", ("3.7",), "Linux", "cu118"),  # Kepler K80: only cu118 still carries 3.7
        ("528.33", ("8.9",), "Windows", "cu129"),
        ("528.24", ("8.9",), "Windows", "cu118"),
        ("580.159.04", ("9.0", "8.0"), "Linux", "cu130"),
        ("580.159.04", ("9.0", "6.1"), "Linux", "cu126"),  # mixed: the index that covers both
    ],
)
def test_choose_index_auto(driver: str, caps: tuple[str, ...], os_name: str, expected: str) -> None:
    choice = choose_index(_machine(driver, *caps, os_name=os_name))
    assert choice.index.name == expected
    assert choice.warning is None
    assert choice.reason.startswith(expected + ":")
    assert driver in choice.reason


def test_choose_index_explains_the_walk_back() -> None:
    choice = choose_index(_machine("580.159.04", "6.1"))
    assert "skipped cu130, cu129, cu128 (no code for compute capability 6.1)" in choice.reason
    assert "5.0 6.0 7.0 8.0 8.6 9.0" in choice.reason


def test_choose_index_without_gpu_list_uses_the_driver_alone() -> None:
    machine = Machine(os="Linux", driver_version="580.159.04")  # e.g. only /proc was readable
    choice = choose_index(machine)
    assert choice.index.name == "cu130"
    assert "architectures were not checked" in choice.reason


def test_choose_index_wsl_uses_the_windows_column() -> None:
    # 527.41 meets the Linux 12.x minimum but not the Windows one; under WSL the Windows
    # host's driver answers.
    linux = choose_index(_machine("527.41", "8.6"))
    wsl = choose_index(Machine(
        os="Linux", driver_version="527.41", gpus=(Gpu(0, "RTX 3090", "8.6"),),
        sources=(("gpus", "x"), ("driver_os", "Windows (WSL: the Windows host's driver answers)")),
    ))
    assert linux.index.name == "cu129"
    assert wsl.index.name == "cu118"


def test_choose_index_auto_without_driver_refuses() -> None:
    with pytest.raises(UsageError) as err:
        choose_index(_machine(None))
    msg = str(err.value)
    assert "No NVIDIA driver found" in msg
    assert "--backend cpu" in msg and "--backend cuXXX" in msg
    assert err.value.exit_code == 2


def test_choose_index_auto_with_a_driver_too_old_for_every_index() -> None:
    with pytest.raises(UsageError, match=r"418\.39 is older than any PyTorch CUDA index"):
        choose_index(_machine("418.39", "7.0"))


def test_choose_index_auto_gpu_no_build_carries() -> None:
    with pytest.raises(UsageError, match=r"compute capability 3\.5"):
        choose_index(_machine("580.159.04", "3.5"))


def test_choose_index_auto_mixed_gpus_no_single_index_covers() -> None:
    # Pascal (only <= 12.6) next to Blackwell (only >= 12.8): no one index has both.
    with pytest.raises(UsageError, match="No single PyTorch CUDA index covers every GPU"):
        choose_index(_machine("580.159.04", "6.1", "12.0"))


def test_choose_index_future_gpu_gets_the_newest_with_a_warning() -> None:
    choice = choose_index(_machine("590.10", "14.0"))
    assert choice.index.name == "cu130"
    assert choice.warning is not None and "newer than every PyTorch build" in choice.warning


@pytest.mark.parametrize("name", ["cpu", "CPU", " cpu "])
def test_choose_index_explicit_cpu(name: str) -> None:
    for machine in (_machine(None), _machine("580.159.04", "9.0")):
        choice = choose_index(machine, wanted=name)
        assert choice.index.name == "cpu" and choice.index.cuda is None
        assert choice.warning is None


def test_choose_index_explicit_cuda_without_driver_is_honoured_with_a_warning() -> None:
    choice = choose_index(_machine(None), wanted="cu128")
    assert choice.index.name == "cu128"
    assert choice.url == "https://download.pytorch.org/whl/cu128"
    assert choice.warning is not None and "No NVIDIA driver" in choice.warning


def test_choose_index_explicit_too_new_for_the_driver_warns() -> None:
    choice = choose_index(_machine("535.104.05", "8.0"), wanted="cu130")
    assert choice.index.name == "cu130"
    assert choice.warning is not None
    assert "535.104.05 is too old for CUDA 13.0" in choice.warning
    assert ">= 580" in choice.warning and "12.9" in choice.warning


def test_choose_index_explicit_without_the_gpu_arch_warns() -> None:
    choice = choose_index(_machine("580.159.04", "6.1"), wanted="cu128")
    assert choice.warning is not None and "no kernel image" in choice.warning


def test_choose_index_explicit_fine() -> None:
    choice = choose_index(_machine("580.159.04", "9.0"), wanted="cu121")
    assert choice.index.name == "cu121" and choice.warning is None


def test_choose_index_unknown_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown backend 'cu999'"):
        choose_index(_machine("580.159.04", "9.0"), wanted="cu999")


def test_module_keeps_the_tables_in_one_place() -> None:
    # a reader finds the driver table in cuda.py: one row per CUDA major
    assert set(cuda.DRIVER_FAMILIES) == {11, 12, 13}
