"""cmd.exe output against its refusal rules. There is no cmd.exe here: the KEY=VALUE lines
are read back the way venvsel.bat's ``FOR /F "usebackq tokens=1* delims==" … DO SET
"%%A=%%B"`` reads them, and every value that reaches cmd must be free of the characters cmd
cannot hold safely."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import given, settings

from tests.shellnames import hostile_names, windows_name
from venvsel.errors import UsageError
from venvsel.model import Env
from venvsel.shells import cmdexe
from venvsel.shells import operations as p

LONG = os.environ.get("VENVSEL_LONG_TESTS") == "1"
settings.register_profile("venvsel-cmd", max_examples=5000 if LONG else 300, deadline=None)
UNSAFE = set('"&|<>^!%\r\n\0')
LINE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=[^\r\n]*\Z")
ENVIRON = {"PATH": "C:\\Windows\\system32;C:\\Program Files (x86)\\Tool", "PROMPT": "$P$G"}


def for_f(text: str) -> dict[str, str]:
    """What the FOR /F loop sets: NAME -> value ("" removes the variable)."""
    out: dict[str, str] = {}
    for line in text.split("\n"):
        if not line or line.startswith(";"):  # FOR /F skips empty lines and eol=; lines
            continue
        assert LINE.match(line), line
        name, _, value = line.partition("=")
        out[name] = value
    return out


def windows_env(name: str) -> Env:
    return Env(path="C:\\Users\\me\\" + name, kind="venv", source="t", layout="windows")


def test_plain_activation() -> None:
    env = windows_env("proj$1")
    text = cmdexe.render(p.build_plan(env, ENVIRON, os_name="nt"))
    assert text.endswith("\n") and "\r" not in text
    values = for_f(text)
    assert values["VIRTUAL_ENV"] == env.path
    assert values["PATH"] == "C:\\Users\\me\\proj$1\\Scripts;" + ENVIRON["PATH"]
    assert values["_VENVSEL_OLD_PATH"] == ENVIRON["PATH"]
    assert values["PROMPT"] == "(proj$$1) $P$G"  # $ starts a PROMPT code: doubled
    assert values["_VENVSEL_OLD_PROMPT"] == "$P$G"
    assert values["PYTHONHOME"] == ""  # removed


def test_deactivation_restores_path_and_prompt() -> None:
    env = windows_env("proj")
    active = p.apply_to_environ(p.build_plan(env, ENVIRON, os_name="nt"), ENVIRON)
    active["_VENVSEL_OLD_PROMPT"] = "$P$G"  # what the .bat set from the activation's lines
    plan = p.build_deactivate_plan(active, os_name="nt")
    assert plan is not None
    values = for_f(cmdexe.render(plan))
    assert values["PATH"] == ENVIRON["PATH"]
    assert values["PROMPT"] == "$P$G"
    assert values["VIRTUAL_ENV"] == "" and values["_VENVSEL_OLD_PATH"] == ""


@pytest.mark.parametrize("ch", sorted(UNSAFE - {"\0"}))
def test_each_metacharacter_in_the_path_is_refused(ch: str) -> None:
    with pytest.raises(UsageError, match=r"cmd\.exe cannot hold safely") as info:
        cmdexe.render(p.build_plan(windows_env(f"a{ch}b"), ENVIRON, os_name="nt"))
    assert info.value.exit_code == 2


def test_metacharacters_in_the_users_path_are_refused_too() -> None:
    environ = {"PATH": "C:\\R&D\\bin;C:\\Windows"}
    with pytest.raises(UsageError, match="PATH contains '&'"):
        cmdexe.render(p.build_plan(windows_env("ok"), environ, os_name="nt"))


def test_semicolon_and_leading_equals() -> None:
    with pytest.raises(UsageError, match="PATH separator"):
        cmdexe.render(p.build_plan(windows_env("a;b"), ENVIRON, os_name="nt"))
    with pytest.raises(UsageError, match="leading '='"):
        cmdexe.check("=x", "a value")


@settings(settings.get_profile("venvsel-cmd"))
@given(name=hostile_names)
def test_hostile_names_are_refused_or_exact(name: str) -> None:
    name = windows_name(name)
    env = windows_env(name)
    # the name is also the prompt and VIRTUAL_ENV_PROMPT: a leading "=" is refused there
    unsafe = bool(UNSAFE & set(name)) or ";" in name or name.startswith("=")
    try:
        text = cmdexe.render(p.build_plan(env, ENVIRON, os_name="nt"))
    except UsageError:
        assert unsafe, name
        return
    assert not unsafe, name
    values = for_f(text)
    for value in values.values():
        assert not UNSAFE & set(value) and not value.startswith("=")
    assert values["VIRTUAL_ENV"] == env.path
    assert values["VIRTUAL_ENV_PROMPT"] == p.dir_name(env)
    assert values["PATH"].split(";")[0] == env.path + "\\Scripts"


def test_stacked_activation_and_pop_as_key_value_lines() -> None:
    """cmd cannot compute: the frame is written as the values venvsel saw, and popping it
    writes them back; empty lines remove a variable."""
    environ = {"PATH": "C:\\Windows", "PROMPT": "$P$G"}
    a = Env(path="C:\\envs\\a", kind="venv", source="t", layout="windows")
    b = Env(path="C:\\envs\\b", kind="venv", source="t", layout="windows")
    with_a = p.apply_to_environ(p.build_plan(a, environ, os_name="nt"), environ)
    plan_b = p.build_plan(b, with_a, os_name="nt")
    lines = cmdexe.render(plan_b).splitlines()
    assert "_VENVSEL_S1_VIRTUAL_ENV=C:\\envs\\a" in lines
    assert "_VENVSEL_S1_PROMPT=" + with_a["PROMPT"] in lines
    assert "_VENVSEL_DEPTH=1" in lines
    with_b = p.apply_to_environ(plan_b, with_a)
    deact = p.build_deactivate_plan(with_b, os_name="nt")
    assert deact is not None
    lines = cmdexe.render(deact).splitlines()
    assert "VIRTUAL_ENV=C:\\envs\\a" in lines and "PROMPT=" + with_a["PROMPT"] in lines
    assert "_VENVSEL_DEPTH=" in lines and "_VENVSEL_S1_VIRTUAL_ENV=" in lines
    assert p.apply_to_environ(deact, with_b) == with_a
