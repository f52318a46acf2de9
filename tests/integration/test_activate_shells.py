"""Activation code executed by the real shells: bash, zsh, dash (as sh) and fish.

What is checked, in each shell:
* `eval "$(venvsel activate ENV)"` on a real venv makes `python` that env's interpreter;
  `deactivate` gives back exactly the environment that was there (an `env -0` dump before and
  after, ignoring only `_`, the last command's name); activating B while A is active leaves
  no trace of A; `venvsel deactivate` works from a child shell; the hooks from
  `venvsel shell-hook` work; a venv activated by its own activate script is deactivated first.
* Hostile directory names (hypothesis, tests/shellnames.py): after evaluating the code,
  every variable is byte-for-byte what it should be, the prompt shows the name literally when
  the shell expands it, deactivate restores the environment, nothing is printed on stderr,
  and the sentinel file that every injection attempt tries to create never appears.

``VENVSEL_LONG_TESTS=1`` runs 5,000 examples per shell instead of 200.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import envs
from tests.shellnames import SENTINEL, hostile_names, make_env_dir
from venvsel.errors import UsageError
from venvsel.model import Env
from venvsel.shells import operations as p
from venvsel.shells import render

pytestmark = pytest.mark.shells

REPO = Path(__file__).resolve().parents[2]
LONG = os.environ.get("VENVSEL_LONG_TESTS") == "1"
settings.register_profile(
    "venvsel-shells", max_examples=5000 if LONG else 200, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PROFILE = settings.get_profile("venvsel-shells")

SHELLS = ("bash", "zsh", "sh", "fish")
COMMAND = {
    "bash": ["bash", "--norc", "--noprofile"],
    "zsh": ["zsh", "-f"],
    "sh": ["dash"],
    "fish": ["fish", "--no-config"],
}
# A saved value that must come back exactly: PYTHONHOME is unset while an env is active.
PYTHONHOME = sys.base_prefix  # a real one: the venvsel CLI still has to start with it set


def q(value: str) -> str:
    """Quote a test's own path for the driver scripts (the paths tests choose are plain)."""
    assert "'" not in value and "\\" not in value
    return f"'{value}'"


def dump_env(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in data.split(b"\0"):
        if item:
            key, _, value = item.partition(b"=")
            out[os.fsdecode(key)] = os.fsdecode(value)
    out.pop("_", None)  # bash and zsh export the last command's path as $_
    return out


def prompt_command(shell: str, dest: str) -> str:
    """The prompt as the shell would display it, written to ``dest``."""
    if shell == "bash":
        return f"printf '%s' \"${{PS1@P}}\" > {q(dest)}"
    if shell == "zsh":
        return f"print -rnP -- \"$PS1\" > {q(dest)}"
    if shell == "sh":
        # dash expands parameters and commands in PS1: expand it the same way
        return f"eval \"_shown=\\\"$PS1\\\"\"; printf '%s' \"$_shown\" > {q(dest)}; unset _shown"
    return f"fish_prompt > {q(dest)}"


def setup_lines(shell: str, expand: bool) -> list[str]:
    """A known prompt, with prompt expansion on or off where the shell lets you choose."""
    if shell == "fish":
        return ["function fish_prompt; printf 'BP> '; end"]
    lines = ["PS1='BP> '"]
    if shell == "bash":
        lines.append(f"shopt {'-s' if expand else '-u'} promptvars")
    if shell == "zsh":
        lines.append(f"{'setopt' if expand else 'unsetopt'} promptsubst")
    return lines


def source_line(shell: str, path: str) -> str:
    return f"source {q(path)}" if shell == "fish" else f". {q(path)}"


class Runner:
    """Runs driver scripts in one shell with a fixed environment and a sentinel cwd."""

    def __init__(self, shell: str, base: Path, environ: dict[str, str]) -> None:
        self.shell = shell
        self.base = base
        self.cwd = base / "cwd"
        self.cwd.mkdir(exist_ok=True)
        self.environ = environ
        self.n = 0
        out = self.run(["env -0 > " + q(str(base / "baseline"))])
        assert out == b""
        self.baseline = dump_env((base / "baseline").read_bytes())

    def run(self, lines: list[str]) -> bytes:
        self.n += 1
        script = self.base / f"driver{self.n}.{self.shell}"
        script.write_text("\n".join(lines) + "\n")
        proc = subprocess.run([*COMMAND[self.shell], str(script)], env=self.environ,
                              cwd=self.cwd, capture_output=True, timeout=120, check=False)
        assert proc.returncode == 0, (proc.returncode, proc.stderr.decode(errors="replace"))
        assert proc.stderr == b"", proc.stderr.decode(errors="replace")
        assert not (self.cwd / SENTINEL).exists(), "injected code ran: the sentinel exists"
        assert not list(self.cwd.iterdir()), "injected code ran: the sentinel dir is not empty"
        return proc.stdout


def shell_environ(tmp: Path) -> dict[str, str]:
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "LANG": "C.UTF-8",
        "PYTHONHOME": "/opt/p'y \u2019$(touch pwned)\\",
        "TERM": "dumb",
    }


# ------------------------------------------------------------------ hostile names (hypothesis)

step = st.tuples(hostile_names, st.booleans())  # (directory name, deactivate afterwards?)


@pytest.mark.parametrize("shell", SHELLS)
def test_hostile_names_never_run_and_round_trip(
    shell: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    base = tmp_path_factory.mktemp(f"hostile-{shell}")
    runner = Runner(shell, base, shell_environ(base))
    stats = {"examples": 0, "activations": 0, "refused": 0}

    @settings(PROFILE)
    @given(steps=st.lists(step, min_size=1, max_size=4), expand=st.booleans())
    def check(steps: list[tuple[str, bool]], expand: bool) -> None:
        stats["examples"] += 1
        ex = base / f"ex{stats['examples']}"
        lines = setup_lines(shell, expand)
        expected: list[tuple[str, dict[str, str], str]] = []  # (dump file, env, prompt)
        current = dict(runner.baseline)
        prompt = "BP> "
        # what deactivate comes back to: the env active before each activation (a stack)
        stack: list[tuple[dict[str, str], str]] = []
        for i, (name, then_deactivate) in enumerate(steps):
            env_dir = make_env_dir(ex / str(i) / name)
            env = Env(path=str(env_dir), kind="venv", source="test")
            try:
                plan = p.build_plan(env, current, os_name="posix")
                code = render(plan, shell)
            except UsageError:
                assert ":" in name, name  # the PATH separator: the only refusal here
                stats["refused"] += 1
                continue
            assert ":" not in name, name
            stats["activations"] += 1
            code_file = ex / f"code{i}"
            code_file.write_bytes(os.fsencode(code))
            if "VIRTUAL_ENV" in current:
                stack.append((current, prompt))
            current = p.apply_to_environ(plan, current)
            prompt = f"({name}) BP> "
            assert current["VIRTUAL_ENV"] == str(env_dir)
            dump = str(ex / f"dump{i}a")
            lines += [source_line(shell, str(code_file)), f"env -0 > {q(dump)}",
                      prompt_command(shell, dump + ".prompt")]
            expected.append((dump, current, prompt))
            if then_deactivate:
                # exactly the env that was active before, or the start
                current, prompt = stack.pop() if stack else (dict(runner.baseline), "BP> ")
                dump = str(ex / f"dump{i}d")
                lines += ["deactivate", f"env -0 > {q(dump)}",
                          prompt_command(shell, dump + ".prompt")]
                expected.append((dump, current, prompt))
        if not expected:
            return
        assert runner.run(lines) == b""
        for dump, env_vars, prompt in expected:
            got = dump_env(Path(dump).read_bytes())
            assert got == env_vars
            assert os.fsdecode(Path(dump + ".prompt").read_bytes()) == prompt
        shutil.rmtree(ex)

    check()
    assert stats["examples"] >= PROFILE.max_examples
    report = os.environ.get("VENVSEL_SHELL_STATS")
    if report:  # the counts for the record (docs, the closing note)
        with open(report, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"shell": shell, **stats}) + "\n")


# ------------------------------------------------------------------ real venvs, the real CLI


@pytest.fixture(scope="module")
def two_envs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("real")
    a = envs.create_env(envs.EnvSpec("a", creator="venv"), root / "env-a")
    b = envs.create_env(envs.EnvSpec("b"), root / "env-b")  # virtualenv: has activate scripts
    return a, b


@pytest.fixture
def cli_shell(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A `venvsel` command on PATH (this checkout, this interpreter), and the environment
    the shells start with."""
    bindir = tmp_path / "wrapper-bin"
    bindir.mkdir()
    wrapper = bindir / "venvsel"
    wrapper.write_text(f"#!/bin/sh\nexec {q(sys.executable)} -m venvsel \"$@\"\n")
    wrapper.chmod(0o755)
    environ = shell_environ(tmp_path)
    environ["PATH"] = f"{bindir}:{environ['PATH']}"
    environ["PYTHONHOME"] = PYTHONHOME
    environ["PYTHONPATH"] = str(REPO)
    environ["SHELL"] = "/bin/false"  # the tests say --shell, or rely on the parent process
    yield tmp_path, environ


def run_script(shell: str, lines: list[str], environ: dict[str, str], cwd: Path,
               stderr: str = "") -> str:
    script = cwd / f"script.{shell}"
    script.write_text("\n".join(lines) + "\n")
    proc = subprocess.run([*COMMAND[shell], str(script)], env=environ, cwd=cwd,
                          capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert proc.stderr.decode() == stderr
    return proc.stdout.decode()


def activate_line(shell: str, target: str, *extra: str) -> str:
    args = " ".join([q(target), *extra])
    if shell == "fish":
        return f"venvsel activate {args} --shell fish | source"
    return f"eval \"$(venvsel activate {args} --shell {shell})\""


def deactivate_cli_line(shell: str) -> str:
    if shell == "fish":
        return "venvsel deactivate --shell fish | source"
    return f"eval \"$(venvsel deactivate --shell {shell})\""


def dumps(tmp: Path, *names: str) -> list[dict[str, str]]:
    return [dump_env((tmp / n).read_bytes()) for n in names]


@pytest.mark.parametrize("shell", SHELLS)
def test_activate_uses_the_env_and_deactivate_restores_exactly(
    shell: str, two_envs: tuple[Path, Path], cli_shell: tuple[Path, dict[str, str]]
) -> None:
    a, _ = two_envs
    tmp, environ = cli_shell
    out = run_script(shell, [
        "env -0 > before",
        activate_line(shell, str(a)),
        "python -c 'import sys; print(sys.prefix)'",
        "env -0 > during",
        "deactivate",
        "env -0 > after",
        "command -v python3 || echo none",
    ], environ, tmp)
    prefix, after_python = out.splitlines()
    assert prefix == str(a)
    before, during, after = dumps(tmp, "before", "during", "after")
    assert during["VIRTUAL_ENV"] == str(a)
    assert during["PATH"].split(":")[0] == str(a / "bin")
    assert "PYTHONHOME" not in during  # unset while active ...
    assert after == before  # ... and everything back, PYTHONHOME included
    assert before["PYTHONHOME"] == PYTHONHOME
    assert not after_python.startswith(str(a))


@pytest.mark.parametrize("shell", SHELLS)
def test_activating_b_over_a_then_deactivate_returns_to_a(
    shell: str, two_envs: tuple[Path, Path], cli_shell: tuple[Path, dict[str, str]]
) -> None:
    """A stack, as with conda: B over A keeps A only in its saved frame; deactivate gives
    back A byte for byte (and A's deactivate), deactivate again gives back the start."""
    a, b = two_envs
    tmp, environ = cli_shell
    out = run_script(shell, [
        "env -0 > before",
        activate_line(shell, str(a)),
        "env -0 > with-a",
        activate_line(shell, str(b)),
        "python -c 'import sys; print(sys.prefix)'",
        "env -0 > during",
        "deactivate",
        "env -0 > back-to-a",
        "python -c 'import sys; print(sys.prefix)'",
        "deactivate",
        "env -0 > after",
    ], environ, tmp)
    assert out.split() == [str(b), str(a)]
    before, with_a, during, back, after = dumps(
        tmp, "before", "with-a", "during", "back-to-a", "after")
    live = {k: v for k, v in during.items() if not k.startswith(p.FRAME_PREFIX)}
    assert not [k for k, v in live.items() if str(a) in v]
    assert during["PATH"] == f"{b}/bin:{before['PATH']}"
    assert during[p.DEPTH] == "1"
    assert back == with_a
    assert after == before


@pytest.mark.parametrize("shell", SHELLS)
def test_venvsel_deactivate_pops_the_stack_from_the_cli(
    shell: str, two_envs: tuple[Path, Path], cli_shell: tuple[Path, dict[str, str]]
) -> None:
    a, b = two_envs
    tmp, environ = cli_shell
    run_script(shell, [
        "env -0 > before",
        activate_line(shell, str(a)),
        "env -0 > with-a",
        activate_line(shell, str(b)),
        activate_line(shell, str(b)),  # the active env again: nothing more to pop
        deactivate_cli_line(shell),
        "env -0 > back-to-a",
        deactivate_cli_line(shell),
        "env -0 > after",
    ], environ, tmp)
    before, with_a, back, after = dumps(tmp, "before", "with-a", "back-to-a", "after")
    assert back == with_a
    assert after == before


@pytest.mark.parametrize("shell", SHELLS)
def test_venvsel_deactivate_from_a_child_shell(
    shell: str, two_envs: tuple[Path, Path], cli_shell: tuple[Path, dict[str, str]]
) -> None:
    """The deactivate function lives in one shell; the saved state travels to children."""
    a, _ = two_envs
    tmp, environ = cli_shell
    child = tmp / f"child.{shell}"
    child.write_text("\n".join([deactivate_cli_line(shell), "env -0 > after",
                                "python3 -c 'import sys; print(sys.prefix)'"]) + "\n")
    out = run_script(shell, [
        "env -0 > before",
        activate_line(shell, str(a)),
        " ".join([*COMMAND[shell], q(str(child))]),
    ], environ, tmp)
    before, after = dumps(tmp, "before", "after")
    for d in (before, after):
        d.pop("SHLVL", None)  # the child shell is one level deeper
    assert after == before
    assert not out.strip().startswith(str(a))


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_hook(
    shell: str, two_envs: tuple[Path, Path], cli_shell: tuple[Path, dict[str, str]]
) -> None:
    a, b = two_envs
    tmp, environ = cli_shell
    load = ("venvsel shell-hook fish | source" if shell == "fish"
            else f"eval \"$(venvsel shell-hook {shell})\"")
    out = run_script(shell, [
        load,
        "env -0 > before",
        f"venvsel activate {q(str(a))}",
        "python -c 'import sys; print(sys.prefix)'",
        f"venvsel activate {q(str(b))}",
        "python -c 'import sys; print(sys.prefix)'",
        "venvsel deactivate",  # back to a (a stack, as with conda) ...
        "python -c 'import sys; print(sys.prefix)'",
        "venvsel deactivate",  # ... and then to the start
        "env -0 > after",
        # a refusal changes nothing and keeps venvsel's exit status
        f"venvsel activate {q(str(tmp / 'missing'))}; echo status=$"
        + ("status" if shell == "fish" else "?"),
        "venvsel --version",
    ], environ, tmp, stderr=f"venvsel: {tmp / 'missing'} does not exist\n"
                            "Run `venvsel scan` to list the envs.\n")
    lines = out.splitlines()
    assert lines[:3] == [str(a), str(b), str(a)]
    assert lines[3] == "status=2"
    assert lines[4].startswith("venvsel")
    before, after = dumps(tmp, "before", "after")
    assert after == before


@pytest.mark.parametrize("shell", ["bash", "zsh", "sh", "fish"])
def test_an_env_activated_by_its_own_script_is_deactivated_first(
    shell: str, two_envs: tuple[Path, Path], cli_shell: tuple[Path, dict[str, str]]
) -> None:
    """virtualenv's activate script (B), then venvsel (A): B is gone, its prompt restored;
    deactivate returns to B exactly as its script left it (environment and prompt), and
    `venvsel deactivate` then leaves B too."""
    a, b = two_envs
    tmp, environ = cli_shell
    source = ("source " + q(str(b / "bin" / "activate.fish")) if shell == "fish"
              else ". " + q(str(b / "bin" / "activate")))
    out = run_script(shell, [
        *setup_lines(shell, True),
        "env -0 > before",
        source,
        "env -0 > with-b",
        prompt_command(shell, "prompt-b"),
        activate_line(shell, str(a)),
        "python -c 'import sys; print(sys.prefix)'",
        "env -0 > during",
        prompt_command(shell, "prompt"),
        "deactivate",
        "env -0 > back-to-b",
        prompt_command(shell, "prompt-back"),
        "python -c 'import sys; print(sys.prefix)'",
        deactivate_cli_line(shell),
        "env -0 > after",
    ], environ, tmp)
    assert out.split() == [str(a), str(b)]
    before, with_b, during, back, after = dumps(
        tmp, "before", "with-b", "during", "back-to-b", "after")
    live = {k: v for k, v in during.items() if not k.startswith(p.FRAME_PREFIX)}
    assert not [k for k, v in live.items() if str(b) in v]
    assert back == with_b
    assert (tmp / "prompt").read_text() == f"({a.name}) BP> "
    assert (tmp / "prompt-back").read_text() == (tmp / "prompt-b").read_text()
    assert "VIRTUAL_ENV" not in after and after["PATH"] == before["PATH"]


@pytest.mark.parametrize("shell", SHELLS)
def test_refused_paths_print_nothing(
    shell: str, tmp_path: Path, cli_shell: tuple[Path, dict[str, str]]
) -> None:
    _, environ = cli_shell
    bad = make_env_dir(tmp_path / "a:b")
    proc = subprocess.run([sys.executable, "-m", "venvsel", "activate", str(bad), "--shell", shell],
                          env=environ, capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "PATH separator" in proc.stderr


def test_cmd_refusals_through_the_cli(
    tmp_path: Path, cli_shell: tuple[Path, dict[str, str]]
) -> None:
    _, environ = cli_shell
    for name in ("r&d", "100%", "a^b", "x!y", 'q"q'):
        bad = make_env_dir(tmp_path / name)
        proc = subprocess.run([sys.executable, "-m", "venvsel", "activate", str(bad),
                               "--shell", "cmd"], env=environ, capture_output=True, text=True,
                              check=False)
        assert proc.returncode == 2, name
        assert proc.stdout == ""
        assert "cmd.exe cannot hold safely" in proc.stderr


def test_shell_detected_from_the_parent(two_envs: tuple[Path, Path],
                                        cli_shell: tuple[Path, dict[str, str]]) -> None:
    a, _ = two_envs
    tmp, environ = cli_shell
    out = run_script("fish", [f"venvsel activate {q(str(a))} | source", "echo $VIRTUAL_ENV"],
                     environ, tmp)
    assert out.strip() == str(a)
    out = run_script("zsh", [f"eval \"$(venvsel activate {q(str(a))})\"", "echo $VIRTUAL_ENV"],
                     environ, tmp)
    assert out.strip() == str(a)


def test_zsh_rc_quotes_and_posix_quotes(cli_shell: tuple[Path, dict[str, str]]) -> None:
    """zsh's RC_QUOTES makes '' a quote inside '…'; our quoting never produces that pair
    inside a string, so values come out the same with the option on."""
    tmp, environ = cli_shell
    env_dir = make_env_dir(tmp / "it's ''quoted'' '")
    code = render(p.build_plan(Env(path=str(env_dir), kind="venv", source="t"), environ,
                               os_name="posix"), "zsh")
    (tmp / "code").write_text(code)
    out = run_script("zsh", ["setopt rcquotes", ". ./code", "printf '%s' \"$VIRTUAL_ENV\""],
                     environ, tmp)
    assert out == str(env_dir)


def test_json_output(two_envs: tuple[Path, Path], cli_shell: tuple[Path, dict[str, str]]) -> None:
    a, _ = two_envs
    _, environ = cli_shell
    proc = subprocess.run([sys.executable, "-m", "venvsel", "activate", str(a), "--shell", "bash",
                           "--json"], env=environ, capture_output=True, text=True, check=True)
    data = json.loads(proc.stdout)
    assert data["venvsel"] == 1 and data["command"] == "activate"
    assert data["data"]["env"]["path"] == str(a)
    assert "export VIRTUAL_ENV=" in data["data"]["code"]
    proc = subprocess.run([sys.executable, "-m", "venvsel", "deactivate", "--shell", "bash"],
                          env=environ, capture_output=True, text=True, check=True)
    assert proc.stdout == "" and "no environment is active" in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("shell", SHELLS)
def test_activate_by_need_in_each_shell(
    shell: str, seed_project: Path, cli_shell: tuple[Path, dict[str, str]]
) -> None:
    """The env chosen by --need (the seed's project: only .venv has torch and llama_cpp)."""
    tmp, environ = cli_shell
    environ = {**environ, "VENVSEL_CACHE_DIR": os.environ["VENVSEL_CACHE_DIR"]}
    pick = ("venvsel activate --need torch --need llama --shell fish | source" if shell == "fish"
            else f"eval \"$(venvsel activate --need torch --need llama --shell {shell})\"")
    script = tmp / f"need.{shell}"
    script.write_text("\n".join([
        "env -0 > " + q(str(tmp / "before")),
        pick,
        "python -c 'import sys, torch, llama_cpp; print(sys.prefix)'",
        "deactivate",
        "env -0 > " + q(str(tmp / "after")),
    ]) + "\n")
    proc = subprocess.run([*COMMAND[shell], str(script)], env=environ, cwd=seed_project,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(seed_project / ".venv")
    before, after = dumps(tmp, "before", "after")
    assert after == before


@pytest.mark.parametrize("shell", SHELLS)
def test_a_conda_env_sets_conda_prefix(
    shell: str, tmp_path: Path, cli_shell: tuple[Path, dict[str, str]]
) -> None:
    tmp, environ = cli_shell
    prefix = make_env_dir(tmp_path / "miniconda" / "envs" / "ml")
    (prefix / "pyvenv.cfg").unlink()
    (prefix / "conda-meta").mkdir()
    (prefix / "conda-meta" / "history").write_text("==> 2026-11-29 12:00:00 <==\n")
    out = run_script(shell, [
        "env -0 > before",
        activate_line(shell, str(prefix)),
        "printf '%s|%s|%s\\n' \"$CONDA_PREFIX\" \"$CONDA_DEFAULT_ENV\" \"${VIRTUAL_ENV-unset}\""
        if shell != "fish" else
        "printf '%s|%s|%s\\n' \"$CONDA_PREFIX\" \"$CONDA_DEFAULT_ENV\" (set -q VIRTUAL_ENV; "
        "and echo $VIRTUAL_ENV; or echo unset)",
        "python -c 'import sys; print(sys.executable)'",
        "deactivate",
        "env -0 > after",
    ], environ, tmp)
    assert out.splitlines() == [f"{prefix}|ml|unset", str(prefix / "bin" / "python")]
    before, after = dumps(tmp, "before", "after")
    assert after == before


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_from_the_hook(shell: str, cli_shell: tuple[Path, dict[str, str]]) -> None:
    """The hook registers click's completion; completing `venvsel act` offers activate."""
    tmp, environ = cli_shell
    if shell == "bash":
        lines = ['eval "$(venvsel shell-hook bash)"', "complete -p venvsel"]
    elif shell == "zsh":
        lines = ["autoload -Uz compinit", "compinit -u -D", 'eval "$(venvsel shell-hook zsh)"',
                 "print -r -- ${_comps[venvsel]}"]
    else:
        lines = ["venvsel shell-hook fish | source", "complete -c venvsel"]
    out = run_script(shell, lines, environ, tmp)
    assert "_venvsel_completion" in out
    proc = subprocess.run(["venvsel"], env={**environ, "_VENVSEL_COMPLETE": "bash_complete",
                                             "COMP_WORDS": "venvsel act", "COMP_CWORD": "1"},
                          capture_output=True, text=True, check=True)
    assert "plain,activate" in proc.stdout.splitlines()


def test_detect_through_the_parent_process() -> None:
    """A real parent shell: venvsel run by `zsh -c` writes zsh, by `fish -c` fish."""
    code = "from venvsel.shells import detect_shell; print(detect_shell())"
    env = {**os.environ, "SHELL": "/bin/false", "PYTHONPATH": str(REPO)}
    for shell, expected in (("bash", "bash"), ("zsh", "zsh"), ("fish", "fish"), ("dash", "sh")):
        out = subprocess.run([shell, "-c", f"{sys.executable} -c '{code}'; :"],
                             capture_output=True, text=True, env=env, check=True)
        assert out.stdout.strip() == expected, (shell, out.stderr)


def test_a_broken_env_is_activated_with_a_warning(
    tmp_path: Path, cli_shell: tuple[Path, dict[str, str]]
) -> None:
    _, environ = cli_shell
    broken = tmp_path / "broken"
    (broken / "bin").mkdir(parents=True)
    os.symlink(tmp_path / "gone" / "python", broken / "bin" / "python")
    (broken / "pyvenv.cfg").write_text(f"home = {tmp_path / 'gone'}\n")
    proc = subprocess.run([sys.executable, "-m", "venvsel", "activate", str(broken), "--shell",
                           "bash"], env=environ, capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert f"export VIRTUAL_ENV='{broken}'" in proc.stdout
    assert proc.stderr.startswith(f"venvsel: warning: {broken} looks broken: ")
