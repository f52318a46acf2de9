"""Where venvsel keeps its state: cache, config and log dirs (platformdirs, env overrides)."""

from __future__ import annotations

import os
from pathlib import Path

APP = "venvsel"


def _dir(var: str, kind: str) -> Path:
    override = os.environ.get(var)
    if override:
        return Path(override)
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
