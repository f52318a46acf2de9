"""Shell names, detection, hooks and the renderer registry."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from venvsel import cli, shells
from venvsel.errors import UsageError
from venvsel.model import Env
from venvsel.shells import fish, operations, powershell, sh


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("bash", "bash"), ("/usr/bin/zsh", "zsh"), ("-bash", "bash"), ("dash", "sh"),
     ("/bin/sh", "sh"), ("fish", "fish"), ("pwsh", "pwsh"), ("pwsh.exe", "pwsh"),
     ("powershell.exe", "powershell"), ("C:\\Windows\\System32\\cmd.exe", "cmd"),
     ("tcsh", None), ("nu", None), ("xonsh", None)],
)
def test_normalize(raw: str, expected: str | None) -> None:
    assert shells.normalize(raw) == expected


def test_detect_falls_back_to_shell_variable_then_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    import shellingham

    def fail() -> tuple[str, str]:
        raise shellingham.ShellDetectionFailure()

    monkeypatch.setattr(shellingham, "detect_shell", fail)
    assert shells.detect_shell({"SHELL": "/usr/local/bin/fish"}) == "fish"
    with pytest.raises(UsageError, match="cannot tell which shell") as info:
        shells.detect_shell({"SHELL": "/bin/tcsh"})
    assert "--shell" in str(info.value)
    with pytest.raises(UsageError):
        shells.detect_shell({})


def test_cli_choices_match_the_registry() -> None:
    assert set(cli.SHELL_CHOICES) == set(shells.SHELLS)


def test_every_shell_renders(tmp_path: Path) -> None:
    env = Env(path=str(tmp_path / "e"), kind="venv", source="t")
    pl = operations.build_plan(env, {"PATH": "/usr/bin"}, os_name="posix")
    for shell in shells.SHELLS:
        assert str(tmp_path / "e") in shells.render(pl, shell)
    with pytest.raises(UsageError):
        shells.render(pl, "tcsh")


@pytest.mark.parametrize("shell", shells.HOOK_SHELLS)
def test_hooks_exist_and_define_a_venvsel_function(shell: str) -> None:
    text = shells.hook(shell)
    assert "venvsel" in text
    if shell == "cmd":
        assert text.startswith("@echo off\r\n")
        # the real venvsel, through the Python that runs this one, not the .bat itself
        assert f'set "_VENVSEL_PY={sys.executable}"\r\n' in text
        assert all(line.endswith("\r") for line in text.split("\n")[:-1])
    else:
        assert re.search(r"function (global:)?venvsel|venvsel\(\) \{", text)


def test_hook_with_completion_bash_zsh_fish() -> None:
    assert "_VENVSEL_COMPLETE=bash_complete" in shells.hook("bash", command=cli.cli)
    zsh = shells.hook("zsh", command=cli.cli)
    assert "compdef" in zsh and "(( $+functions[compdef] ))" in zsh
    assert "complete" in shells.hook("fish", command=cli.cli)
    assert shells.hook("pwsh", command=cli.cli) == shells.hook("pwsh")


def test_quote_functions_refuse_nul() -> None:
    for quote in (sh.quote, fish.quote, powershell.quote):
        with pytest.raises(UsageError):
            quote("a\0b")


def test_posix_and_fish_quote_shapes() -> None:
    assert sh.quote("it's") == "'it'\"'\"'s'"
    assert sh.quote("a\\") == "'a\\'"
    assert fish.quote("it's\\") == "'it\\'s\\\\'"


def test_every_auto_shell_has_an_auto_hook() -> None:
    from venvsel import shellnames

    assert set(shells._AUTO_FILES) == set(shellnames.AUTO_SHELLS)
