"""The user's config file: extra roots to scan and probe settings.

``config.toml`` in :func:`venvsel.paths.config_dir`::

    roots = ["~/projects", "/data/envs"]   # scanned like ROOTS on the command line

    [probe]
    timeout = 30    # seconds per live probe
    jobs = 4        # probes in parallel (default: CPU count)

``~`` is expanded in roots; a relative root is relative to the config file's directory.
A missing file is the default config; a malformed one is a usage error naming the file. A
config dir that someone else owns or can write is not read (trust.py): the defaults apply.
"""

from __future__ import annotations

import os
from typing import Any

from . import paths, tomlfile
from .errors import UsageError
from .owners import state_dir_ok
from .record import frozen


@frozen
class Config:
    """The config file's settings (the defaults when there is none)."""

    extra_roots: tuple[str, ...] = ()  # absolute, ~ expanded
    probe_timeout: float = 30.0
    jobs: int | None = None  # None: one probe per CPU


def _bad(file: str, what: str) -> UsageError:
    return UsageError(f"{file}: {what}", hint="Fix or remove the config file.")


def load_config() -> Config:
    """Read the config file; the defaults when it does not exist, or when the config dir is
    owned by someone else or writable by group/others (trust.py; one warning says so)."""
    file = paths.config_file_str()
    if not state_dir_ok(os.path.dirname(file), "config"):
        return Config()
    try:
        with open(file, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return Config()
    except (OSError, UnicodeDecodeError) as e:
        raise _bad(file, f"cannot be read ({e})") from e
    try:
        data = tomlfile.loads(text)
    except Exception as e:  # tomllib.TOMLDecodeError, or tomli's: same message either way
        raise _bad(file, f"not valid TOML: {e}") from e
    return _from_data(file, data)


def _from_data(file: str, data: dict[str, Any]) -> Config:
    roots = data.get("roots", [])
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        raise _bad(file, '"roots" must be a list of paths, e.g. roots = ["~/projects"]')
    base = os.path.dirname(file)
    extra = tuple(
        os.path.normpath(os.path.join(base, os.path.expanduser(r))) for r in roots if r.strip()
    )

    probe = data.get("probe", {})
    if not isinstance(probe, dict):
        raise _bad(file, "[probe] must be a table")
    timeout = probe.get("timeout", 30.0)
    # bool is an int subclass: `timeout = true` is a mistake, not 1 second.
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise _bad(file, "[probe] timeout must be a positive number of seconds")
    jobs = probe.get("jobs")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise _bad(file, "[probe] jobs must be a whole number >= 1")
    return Config(extra_roots=extra, probe_timeout=float(timeout), jobs=jobs)


__all__ = ["Config", "load_config"]
