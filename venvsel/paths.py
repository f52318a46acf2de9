"""Where venvsel keeps its state: cache, config and log dirs (platformdirs, env overrides)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "venvsel"

# platformdirs' answer on Linux, computed without importing it (~9 ms of the warm activate
# path): the XDG variable when set, else its default under $HOME. tests/unit/test_paths.py
# checks both agree.
_XDG = {
    "cache": ("XDG_CACHE_HOME", ".cache", ""),
    "config": ("XDG_CONFIG_HOME", ".config", ""),
    "log": ("XDG_STATE_HOME", os.path.join(".local", "state"), "log"),
}


def _dir(var: str, kind: str) -> Path:
    override = os.environ.get(var)
    if override:
        return Path(override)
    if sys.platform.startswith("linux"):
        xdg, default, leaf = _XDG[kind]
        base = os.environ.get(xdg, "").strip() or os.path.join(os.path.expanduser("~"), default)
        return Path(base, APP, leaf) if leaf else Path(base, APP)
    import platformdirs

    fn = {
        "cache": platformdirs.user_cache_dir,
        "config": platformdirs.user_config_dir,
        "log": platformdirs.user_log_dir,
    }[kind]
    return Path(fn(APP, appauthor=False))


def cache_dir() -> Path:
    """``VENVSEL_CACHE_DIR`` or the platformdirs user cache dir."""
    return _dir("VENVSEL_CACHE_DIR", "cache")


def config_dir() -> Path:
    """``VENVSEL_CONFIG_DIR`` or the platformdirs user config dir (holds config.toml)."""
    return _dir("VENVSEL_CONFIG_DIR", "config")


def log_dir() -> Path:
    """``VENVSEL_LOG_DIR`` or the platformdirs user log dir (repair transcripts)."""
    return _dir("VENVSEL_LOG_DIR", "log")


def config_file() -> Path:
    return config_dir() / "config.toml"
