"""Shared fixtures. Every test runs with venvsel's cache, config and log dirs and HOME in a
temporary folder (so tests never touch the user's real state and never see the machine's
pyenv/conda installs unless a test points at them), with no env active, and with
PYTHONWARNINGS=error::DeprecationWarning for the processes it starts (third-party tools get
``envs.tool_env()``, which drops it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import envs

VENVSEL = [sys.executable, "-m", "venvsel"]

# A run started as a background job of a non-interactive shell (`./scripts/test.sh &`)
# inherits SIGINT ignored (POSIX), and so would every process the tests start: the tests
# that press Ctrl-C would see it do nothing and fail. Here Ctrl-C means Ctrl-C: a handler of
# our own is reset to the default in every child at exec.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

_LEAKY = (
    "VIRTUAL_ENV",
    "VIRTUAL_ENV_PROMPT",
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
    "PYTHONPATH",
    "PYTHONHOME",
    "WORKON_HOME",
    "UV_PROJECT_ENVIRONMENT",
    "VENVSEL_CUDA_DRIVER",
    "POETRY_VIRTUALENVS_PATH",
    "PIPENV_VENV_IN_PROJECT",
    "HATCH_DATA_DIR",
    "CONDA_ENVS_PATH",
    "CONDA_EXE",
    "MAMBA_EXE",
    "CONDA_ROOT",
    "MAMBA_ROOT_PREFIX",
    "CONDA_ENVS_DIRS",
    "POETRY_CACHE_DIR",
    "CUDA_VISIBLE_DEVICES",
)


@pytest.fixture(autouse=True)
def isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private HOME, cache, config and log dirs; no active env; PIP cache kept real."""
    base = tmp_path_factory.mktemp("iso")
    home = base / "home"
    home.mkdir()
    for name in _LEAKY:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PYENV_ROOT", str(home / ".pyenv"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("VENVSEL_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("VENVSEL_CONFIG_DIR", str(base / "config"))
    monkeypatch.setenv("VENVSEL_LOG_DIR", str(base / "log"))
    monkeypatch.setenv("PIP_CACHE_DIR", envs.PIP_CACHE_DIR)
    # A DeprecationWarning from any dependency fails the venvsel processes the tests start, as
    # pytest's filterwarnings=error does in-process (venvsel drops it for its own children).
    monkeypatch.setenv("PYTHONWARNINGS", envs.VENVSEL_WARNINGS)
    return base


@pytest.fixture(scope="session")
def seed_project() -> Path:
    """The seed's three envs in one project dir (built once, cached across runs). Read-only."""
    return envs.seed_project()


@pytest.fixture(scope="session")
def bare_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain virtualenv (read-only for tests), made from the interpreter the machine's torch
    wheels are for: the running one, except in ``test.sh --lowest`` (see envs.WHEEL_PYTHON)."""
    spec = envs.EnvSpec("bare", python=envs.WHEEL_PYTHON)
    return envs.create_env(spec, tmp_path_factory.mktemp("bare") / "venv")


@pytest.fixture
def make_env(tmp_path: Path) -> Iterator[object]:
    """Factory: ``make_env("name", packages=(...), python=..., creator=...)`` → a fresh env."""

    def factory(name: str = "venv", **kw: object) -> Path:
        spec = envs.EnvSpec(name=name, **kw)  # type: ignore[arg-type]
        return envs.create_env(spec, tmp_path / name)

    yield factory


def run_venvsel(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess, as a user would."""
    full_env = dict(os.environ if env is None else env)
    repo = str(Path(__file__).resolve().parent.parent)
    full_env["PYTHONPATH"] = repo + (
        os.pathsep + full_env["PYTHONPATH"] if full_env.get("PYTHONPATH") else ""
    )
    return subprocess.run(
        [*VENVSEL, *args],
        cwd=cwd,
        env=full_env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def venvsel_cli() -> object:
    return run_venvsel
