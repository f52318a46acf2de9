"""Where poetry, hatch and pdm keep the envs they make, as each tool computes it from its
environment variables and its own config file (read, never written).

:mod:`venvsel.discover` lists these dirs; :mod:`venvsel.projectenv` finds a project's env in
them.
"""

from __future__ import annotations

import os
from typing import Any

from .paths import user_dir
from .tomlfile import read_lenient


def table(data: Any, *keys: str) -> dict[str, Any]:
    """``data[k1][k2]...`` when each is a table; {} otherwise."""
    for key in keys:
        if not isinstance(data, dict):
            return {}
        data = data.get(key)
    return data if isinstance(data, dict) else {}


def poetry_setting(local: dict[str, Any], glob: dict[str, Any], *keys: str) -> Any:
    env = "POETRY_" + "_".join(k.upper().replace("-", "_") for k in keys)
    if env in os.environ:
        return os.environ[env]
    for data in (local, glob):
        value: Any = data
        for k in keys:
            value = value.get(k) if isinstance(value, dict) else None
        if value is not None:
            return value
    return None


def truthy(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes", "y", "on")


def poetry_virtualenvs_path(root: str | None) -> str:
    """``virtualenvs.path`` as poetry resolves it: env var, the project's poetry.toml (none
    when ``root`` is None), its global config.toml, then ``{cache-dir}/virtualenvs``."""
    config_dir = os.environ.get("POETRY_CONFIG_DIR") or user_dir("config", "pypoetry")
    glob = read_lenient(os.path.join(config_dir, "config.toml"))
    local = read_lenient(os.path.join(root, "poetry.toml")) if root else {}
    cache = poetry_setting(local, glob, "cache-dir") or user_dir("cache", "pypoetry")
    path = poetry_setting(local, glob, "virtualenvs", "path")
    if not path:
        path = os.path.join(str(cache), "virtualenvs")
    path = str(path).replace("{cache-dir}", str(cache))
    return os.path.expanduser(path)


def hatch_data_dir() -> str:
    return os.path.expanduser(os.environ.get("HATCH_DATA_DIR") or user_dir("data", "hatch"))


def hatch_virtual_dir(root: str | None = None) -> str:
    """Where hatch keeps virtual envs: its config's ``dirs.env.virtual``, else
    ``<data>/env/virtual``."""
    config = os.environ.get("HATCH_CONFIG") or os.path.join(
        user_dir("config", "hatch"), "config.toml")
    configured = table(read_lenient(config), "dirs", "env").get("virtual")
    if isinstance(configured, str) and configured:
        path = os.path.expanduser(os.path.expandvars(configured))
        if os.path.isabs(path) or root is None:
            return path
        return os.path.join(root, path)
    return os.path.join(hatch_data_dir(), "env", "virtual")


def pdm_venvs_dir() -> str:
    """pdm's ``venv.location``: its global config.toml, else <user data>/pdm/venvs."""
    config = os.environ.get("PDM_CONFIG_FILE") or os.path.join(
        user_dir("config", "pdm"), "config.toml")
    location = table(read_lenient(config), "venv").get("location")
    if isinstance(location, str) and location:
        return os.path.expanduser(location)
    return os.path.join(user_dir("data", "pdm"), "venvs")



__all__ = ["hatch_data_dir", "hatch_virtual_dir", "pdm_venvs_dir", "poetry_setting",
           "poetry_virtualenvs_path", "table", "truthy"]
