"""bench's C tg loop (venvsel/bench/native.py, tgloop.c): built with the machine's real C
compiler, kept in the cache, refused where the owner rule says no; the loop itself run with
ctypes callbacks in place of llama.cpp's decode and synchronize."""

from __future__ import annotations

import ctypes
import shutil
import stat
from pathlib import Path

import pytest

from venvsel import errors
from venvsel.bench import _worker as worker
from venvsel.bench import native


@pytest.fixture
def cache(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CC", raising=False)  # the tests choose the compiler themselves
    return isolated / "cache"


def test_python_mode_builds_nothing(cache: Path) -> None:
    loop = native.prepare("python")
    assert loop.kind == "python" and loop.lib is None
    assert "--tg-loop python" in loop.note
    assert not (cache / "native").exists()


def test_auto_builds_once_with_the_compiler_and_reuses_the_file(cache: Path) -> None:
    cc = shutil.which("cc")
    assert cc, "the test machine needs a C compiler (scripts/test.sh installs gcc)"
    loop = native.prepare("auto")
    assert loop.kind == "c" and loop.note == f"built with {cc}"
    lib = Path(loop.lib or "")
    assert lib.parent == cache / "native" and lib.name.startswith("tgloop-")
    assert stat.S_IMODE((cache / "native").stat().st_mode) == 0o700
    assert [p.name for p in lib.parent.iterdir()] == [lib.name]  # no temp file left
    before = lib.stat().st_mtime_ns
    again = native.prepare("c")
    assert again == loop and lib.stat().st_mtime_ns == before  # not rebuilt


def test_another_compiler_builds_its_own_file(cache: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    real = shutil.which("cc")
    assert real
    wrapper = tmp_path / "mycc"
    wrapper.write_text(f'#!/bin/sh\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    first = native.prepare("auto")
    monkeypatch.setenv("CC", str(wrapper))
    second = native.prepare("auto")
    assert second.kind == "c" and second.note == f"built with {wrapper}"
    assert second.lib != first.lib


def test_no_compiler_falls_back_or_fails_with_the_reason(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty dir: no cc, gcc or clang
    loop = native.prepare("auto")
    assert loop.kind == "python" and loop.note == "no C compiler on PATH (cc, gcc, clang)"
    with pytest.raises(errors.UnmetError) as exc:
        native.prepare("c")
    assert "--tg-loop c" in str(exc.value) and "no C compiler" in str(exc.value)
    assert exc.value.exit_code == 1 and "apt-get install gcc" in str(exc.value)
    monkeypatch.setenv("CC", "no-such-cc")
    assert native.prepare("auto").note == "$CC (no-such-cc) is not a program on PATH"
    with pytest.raises(errors.UsageError):
        native.prepare("fast")


def test_a_failing_compiler_is_reported_and_leaves_nothing(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "badcc"
    bad.write_text("#!/bin/sh\necho 'badcc: internal error' >&2\nexit 4\n")
    bad.chmod(0o755)
    monkeypatch.setenv("CC", str(bad))
    loop = native.prepare("auto")
    assert loop.kind == "python"
    assert loop.note.startswith(f"{bad} could not build the C tg loop")
    assert "internal error" in loop.note
    assert list((cache / "native").iterdir()) == []


def test_a_compiler_others_can_write_is_not_run(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran"
    cc = tmp_path / "opencc"
    cc.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    cc.chmod(0o777)  # writable by others: anyone could have put code here
    monkeypatch.setenv("CC", str(cc))
    loop = native.prepare("auto")
    assert loop.kind == "python" and "writable by others" in loop.note
    assert not marker.exists()


def test_a_built_loop_others_can_write_is_not_loaded(cache: Path) -> None:
    lib = Path(native.prepare("auto").lib or "")
    lib.chmod(0o777)
    loop = native.prepare("auto")
    assert loop.kind == "python" and "writable by others" in loop.note


def test_a_cache_dir_others_can_write_is_not_used(cache: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    cache.chmod(0o777)
    try:
        loop = native.prepare("auto")
    finally:
        cache.chmod(0o755)
    assert loop.kind == "python" and "owner rule" in loop.note
    assert not (cache / "native").exists()


# --------------------------------------------------------------------------- the loop itself


class _Batch(ctypes.Structure):  # llama.h's llama_batch, as llama_cpp declares it
    _fields_ = [("n_tokens", ctypes.c_int32), ("token", ctypes.POINTER(ctypes.c_int32)),
                ("embd", ctypes.POINTER(ctypes.c_float)), ("pos", ctypes.POINTER(ctypes.c_int32)),
                ("n_seq_id", ctypes.POINTER(ctypes.c_int32)),
                ("seq_id", ctypes.POINTER(ctypes.POINTER(ctypes.c_int32))),
                ("logits", ctypes.POINTER(ctypes.c_int8))]


class _FakeLlamaCpp:
    """Just what load_tg_loop reads of llama_cpp: the batch type and two foreign functions
    (here ctypes callbacks that record what the C loop passes them)."""

    llama_batch = _Batch

    def __init__(self, fail_at: int | None = None) -> None:
        self.calls: list[tuple[str, int, int, int, int]] = []
        decode_t = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, _Batch)
        sync_t = ctypes.CFUNCTYPE(None, ctypes.c_void_p)

        def decode(ctx: int, b: _Batch) -> int:
            self.calls.append(("decode", ctx, b.n_tokens, b.token[0], b.pos[0]))
            return 1 if fail_at is not None and len(self.calls) // 2 == fail_at else 0

        def sync(ctx: int) -> None:
            self.calls.append(("sync", ctx, 0, 0, 0))

        self.llama_decode = decode_t(decode)
        self.llama_synchronize = sync_t(sync)


def _batch() -> tuple[_Batch, list[object]]:
    tok, pos = (ctypes.c_int32 * 4)(), (ctypes.c_int32 * 4)()
    b = _Batch(0, ctypes.cast(tok, ctypes.POINTER(ctypes.c_int32)), None,
               ctypes.cast(pos, ctypes.POINTER(ctypes.c_int32)))
    return b, [tok, pos]


def test_the_c_loop_decodes_each_token_at_its_position_then_synchronises(cache: Path) -> None:
    fake = _FakeLlamaCpp()
    run, why = worker.load_tg_loop(fake, native.prepare("c").lib)
    assert why is None and run is not None
    b, _keep = _batch()  # (the arrays b points into stay alive)
    assert run(1234, b, [7, 8, 9], 5) == 0
    assert fake.calls == [("decode", 1234, 1, 7, 5), ("sync", 1234, 0, 0, 0),
                          ("decode", 1234, 1, 8, 6), ("sync", 1234, 0, 0, 0),
                          ("decode", 1234, 1, 9, 7), ("sync", 1234, 0, 0, 0)]


def test_the_c_loop_stops_at_a_failed_decode(cache: Path) -> None:
    fake = _FakeLlamaCpp(fail_at=1)  # the second decode returns 1
    run, _ = worker.load_tg_loop(fake, native.prepare("c").lib)
    assert run is not None
    b, _keep = _batch()  # (the arrays b points into stay alive)
    assert run(1, b, [7, 8, 9, 10], 0) == -2  # -1 - index of the failed token
    assert [c[0] for c in fake.calls] == ["decode", "sync", "decode"]


def test_a_different_llama_batch_keeps_the_python_loop(cache: Path) -> None:
    class Wider(ctypes.Structure):
        _fields_ = [*_Batch._fields_, ("extra", ctypes.c_int32)]

    fake = _FakeLlamaCpp()
    fake.llama_batch = Wider  # type: ignore[assignment,misc]
    run, why = worker.load_tg_loop(fake, native.prepare("c").lib)
    assert run is None and "other fields" in (why or "")
    fake = _FakeLlamaCpp()
    run, why = worker.load_tg_loop(fake, str(cache / "missing.so"))
    assert run is None and "could not load" in (why or "")


def test_the_source_ships_with_the_package() -> None:
    """A plain (non-editable) install must carry tgloop.c: pyproject lists it as package data."""
    root = Path(native.__file__).resolve().parents[2]
    rel = native.SOURCE.relative_to(root / "venvsel").as_posix()
    assert f'"{rel}"' in (root / "pyproject.toml").read_text()


def test_tg_loop_c_fails_the_run_where_the_loop_cannot_run(cache: Path) -> None:
    """--tg-loop c never falls back in the worker either: a loop that cannot run fails the
    run, with the reason, where auto measures with the Python loop and says why."""
    job = {"tg_loop_lib": str(cache / "missing.so"), "tg_loop_note": "built with cc",
           "tg_loop_required": True}
    with pytest.raises(RuntimeError, match="--tg-loop c: the C tg loop cannot run here: could "
                       "not load"):
        worker.choose_tg_loop(_FakeLlamaCpp(), job, {})
    out: dict[str, str] = {}
    assert worker.choose_tg_loop(_FakeLlamaCpp(), dict(job, tg_loop_required=False), out) is None
    assert out["tg_loop"] == "python" and out["tg_loop_note"].startswith("could not load")
    out = {}
    job = {"tg_loop_lib": native.prepare("c").lib, "tg_loop_note": "built with cc"}
    assert worker.choose_tg_loop(_FakeLlamaCpp(), job, out) is not None
    assert out == {"tg_loop": "c", "tg_loop_note": "built with cc"}
    out = {}
    assert worker.choose_tg_loop(_FakeLlamaCpp(), {"tg_loop_note": "no C compiler"}, out) is None
    assert out == {"tg_loop": "python", "tg_loop_note": "no C compiler"}
