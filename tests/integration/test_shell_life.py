"""venvsel in a user's shell: it never loses itself, and --auto follows `cd`.

* venvsel installed INSIDE an env (a real virtualenv, `pip install` of this checkout), that
  env activated by its own script, the hook loaded from it: switching to another env (which
  takes venvsel's bin dir off PATH) leaves `venvsel status` / `venvsel deactivate` working,
  because the hook calls venvsel by the absolute path it was loaded from; switching back and
  forth stacks; each `deactivate` restores the env before it byte for byte (`env -0`).
  In bash, zsh, fish and dash.
* `venvsel shell-hook SHELL --auto` in real interactive bash, zsh and fish driven through a
  pty (tests/ptyshell.py): cd into a project activates its env, moving inside it or staying
  put starts no venvsel process, cd out restores the environment byte for byte; an env the
  user activated is never replaced; a missing, untrusted or unfit env prints one line and
  activates nothing; a hostile project directory name never runs code.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests import envs
from tests.integration.test_activate_shells import dump_env as read_env_dump
from tests.ptyshell import PROMPT, PtyShell
from tests.shellnames import SENTINEL
from venvsel.shells import fish as fish_renderer
from venvsel.shells import operations as p
from venvsel.shells import sh

pytestmark = pytest.mark.shells

REPO = Path(__file__).resolve().parents[2]
COMMAND = {
    "bash": ["bash", "--norc", "--noprofile"],
    "zsh": ["zsh", "-f"],
    "sh": ["dash"],
    "fish": ["fish", "--no-config"],
}


def dump_env(path: Path) -> dict[str, str]:
    """An `env -0` dump written to ``path`` (test_activate_shells' reader)."""
    return read_env_dump(path.read_bytes())


def quote(shell: str, value: str) -> str:
    return fish_renderer.quote(value) if shell == "fish" else sh.quote(value)


def base_environ(tmp: Path) -> dict[str, str]:
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    environ = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "SHELL": "/bin/false",
        "PYTHONWARNINGS": envs.VENVSEL_WARNINGS,  # a DeprecationWarning fails venvsel
    }
    for name in ("VENVSEL_CACHE_DIR", "VENVSEL_CONFIG_DIR", "VENVSEL_LOG_DIR"):
        environ[name] = os.environ[name]
    return environ


# ------------------------------------------------------------ venvsel installed in an env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(an env holding venvsel, installed from this checkout as a user would; another env)."""
    root = tmp_path_factory.mktemp("installed")
    home_env = envs.create_env(envs.EnvSpec("holds-venvsel", packages=(str(REPO),)),
                               root / "tools")
    other = envs.create_env(envs.EnvSpec("other", creator="venv"), root / "other")
    assert (home_env / "bin" / "venvsel").is_file()
    return home_env, other


def _lines(shell: str, tools: Path, other: Path) -> list[str]:
    load = ("venvsel shell-hook fish | source" if shell == "fish"
            else f'eval "$(venvsel shell-hook {shell} --no-completion)"')
    source = (f"source {quote(shell, str(tools / 'bin' / 'activate.fish'))}" if shell == "fish"
              else f". {quote(shell, str(tools / 'bin' / 'activate'))}")
    rc = "$status" if shell == "fish" else "$?"
    return [
        source,  # the user's env, which holds venvsel
        load,
        "env -0 > with-tools",
        "printf '%s\\n' \"$_VENVSEL_EXE\"",
        f"venvsel activate {quote(shell, str(other))}",
        "env -0 > with-other",
        # venvsel's own bin dir is off PATH now ...
        "env venvsel --version >/dev/null 2>&1 && echo on-path || echo off-path",
        # ... and venvsel still answers
        f"venvsel status > status.out; echo status={rc}",
        f"venvsel activate {quote(shell, str(tools))}",  # and back: a stack three deep
        "python -c 'import sys; print(sys.prefix)'",
        "venvsel deactivate",
        "env -0 > back-to-other",
        "venvsel deactivate",
        "env -0 > back-to-tools",
        "python -c 'import sys; print(sys.prefix)'",
        "venvsel --version",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("shell", ["bash", "zsh", "sh", "fish"])
def test_venvsel_installed_in_an_env_survives_switching_away_and_back(
    shell: str, installed: tuple[Path, Path], tmp_path: Path
) -> None:
    tools, other = installed
    script = tmp_path / f"life.{shell}"
    script.write_text("\n".join(_lines(shell, tools, other)) + "\n")
    proc = subprocess.run([*COMMAND[shell], str(script)], env=base_environ(tmp_path),
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    out = proc.stdout.splitlines()
    assert out[0] == str(tools / "bin" / "venvsel")  # the hook knows where venvsel lives
    assert out[1] == "off-path"
    assert out[2] == "status=0"
    assert out[3] == str(tools)  # switched back to the env holding venvsel
    assert out[4] == str(tools)  # deactivated twice: back in it, as its own script left it
    assert out[5].startswith("venvsel, version")
    assert "project  none" in (tmp_path / "status.out").read_text()
    with_tools, with_other = dump_env(tmp_path / "with-tools"), dump_env(tmp_path / "with-other")
    assert with_other["VIRTUAL_ENV"] == str(other)
    assert str(tools / "bin") not in with_other["PATH"].split(":")
    assert dump_env(tmp_path / "back-to-other") == with_other
    assert dump_env(tmp_path / "back-to-tools") == with_tools


def test_the_hook_records_the_entry_script_or_the_interpreter(tmp_path: Path) -> None:
    """Started as `python -m venvsel`, the hook records the interpreter; its `venvsel`
    function then works with no venvsel on PATH at all."""
    environ = {**base_environ(tmp_path), "PYTHONPATH": str(REPO)}
    hook = subprocess.run([sys.executable, "-m", "venvsel", "shell-hook", "bash",
                           "--no-completion"], env=environ, capture_output=True, text=True,
                          check=True).stdout
    assert f"_VENVSEL_PY={sh.quote(os.path.abspath(sys.executable))}\n" in hook
    assert "unset _VENVSEL_EXE\n" in hook
    (tmp_path / "hook").write_text(hook)
    # a directory that holds a package named venvsel: `python -m venvsel` would run it
    (tmp_path / "venvsel").mkdir()
    (tmp_path / "venvsel" / "__init__.py").write_text("open('pwned', 'w').close()\n")
    (tmp_path / "venvsel" / "__main__.py").write_text("open('pwned', 'w').close()\n")
    proc = subprocess.run(["bash", "--norc", "-c", ". ./hook; venvsel --version"], env=environ,
                          cwd=tmp_path, capture_output=True, text=True, check=True)
    assert proc.stdout.startswith("venvsel, version")
    assert not (tmp_path / SENTINEL).exists()


# ------------------------------------------------------------ auto-activation in a pty

HOSTILE = "x'$(touch pwned)'y;`touch pwned`\\ \u2019$HOME%*?[\\E"


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Projects and envs for the auto tests (shared by the three shells; read-only)."""
    w = tmp_path_factory.mktemp("world")
    paths = {
        "out1": w / "out1", "out2": w / "out2", "proj": w / "proj",
        "hostile": w / HOSTILE, "gone": w / "gone", "open": w / "open", "needy": w / "needy",
        "mine": w / "mine",
    }
    for d in ("out1", "out2"):
        paths[d].mkdir()
    _venv(paths["proj"] / ".venv")
    (paths["proj"] / "sub" / "deeper").mkdir(parents=True)
    (paths["proj"] / "pyproject.toml").write_text("[project]\nname = 'proj'\n")
    _venv(paths["hostile"] / ".venv")
    paths["gone"].mkdir()
    (paths["gone"] / ".venvsel.toml").write_text('env = "../no-such-env"\n')
    _venv(paths["open"] / ".venv")
    bindir = paths["open"] / ".venv" / "bin"
    bindir.chmod(bindir.stat().st_mode | stat.S_IWOTH)  # anyone could put `ls` there
    _venv(paths["needy"] / ".venv")
    (paths["needy"] / ".venvsel.toml").write_text('needs = ["torch"]\nenv = ".venv"\n')
    _venv(paths["mine"])
    return paths


def _start(shell: str, tmp: Path, world: dict[str, Path]) -> tuple[PtyShell, Path]:
    environ = {**base_environ(tmp), "PYTHONPATH": str(REPO)}
    log = tmp / "spawns.log"
    # Every venvsel process the hook starts goes through one of these scripts, which log it:
    # the hook's records of where venvsel lives are pointed at them.
    wrapper, pywrapper = tmp / "venvsel-logged", tmp / "python-logged"
    for path, target in ((wrapper, f"{sh.quote(sys.executable)} -m venvsel"),
                         (pywrapper, sh.quote(sys.executable))):
        path.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> {sh.quote(str(log))}\n"
                        f"exec {target} \"$@\"\n")
        path.chmod(0o755)
    hook = f"{sh.quote(sys.executable)} -m venvsel shell-hook {shell} --auto --no-completion"
    if shell == "fish":
        rc = tmp / "rc.fish"
        rc.write_text("\n".join([
            f"function fish_prompt; printf '%s' {fish_renderer.quote(PROMPT)}; end",
            f"{hook} | source",
            f"set -g _VENVSEL_EXE {fish_renderer.quote(str(wrapper))}",
            f"set -g _VENVSEL_PY {fish_renderer.quote(str(pywrapper))}",
        ]) + "\n")
        argv = ["fish", "--no-config", "-i", "-C", f"source {fish_renderer.quote(str(rc))}"]
    else:
        lines = [f"PS1={sh.quote(PROMPT)}", f'eval "$({hook})"',
                 f"_VENVSEL_EXE={sh.quote(str(wrapper))}",
                 f"_VENVSEL_PY={sh.quote(str(pywrapper))}"]
        if shell == "bash":
            rc = tmp / "rc.bash"
            argv = ["bash", "--noprofile", "--rcfile", str(rc), "-i"]
        else:
            rc = tmp / ".zshrc"
            lines.insert(0, "unsetopt PROMPT_SP")
            environ["ZDOTDIR"] = str(tmp)
            argv = ["zsh", "-d", "-i"]
        rc.write_text("\n".join(lines) + "\n")
    term = PtyShell(argv, environ, world["out2"])
    return term, log


def _spawns(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_auto_activation_in_an_interactive_shell(
    shell: str, world: dict[str, Path], tmp_path: Path
) -> None:
    term, log = _start(shell, tmp_path, world)
    q = lambda path: quote(shell, str(path))  # noqa: E731
    dumps = tmp_path / "dumps"
    dumps.mkdir()

    def dump(name: str) -> dict[str, str]:
        term.run(f"env -0 > {q(dumps / name)}")
        return dump_env(dumps / name)

    def home() -> None:  # PWD=out1, OLDPWD=out2: the same every time
        term.run(f"cd {q(world['out2'])}")
        term.run(f"cd {q(world['out1'])}")

    try:
        home()
        before = dump("before")
        assert "VIRTUAL_ENV" not in before

        # cd in: the project's .venv is active at the next prompt
        shown = term.run(f"cd {q(world['proj'] / 'sub')}")
        assert "venvsel" not in shown  # nothing said
        inside = dump("inside")
        assert inside["VIRTUAL_ENV"] == str(world["proj"] / ".venv")
        assert inside["PATH"] == f"{world['proj'] / '.venv' / 'bin'}:{before['PATH']}"
        term.run(f"python -c 'import sys; print(sys.prefix)' > {q(dumps / 'prefix')}")
        assert (dumps / "prefix").read_text().strip() == str(world["proj"] / ".venv")

        # inside the project, and prompts with nothing changed: no process
        n = _spawns(log)
        for line in ("cd deeper", "cd ..", "cd ..", "true", "true", f"cd {q(world['proj'])}"):
            term.run(line)
        assert _spawns(log) == n

        # cd out: exactly what was there
        home()
        assert dump("after") == before
        assert _spawns(log) == n + 2  # one per directory change outside the project

        # a hostile project directory name: activated as it is, never run
        term.run(f"cd {q(world['hostile'])}")
        hostile_in = dump("hostile-in")
        assert hostile_in["VIRTUAL_ENV"] == str(world["hostile"] / ".venv")
        home()
        assert dump("hostile-out") == before

        # an env the user activated is never replaced, and stays after leaving
        term.run(f"venvsel activate {q(world['mine'])}")
        mine = dump("mine")
        assert mine["VIRTUAL_ENV"] == str(world["mine"])
        term.run(f"cd {q(world['proj'])}")
        assert dump("mine-in-proj")["VIRTUAL_ENV"] == str(world["mine"])
        home()
        assert dump("mine-out") == mine
        term.run("venvsel deactivate")
        assert dump("mine-gone") == before

        # missing, untrusted, unfit: one line each, nothing activated
        for key, words in (("gone", "does not exist"), ("open", "not trusted"),
                           ("needy", "does not satisfy torch")):
            shown = term.run(f"cd {q(world[key])}")
            said = [ln for ln in shown.splitlines() if "venvsel: " in ln]
            assert len(said) == 1 and words in said[0], (key, shown)
            assert "VIRTUAL_ENV" not in dump(f"{key}-in")
            assert term.run("true") == ""  # said once, not at every prompt
            home()
            assert dump(f"{key}-out") == before
    finally:
        term.close()
    for d in world.values():
        assert not (d / SENTINEL).exists()
    assert not (tmp_path / SENTINEL).exists()
    assert p.DEPTH not in before
