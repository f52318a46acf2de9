"""Where venvsel keeps its state: cache, config and log dirs (platformdirs, env overrides)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

APP = "venvsel"

# platformdirs' answer on Linux, computed without importing it (~9 ms of the warm activate
# path): the XDG variable when set, else its default under $HOME. tests/unit/test_paths.py
# checks both agree.
_XDG = {
    "cache": ("XDG_CACHE_HOME", ".cache", ""),
    "config": ("XDG_CONFIG_HOME", ".config", ""),
    "data": ("XDG_DATA_HOME", os.path.join(".local", "share"), ""),
    "log": ("XDG_STATE_HOME", os.path.join(".local", "state"), "log"),
}


def user_dir(kind: str, app: str) -> str:
    """platformdirs' user_<kind>_dir(app) ("cache", "config", "data", "log") for any app, e.g.
    where poetry and hatch keep their envs; on Linux without importing platformdirs."""
    if sys.platform.startswith("linux"):
        xdg, default, leaf = _XDG[kind]
        base = os.environ.get(xdg, "").strip() or os.path.join(os.path.expanduser("~"), default)
        return os.path.join(base, app, leaf) if leaf else os.path.join(base, app)
    import platformdirs  # third-party, only off Linux (Linux dirs are computed here)

    fn = {
        "cache": platformdirs.user_cache_dir,
        "config": platformdirs.user_config_dir,
        "data": platformdirs.user_data_dir,
        "log": platformdirs.user_log_dir,
    }[kind]
    return str(fn(app, appauthor=False))


def dir_str(var: str, kind: str) -> str:
    """The dir as a string: ``var`` when set, else the platformdirs dir of that kind. (The
    warm path of ``pick``/``activate`` uses strings: importing pathlib costs ~4 ms there.)"""
    override = os.environ.get(var)
    return override if override else user_dir(kind, APP)


def cache_dir_str() -> str:
    """:func:`cache_dir` as a string."""
    return dir_str("VENVSEL_CACHE_DIR", "cache")


def config_file_str() -> str:
    """:func:`config_file` as a string."""
    return os.path.join(dir_str("VENVSEL_CONFIG_DIR", "config"), "config.toml")


def _dir(var: str, kind: str) -> Path:
    return Path(dir_str(var, kind))


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


def walk_up(start: str) -> list[str]:
    """``start`` and its parents, nearest first, up to the repository root (the dir holding
    ``.git``, included) or ``/``: where project settings, `use`'s journal and the auto hook
    look. One walk for all three, so they agree on where a project ends."""
    out = []
    d = os.path.abspath(start)
    while True:
        out.append(d)
        if os.path.lexists(os.path.join(d, ".git")):
            break
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    return out
