"""venvsel's state dirs: overrides win, and the Linux fast path agrees with platformdirs."""

from __future__ import annotations

import sys
from pathlib import Path

import platformdirs
import pytest

from venvsel import paths


def test_overrides_win(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VENVSEL_CACHE_DIR", str(tmp_path / "c"))
    assert paths.cache_dir() == tmp_path / "c"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fast path is Linux-only")
@pytest.mark.parametrize("xdg_set", [True, False])
def test_linux_fast_path_matches_platformdirs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, xdg_set: bool
) -> None:
    for var in ("VENVSEL_CACHE_DIR", "VENVSEL_CONFIG_DIR", "VENVSEL_LOG_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        if xdg_set:
            monkeypatch.setenv(var, str(tmp_path / var.lower()))
        else:
            monkeypatch.delenv(var, raising=False)
    assert paths.cache_dir() == Path(platformdirs.user_cache_dir("venvsel", appauthor=False))
    assert paths.config_dir() == Path(platformdirs.user_config_dir("venvsel", appauthor=False))
    assert paths.log_dir() == Path(platformdirs.user_log_dir("venvsel", appauthor=False))
    for kind, fn in (("cache", platformdirs.user_cache_dir), ("data", platformdirs.user_data_dir)):
        assert paths.user_dir(kind, "pypoetry") == fn("pypoetry", appauthor=False)
