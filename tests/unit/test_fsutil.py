"""Atomic writes give files the mode a plain open() would: the umask for a new file, the old
mode for a replaced one (mkstemp's 0600 must not leak into the user's report files)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from venvsel import fsutil


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077, 0o027])
def test_new_file_follows_the_umask(tmp_path: Path, umask: None, mask: int) -> None:
    os.umask(mask)
    atomic = tmp_path / "atomic.json"
    fsutil.atomic_write_text(atomic, "{}")
    plain = tmp_path / "plain.json"
    plain.write_text("{}")  # what any tool's open() gives
    assert _mode(atomic) == _mode(plain) == 0o666 & ~mask
    assert atomic.read_text() == "{}"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_replaced_file_keeps_its_mode(tmp_path: Path, umask: None) -> None:
    f = tmp_path / "report.md"
    f.write_text("old")
    f.chmod(0o640)
    fsutil.atomic_write_text(f, "new")
    assert _mode(f) == 0o640 and f.read_text() == "new"


def test_umask_is_left_as_it_was(umask: None) -> None:
    os.umask(0o027)
    assert fsutil.current_umask() == 0o027
    assert fsutil.current_umask() == 0o027
