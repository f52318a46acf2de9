"""Machine facts (venvsel/machine.py): parsers on real-format tool outputs, read_machine on this
machine as it is, and read_machine against driver files and an nvidia-smi that print those
formats (a real executable on PATH, spawned through proc.run and parsed for real)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests import envs
from venvsel import machine as mach
from venvsel.errors import UsageError
from venvsel.machine import (
    driver_fingerprint,
    hides_all_gpus,
    parse_nvidia_smi_csv,
    parse_nvidia_smi_header,
    parse_proc_version,
    parse_sys_version,
    read_machine,
    visible_gpus,
)
from venvsel.model import Gpu, Machine

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "machine"
REPO = Path(__file__).resolve().parents[2]


def fixture(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- parsers


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("proc_version_proprietary.txt", "580.159.04"),
        ("proc_version_open.txt", "580.95.05"),
        ("proc_version_open_aarch64.txt", "580.82.09"),
        ("proc_version_470.txt", "470.82.01"),
    ],
)
def test_parse_proc_version(name: str, version: str) -> None:
    assert parse_proc_version(fixture(name)) == version


def test_parse_proc_version_rejects_other_text() -> None:
    assert parse_proc_version(None) is None
    assert parse_proc_version("") is None
    assert parse_proc_version("GCC version:  gcc version 12.3.0\n") is None
    assert parse_proc_version("NVRM version: NVIDIA UNIX Kernel Module\n") is None


def test_parse_sys_version() -> None:
    assert parse_sys_version(fixture("sys_module_nvidia_version.txt")) == "580.159.04"
    assert parse_sys_version("") is None
    assert parse_sys_version(None) is None
    assert parse_sys_version("garbage\n") is None


def test_parse_nvidia_smi_csv_reads_every_line_of_mixed_gpus() -> None:
    gpus, driver = parse_nvidia_smi_csv(fixture("nvidia_smi_query_mixed.csv"))
    assert driver == "580.159.04"
    assert gpus == (
        Gpu(0, "NVIDIA H200", "9.0", 143771, "GPU-7a1c3e52-9d0f-4b6e-8c21-5f4e9b1d2a60"),
        Gpu(1, "NVIDIA GeForce GTX 1080 Ti", "6.1", 11264,
            "GPU-0c9d8e7f-1a2b-4c3d-9e8f-7a6b5c4d3e2f"),
    )


def test_parse_nvidia_smi_csv_unreadable_values_are_none() -> None:
    gpus, driver = parse_nvidia_smi_csv(fixture("nvidia_smi_query_na.csv"))
    assert driver == "535.104.05"
    assert gpus[0].name == "NVIDIA A100-SXM4-40GB"
    assert gpus[0].capability == "8.0"
    assert gpus[0].memory_mib is None


def test_parse_nvidia_smi_csv_without_compute_cap_field() -> None:
    fields = ("index", "name", "driver_version", "memory.total", "uuid")
    gpus, driver = parse_nvidia_smi_csv(fixture("nvidia_smi_query_old.csv"), fields)
    assert driver == "470.82.01"
    assert gpus == (Gpu(0, "Tesla K80", None, 11441, "GPU-1d2c3b4a-5e6f-7a8b-9c0d-1e2f3a4b5c6d"),)


def test_parse_nvidia_smi_csv_units_commas_and_noise() -> None:
    text = ("No devices were found\n"
            "0, NVIDIA RTX A6000, 550.54.15, 8.6, 49140 MiB, GPU-aa\n"
            "1, Weird, Name, Inc, 550.54.15, 8.9, 24564, [N/A]\n")
    gpus, driver = parse_nvidia_smi_csv(text)
    assert driver == "550.54.15"
    assert [g.name for g in gpus] == ["NVIDIA RTX A6000", "Weird, Name, Inc"]
    assert [g.memory_mib for g in gpus] == [49140, 24564]
    assert gpus[1].uuid is None and gpus[1].capability == "8.9"


def test_parse_nvidia_smi_csv_error_outputs_give_nothing() -> None:
    for name in ("nvidia_smi_failed.txt", "nvidia_smi_old_no_compute_cap.txt"):
        assert parse_nvidia_smi_csv(fixture(name)) == ((), None)


def test_parse_nvidia_smi_header() -> None:
    assert parse_nvidia_smi_header(fixture("nvidia_smi_header.txt")) == ("580.159.04", "13.0")
    assert parse_nvidia_smi_header(fixture("nvidia_smi_header_535.txt")) == ("535.104.05", "12.2")
    assert parse_nvidia_smi_header(fixture("nvidia_smi_failed.txt")) == (None, None)


def test_parsers_on_the_real_h200_captures() -> None:
    assert parse_proc_version(fixture("h200_proc_driver_nvidia_version.txt")) == "580.159.04"
    assert parse_sys_version(fixture("h200_sys_module_nvidia_version.txt")) == "580.159.04"
    assert parse_nvidia_smi_header(fixture("h200_nvidia_smi_header.txt")) == ("580.159.04", "13.0")
    gpus, driver = parse_nvidia_smi_csv(fixture("h200_nvidia_smi_query.csv"))
    assert driver == "580.159.04"
    assert gpus == (
        Gpu(0, "NVIDIA H200", "9.0", 143771, "GPU-b671192e-85ee-73fb-980e-2efa2534bb5b"),)


def test_h200_x2_query_lists_both_gpus() -> None:
    """Captured on the lent 2-GPU H200 machine (uv's nvidia-smi reader kept only line one)."""
    gpus, driver = parse_nvidia_smi_csv(fixture("h200x2_nvidia_smi_query.csv"))
    assert driver == "580.159.04"
    assert [(g.index, g.name, g.capability, g.memory_mib) for g in gpus] == [
        (0, "NVIDIA H200", "9.0", 143771), (1, "NVIDIA H200", "9.0", 143771)]
    assert gpus[0].uuid != gpus[1].uuid


def test_h200_readings_agree_whichever_source_answered() -> None:
    """read_machine on the H200 through NVML and through nvidia-smi + libcuda: same facts."""
    nvml = Machine.from_json(json.loads(fixture("h200_read_machine_nvml.json")))
    smi = Machine.from_json(json.loads(fixture("h200_read_machine_smi.json")))
    assert nvml.fingerprint() == smi.fingerprint() == "580.159.04|13.0|NVIDIA H200/9.0|None"
    assert dict(nvml.sources)["gpus"] == "NVML (nvidia-ml-py)"
    assert dict(smi.sources)["cuda_driver"] == "libcuda cuDriverGetVersion"
    assert nvml.notes == smi.notes == ()


# --------------------------------------------------------------------------- CUDA_VISIBLE_DEVICES

TWO = (Gpu(0, "NVIDIA H200", "9.0", uuid="GPU-7a1c3e52-9d0f"),
       Gpu(1, "GTX 1080 Ti", "6.1", uuid="GPU-0c9d8e7f"))


@pytest.mark.parametrize(
    ("cvd", "indexes"),
    [
        (None, (0, 1)),
        ("", ()),
        ("  ", ()),
        ("-1", ()),
        ("NoDevFiles", ()),
        ("0", (0,)),
        ("1", (1,)),
        ("1,0", (1, 0)),
        ("0,7,1", (0,)),  # CUDA stops at the first entry it cannot use
        ("0,-1,1", (0,)),
        ("0,0", (0,)),
        ("7", ()),
        ("GPU-0c9d", (1,)),  # uuid prefixes
        ("GPU-", ()),  # ambiguous prefix: unusable
        (" 1 , 0 ", (1, 0)),
    ],
)
def test_visible_gpus(cvd: str | None, indexes: tuple[int, ...]) -> None:
    m = Machine(os="Linux", driver_version="580.159.04", gpus=TWO, cuda_visible_devices=cvd)
    seen = visible_gpus(m)
    assert seen is not None
    assert tuple(g.index for g in seen) == indexes
    assert hides_all_gpus(m) is (cvd is not None and indexes == ())


def test_visible_gpus_unknown_cases() -> None:
    mig = Machine(os="Linux", gpus=TWO, cuda_visible_devices="MIG-4a8b")
    assert visible_gpus(mig) is None and not hides_all_gpus(mig)
    unlisted = Machine(os="Linux", driver_version="580.159.04", cuda_visible_devices="0")
    assert visible_gpus(unlisted) is None
    hidden_unlisted = Machine(os="Linux", driver_version="580.159.04", cuda_visible_devices="")
    assert hides_all_gpus(hidden_unlisted)


# --------------------------------------------------------------------------- this machine, as is


def _real_driver_present() -> bool:
    return (os.path.exists(mach.PROC_VERSION) or os.path.exists(mach.SYS_VERSION)
            or shutil.which("nvidia-smi") is not None)


def test_read_machine_on_this_machine() -> None:
    m = read_machine()
    assert m.os in ("Linux", "Darwin", "Windows")
    if _real_driver_present():
        assert m.has_driver and m.driver_version
        assert m.cuda_driver
        assert any(f == "driver_version" for f, _ in m.sources)
    else:
        # The CI machines have no GPU: a normal state, said in plain words.
        assert m.driver_version is None and m.cuda_driver is None and m.gpus == ()
        assert not m.has_driver
        assert m.notes == (
            "No NVIDIA driver found: /proc/driver/nvidia/version and nvidia-smi are absent.",
        )
        assert m.sources == ()
        assert m.cuda_visible_devices is None


def test_read_machine_reports_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    m = read_machine()
    assert m.cuda_visible_devices == ""
    assert "CUDA_VISIBLE_DEVICES='' hides every GPU from CUDA programs." in m.notes
    assert ("cuda_visible_devices", "CUDA_VISIBLE_DEVICES (environment)") in m.sources
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert read_machine().cuda_visible_devices == "-1"
    assert "CUDA_VISIBLE_DEVICES='-1' hides every GPU from CUDA programs." in read_machine().notes
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    m = read_machine()
    assert m.cuda_visible_devices is None
    assert not any("CUDA_VISIBLE_DEVICES" in n for n in m.notes)


def test_override_sets_the_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENVSEL_CUDA_DRIVER", "580.159.04")
    m = read_machine()
    assert m.driver_version == "580.159.04" and m.has_driver
    assert m.cuda_driver == "13.0"
    assert ("driver_version", "VENVSEL_CUDA_DRIVER") in m.sources
    assert any(f == "cuda_driver" and "VENVSEL_CUDA_DRIVER" in w for f, w in m.sources)
    assert any(n.startswith("VENVSEL_CUDA_DRIVER=580.159.04 overrides the driver version")
               for n in m.notes)
    monkeypatch.setenv("VENVSEL_CUDA_DRIVER", "535.104.05")
    m = read_machine()
    assert (m.driver_version, m.cuda_driver) == ("535.104.05", "12.9")
    monkeypatch.setenv("VENVSEL_CUDA_DRIVER", "  ")  # blank = unset
    assert read_machine().driver_version == (read_machine(use_cache=False).driver_version)
    assert not any("overrides" in n for n in read_machine().notes)


@pytest.mark.parametrize(
    ("value", "words"),
    [("13.0", "looks like a CUDA version, not a driver version (CUDA 13.0 needs driver >= 580)"),
     ("12.1", "looks like a CUDA version"),
     ("cu130", "is not a driver version"),
     ("580.159.04abc", "is not a driver version")],
)
def test_override_refuses_what_is_not_a_driver_version(
    monkeypatch: pytest.MonkeyPatch, value: str, words: str
) -> None:
    monkeypatch.setenv("VENVSEL_CUDA_DRIVER", value)
    with pytest.raises(UsageError) as err:
        read_machine()
    assert words in str(err.value)
    assert "Driver Version" in str(err.value)  # the hint says what to set instead
    assert err.value.exit_code == 2
    driver_fingerprint()  # the cheap path never raises


def test_driver_fingerprint_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    unset = driver_fingerprint()
    assert unset.endswith("|cvd")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    empty = driver_fingerprint()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    zero = driver_fingerprint()
    assert len({unset, empty, zero}) == 3
    monkeypatch.setenv("VENVSEL_CUDA_DRIVER", "580.159.04")
    assert "override=580.159.04" in driver_fingerprint()
    assert driver_fingerprint() != zero


# ------------------------------------------------------------------ driver files, nvidia-smi


class FakeHost:
    """Driver files and an nvidia-smi executable that print the fixtures' formats."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir()
        self.calls = root / "smi-calls.log"
        self.sys = root / "sys_version"
        self.proc = root / "proc_version"
        for name, path in (("SYS_VERSION", self.sys), ("PROC_VERSION", self.proc),
                           ("WSL_LIB", root / "no-wsl"), ("AMD_KFD", root / "no-kfd"),
                           ("OSRELEASE", root / "osrelease")):
            monkeypatch.setattr(mach, name, str(path))
        # On a GPU machine with nvidia-ml-py, the real NVML would answer before these files.
        monkeypatch.setattr(mach, "USE_NVML", False)
        (root / "osrelease").write_text("6.8.0-generic\n")
        # PATH holds the stand-in nvidia-smi (when installed) and cat, never a real one.
        tools = root / "tools"
        tools.mkdir()
        cat = shutil.which("cat")
        assert cat is not None
        (tools / "cat").symlink_to(cat)
        monkeypatch.setenv("PATH", f"{self.bin}{os.pathsep}{tools}")

    def driver_files(self, sys_text: str | None, proc_text: str | None) -> None:
        for path, text in ((self.sys, sys_text), (self.proc, proc_text)):
            if text is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(text)

    def smi(self, query: str | None, header: str | None = "nvidia_smi_header.txt",
            no_compute_cap: bool = False, fail: bool = False) -> None:
        """Install an nvidia-smi that answers --query-gpu with fixture ``query``."""
        q = f'cat "{FIX / query}"' if query else "exit 6"
        if no_compute_cap:
            q = (f'case "$*" in *compute_cap*) cat "{FIX / "nvidia_smi_old_no_compute_cap.txt"}"; '
                 f'exit 2;; esac; cat "{FIX / "nvidia_smi_query_old.csv"}"')
        h = f'cat "{FIX / header}"' if header else "exit 9"
        body = f'cat "{FIX / "nvidia_smi_failed.txt"}"; exit 9' if fail else textwrap.dedent(f"""\
            case "$*" in
              *--query-gpu=*) {q} ;;
              "") {h} ;;
              *) exit 2 ;;
            esac""")
        script = self.bin / "nvidia-smi"
        script.write_text(f'#!/bin/sh\necho "$*" >> "{self.calls}"\n{body}\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def smi_calls(self) -> list[str]:
        return self.calls.read_text().splitlines() if self.calls.exists() else []


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHost:
    root = tmp_path / "host"
    root.mkdir()
    return FakeHost(root, monkeypatch)


def _has_libcuda() -> bool:
    import ctypes

    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


def test_mixed_gpus_from_nvidia_smi(host: FakeHost) -> None:
    host.driver_files(fixture("sys_module_nvidia_version.txt"),
                      fixture("proc_version_proprietary.txt"))
    host.smi("nvidia_smi_query_mixed.csv")
    m = read_machine()
    assert m.driver_version == "580.159.04"
    assert m.cuda_driver == "13.0"
    assert [(g.index, g.name, g.capability, g.memory_mib) for g in m.gpus] == [
        (0, "NVIDIA H200", "9.0", 143771), (1, "NVIDIA GeForce GTX 1080 Ti", "6.1", 11264)]
    sources = dict(m.sources)
    smi = str(host.bin / "nvidia-smi")
    assert sources["gpus"] == f"{smi} --query-gpu"
    assert sources["driver_version"] == f"{smi} --query-gpu"
    if not _has_libcuda():
        assert sources["cuda_driver"] == f"{smi} (header)"
    assert m.notes == ()
    calls = host.smi_calls()
    assert calls[0] == ("--query-gpu=index,name,driver_version,compute_cap,memory.total,uuid "
                        "--format=csv,noheader,nounits")


def test_old_driver_without_compute_cap_field(host: FakeHost) -> None:
    host.driver_files(None, fixture("proc_version_470.txt"))
    host.smi(None, header=None, no_compute_cap=True)
    m = read_machine()
    assert m.driver_version == "470.82.01"
    assert m.gpus == (Gpu(0, "Tesla K80", None, 11441, "GPU-1d2c3b4a-5e6f-7a8b-9c0d-1e2f3a4b5c6d"),)
    assert any("cannot report compute capability" in n for n in m.notes)
    assert len(host.smi_calls()) >= 2  # asked again without compute_cap
    if not _has_libcuda():
        # header failed too: derived from the table, and said so
        assert m.cuda_driver == "11.8"
        assert dict(m.sources)["cuda_driver"].startswith("derived from driver 470.82.01")


def test_driver_from_proc_only(host: FakeHost) -> None:
    host.driver_files(None, fixture("proc_version_open.txt"))
    m = read_machine()
    assert m.driver_version == "580.95.05"
    assert dict(m.sources)["driver_version"] == mach.PROC_VERSION
    assert m.gpus == () and "gpus" not in dict(m.sources)
    assert any("GPUs could not be listed" in n and "nvidia-smi is not found" in n for n in m.notes)
    if not _has_libcuda():
        assert m.cuda_driver == "13.0"
        assert "derived" in dict(m.sources)["cuda_driver"]


def test_sys_module_version_wins_over_proc(host: FakeHost) -> None:
    host.driver_files("575.57.08\n", fixture("proc_version_proprietary.txt"))
    m = read_machine()
    assert m.driver_version == "575.57.08"
    assert dict(m.sources)["driver_version"] == mach.SYS_VERSION


def test_failing_nvidia_smi_is_explained(host: FakeHost) -> None:
    host.driver_files(None, None)
    host.smi(None, fail=True)
    m = read_machine()
    assert m.driver_version is None
    assert any("failed (exit 9): NVIDIA-SMI has failed because it couldn't communicate" in n
               for n in m.notes)
    assert any(n.startswith("No NVIDIA driver answered") for n in m.notes)


def test_half_applied_driver_update_is_noted(host: FakeHost) -> None:
    host.driver_files("575.57.08\n", None)  # the loaded module
    host.smi("nvidia_smi_query_mixed.csv")  # the libraries say 580.159.04
    m = read_machine()
    assert m.driver_version == "580.159.04"
    assert any("kernel module is 575.57.08" in n and "reboot" in n for n in m.notes)


def test_cvd_subset_is_noted(host: FakeHost, monkeypatch: pytest.MonkeyPatch) -> None:
    host.driver_files(fixture("sys_module_nvidia_version.txt"), None)
    host.smi("nvidia_smi_query_mixed.csv")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    m = read_machine()
    assert "CUDA_VISIBLE_DEVICES='1' shows 1 of 2 GPUs to CUDA programs (GPU 1)." in m.notes


# --------------------------------------------------------------------------- the cache


def test_cache_is_reused_until_the_driver_changes(host: FakeHost) -> None:
    host.driver_files(fixture("sys_module_nvidia_version.txt"),
                      fixture("proc_version_proprietary.txt"))
    host.smi("nvidia_smi_query_mixed.csv")
    first = read_machine()
    path = mach.cache_path()
    st1, text1 = path.stat(), path.read_text()
    calls = len(host.smi_calls())
    assert calls >= 1

    second = read_machine()
    st2 = path.stat()
    assert second == first
    assert (st2.st_ino, st2.st_mtime_ns) == (st1.st_ino, st1.st_mtime_ns)  # not rewritten
    assert path.read_text() == text1
    assert len(host.smi_calls()) == calls  # nvidia-smi not started again

    # The stored observation is what comes back: plant a note in it, keep its key.
    data = json.loads(text1)
    data["machine"]["notes"] = ["planted"]
    path.write_text(json.dumps(data))
    assert read_machine().notes == ("planted",)

    # The driver changes (a new module version): observed again, stored again.
    host.driver_files("580.200.01\n", None)
    third = read_machine()
    assert "planted" not in third.notes
    assert any("kernel module is 580.200.01" in n for n in third.notes)  # seen afresh
    assert len(host.smi_calls()) > calls
    assert json.loads(path.read_text())["key"] != data["key"]


def test_use_cache_false_observes_and_refreshes_the_store(host: FakeHost) -> None:
    host.driver_files(fixture("sys_module_nvidia_version.txt"), None)
    host.smi("nvidia_smi_query_mixed.csv")
    read_machine()
    data = json.loads(mach.cache_path().read_text())
    data["machine"]["notes"] = ["planted"]
    mach.cache_path().write_text(json.dumps(data))
    calls = len(host.smi_calls())
    fresh = read_machine(use_cache=False)
    assert fresh.notes == ()
    assert len(host.smi_calls()) > calls
    assert json.loads(mach.cache_path().read_text())["machine"]["notes"] == []


@pytest.mark.parametrize("content", [
    "{not json", "[]", '{"schema": 1}', '{"schema": 99, "key": ""}',
    '{"schema": 1, "key": "%KEY%", "machine": {"nope": 1}}',
])
def test_corrupt_cache_is_a_miss(host: FakeHost, content: str) -> None:
    host.driver_files(None, fixture("proc_version_proprietary.txt"))
    good = read_machine()
    key = json.loads(mach.cache_path().read_text())["key"]
    mach.cache_path().write_text(content.replace("%KEY%", key))
    assert read_machine() == good
    assert json.loads(mach.cache_path().read_text())["key"] == key  # rewritten


def test_overrides_apply_on_top_of_the_cached_observation(
    host: FakeHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    host.driver_files(fixture("sys_module_nvidia_version.txt"), None)
    host.smi("nvidia_smi_query_mixed.csv")
    read_machine()
    calls = len(host.smi_calls())
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setenv("VENVSEL_CUDA_DRIVER", "535.104.05")
    m = read_machine()
    assert len(host.smi_calls()) == calls  # no new observation for either variable
    assert (m.driver_version, m.cuda_driver, m.cuda_visible_devices) == ("535.104.05", "12.9", "")
    assert len(m.gpus) == 2
    assert "the observed driver is 580.159.04" in " ".join(m.notes)


# --------------------------------------------------------------------------- spawn-free paths

_AUDIT = textwrap.dedent("""\
    import json, sys
    events = []
    WATCH = {"subprocess.Popen", "os.posix_spawn", "os.exec", "os.fork", "os.system",
             "ctypes.dlopen"}
    sys.addaudithook(lambda ev, args: events.append(ev) if ev in WATCH else None)
    from venvsel import machine
    machine.SYS_VERSION, machine.PROC_VERSION = sys.argv[1], sys.argv[2]
    machine.WSL_LIB = machine.AMD_KFD = sys.argv[3]
    machine.USE_NVML = False
    machine.driver_fingerprint()
    fp = list(events)
    m = machine.read_machine()
    print(json.dumps({"fingerprint": fp, "read": events[len(fp):], "gpus": len(m.gpus)}))
""")


def test_warm_path_starts_no_process(host: FakeHost, tmp_path: Path) -> None:
    host.driver_files(fixture("sys_module_nvidia_version.txt"),
                      fixture("proc_version_proprietary.txt"))
    host.smi("nvidia_smi_query_mixed.csv")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-c", _AUDIT, str(host.sys), str(host.proc), str(tmp_path / "none")]

    def run() -> dict[str, list[str]]:
        out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=60)
        return json.loads(out.stdout)  # type: ignore[no-any-return]

    cold = run()
    assert cold["gpus"] == 2
    assert cold["fingerprint"] == []  # the fingerprint never spawns
    assert "subprocess.Popen" in cold["read"]  # the hook sees nvidia-smi being started
    warm = run()
    assert warm == {"fingerprint": [], "read": [], "gpus": 2}  # no spawn, no library loaded


# --------------------------------------------------------------------------- NVML, no library


@pytest.mark.slow
def test_nvml_without_a_driver_falls_back_cleanly(tmp_path: Path) -> None:
    """nvidia-ml-py installed on a machine without NVML: its failure is handled, not raised."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "--target", str(target), "nvidia-ml-py"], check=True, timeout=300,
                   env=envs.tool_env())
    code = textwrap.dedent("""\
        import json, sys, pynvml
        from venvsel import machine
        machine.PROC_VERSION = sys.argv[1]
        m = machine.read_machine(use_cache=False)
        print(json.dumps({"driver": m.driver_version, "notes": m.notes, "sources": m.sources,
                          "pynvml": pynvml.__file__}))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(REPO)])}
    proc_file = tmp_path / "proc_version"
    proc_file.write_text(fixture("proc_version_proprietary.txt"))
    out = subprocess.run([sys.executable, "-c", code, str(proc_file)], env=env,
                         capture_output=True, text=True, check=True, timeout=60)
    got = json.loads(out.stdout)
    assert got["pynvml"].startswith(str(target))
    if _real_driver_present():  # a GPU machine: NVML answers
        assert ["driver_version", "NVML (nvidia-ml-py)"] in got["sources"]
    else:
        assert got["driver"] == "580.159.04"
        assert ["driver_version", str(proc_file)] in got["sources"]
        assert any(n.startswith("NVML (nvidia-ml-py) could not start") for n in got["notes"])
