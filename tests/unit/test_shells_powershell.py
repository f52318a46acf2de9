"""PowerShell output, checked without pwsh (none can be installed here): the code is parsed
with the tree-sitter PowerShell grammar (no ERROR or MISSING nodes, the same program shape
as for a plain name), and every verbatim string is decoded with PowerShell's own tokenizer
rule — the grammar does not know that U+2018..U+201B close a string, PowerShell does, so the
decoder also checks that PowerShell would end each string exactly where tree-sitter did.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import tree_sitter
import tree_sitter_powershell
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.shellnames import hostile_names, windows_name
from venvsel.errors import UsageError
from venvsel.model import Env
from venvsel.shells import operations as p
from venvsel.shells import powershell

LONG = os.environ.get("VENVSEL_LONG_TESTS") == "1"
settings.register_profile(
    "venvsel-pwsh", max_examples=5000 if LONG else 300, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = settings.get_profile("venvsel-pwsh")
QUOTES = "'\u2018\u2019\u201a\u201b"
PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
ENVIRON = {"PATH": "/usr/bin:/bin", "PYTHONHOME": "/opt/o'py\u2019"}


def decode_verbatim(text: str) -> str:
    """A '…' literal as PowerShell's tokenizer reads it: a quote character followed by a
    quote character is one literal character (the second); any other quote ends the
    string — which must then be the literal's last character."""
    assert text[0] in QUOTES, text
    out: list[str] = []
    i = 1
    while i < len(text):
        ch = text[i]
        if ch in QUOTES:
            if i + 1 < len(text) and text[i + 1] in QUOTES:
                out.append(text[i + 1])
                i += 2
                continue
            assert i == len(text) - 1, f"PowerShell ends {text!r} at offset {i}"
            return "".join(out)
        out.append(ch)
        i += 1
    raise AssertionError(f"unterminated string {text!r}")


def nodes(node: Any) -> Iterator[Any]:
    yield node
    for child in node.children:
        yield from nodes(child)


def parse(code: str) -> Any:
    tree = PARSER.parse(code.encode("utf-8"))
    bad = [n for n in nodes(tree.root_node) if n.type == "ERROR" or n.is_missing]
    assert not bad, [(n.type, n.text) for n in bad]
    assert not tree.root_node.has_error
    return tree.root_node


def literals(root: Any) -> list[str]:
    found = [n.text.decode("utf-8") for n in nodes(root) if n.type == "verbatim_string_characters"]
    # our code never writes expandable ("…") or here-strings: only '…' carries values
    assert not [n for n in nodes(root) if "expandable" in n.type or "here_string" in n.type]
    return [decode_verbatim(t) for t in found]


def shape(root: Any) -> list[str]:
    """The program without its string contents: same shape = nothing injected."""
    return [n.type for n in nodes(root) if n.type != "verbatim_string_characters"]


def assignments(root: Any) -> dict[str, str]:
    """${env:NAME} = '…' statements, decoded."""
    out: dict[str, str] = {}
    for n in nodes(root):
        if n.type != "assignment_expression":
            continue
        left = n.children[0].text.decode("utf-8")
        strings = [c for c in nodes(n.children[-1]) if c.type == "verbatim_string_characters"]
        if left.startswith("${env:") and len(strings) == 1 and n.children[-1].text.startswith(
            strings[0].text
        ):
            out[left[6:-1]] = decode_verbatim(strings[0].text.decode("utf-8"))
    return out


def render(env: Env, os_name: str, environ: dict[str, str] = ENVIRON) -> str:
    return powershell.render(p.build_plan(env, environ, os_name=os_name))


def benign(os_name: str) -> Any:
    path = "C:\\Users\\me\\plain" if os_name == "nt" else "/home/me/plain"
    return parse(render(Env(path=path, kind="venv", source="t",
                            layout="windows" if os_name == "nt" else "posix"), os_name))


@pytest.mark.parametrize("ch", list(QUOTES))
def test_quote_doubles_every_single_quote_character(ch: str) -> None:
    assert powershell.quote(f"a{ch}b") == f"'a{ch}{ch}b'"
    assert decode_verbatim(powershell.quote(f"{ch};x{ch}")) == f"{ch};x{ch}"


def test_decoder_catches_an_undoubled_curly_quote() -> None:
    """The check must be able to fail: a quote function that only doubles ASCII ' is unsafe
    in PowerShell, and the decoder says so even though tree-sitter parses it happily."""
    naive = "'a\u2019;touch pwned;\u2019b'"
    parse(f"$x = {naive}")  # tree-sitter sees one string ...
    with pytest.raises(AssertionError, match="PowerShell ends"):
        decode_verbatim(naive)  # ... PowerShell would close it at the first U+2019


def test_backtick_and_dollar_are_literal() -> None:
    assert powershell.quote("`$(calc)`") == "'`$(calc)`'"


def test_refuses_nul_and_undecodable_bytes() -> None:
    with pytest.raises(UsageError):
        powershell.quote("a\0b")
    with pytest.raises(UsageError, match="not valid UTF-8"):
        powershell.quote("a\udcffb")


@pytest.mark.parametrize("os_name", ["posix", "nt"])
def test_plain_activation_parses_and_assigns(os_name: str) -> None:
    root = benign(os_name)
    values = assignments(root)
    if os_name == "nt":
        assert values["VIRTUAL_ENV"] == "C:\\Users\\me\\plain"
    else:
        assert values["VIRTUAL_ENV"] == "/home/me/plain"
    assert values["_VENVSEL_ENV"] == values["VIRTUAL_ENV"]
    # PYTHONHOME is saved from the shell's own value, never pasted
    assert "/opt/o'py\u2019" not in literals(root)
    assert "if (Test-Path -LiteralPath 'env:/PYTHONHOME')" in render(
        Env(path="/e", kind="venv", source="t"), "posix")


@pytest.mark.parametrize("os_name", ["posix", "nt"])
@settings(PROFILE)
@given(name=hostile_names)
def test_hostile_names_parse_clean_and_decode_exactly(os_name: str, name: str) -> None:
    if os_name == "nt":
        name = windows_name(name)
        env = Env(path="C:\\Users\\me\\" + name, kind="venv", source="t", layout="windows")
    else:
        env = Env(path="/home/me/" + name, kind="venv", source="t")
    sep = ";" if os_name == "nt" else ":"
    refused = sep in name or any("\ud800" <= c <= "\udfff" for c in name)
    try:
        code = render(env, os_name)
    except UsageError:
        assert refused, name
        return
    assert not refused, name
    root = parse(code)
    assert shape(root) == shape(benign(os_name))
    values = assignments(root)
    assert values["VIRTUAL_ENV"] == env.path
    assert values["_VENVSEL_ENV"] == env.path
    assert values["VIRTUAL_ENV_PROMPT"] == name
    decoded = literals(root)
    assert f"({name}) " in decoded
    bin_dir = env.path + ("\\Scripts" if os_name == "nt" else "/bin")
    assert bin_dir in decoded


@settings(PROFILE)
@given(name=hostile_names, conda=st.booleans())
def test_deactivation_parses_clean(name: str, conda: bool) -> None:
    """`venvsel deactivate --shell pwsh` with hostile saved values in the environment."""
    environ = {"PATH": f"/home/me/{name}/bin:/usr/bin", "VIRTUAL_ENV": f"/home/me/{name}",
               "PYTHONHOME": name}
    if conda:
        environ = {"PATH": f"/c/{name}/bin:/usr/bin", "CONDA_PREFIX": f"/c/{name}"}
    if any("\ud800" <= c <= "\udfff" for c in name):
        return
    plan = p.build_deactivate_plan(environ, os_name="posix")
    assert plan is not None
    root = parse(powershell.render(plan))
    decoded = literals(root)
    assert f"/home/me/{name}/bin" in decoded or f"/c/{name}/bin" in decoded


@settings(PROFILE)
@given(first=hostile_names, second=hostile_names)
def test_stacked_activation_and_pop_parse_clean(first: str, second: str) -> None:
    """B over A pushes a frame, deactivate pops it: both parse clean with hostile names in
    every saved value, and the frame copies values variable to variable (never pasted)."""
    names = (first, second)
    if any(":" in n or any("\ud800" <= c <= "\udfff" for c in n) for n in names):
        return
    a = Env(path="/home/me/" + first, kind="venv", source="t")
    b = Env(path="/home/me/" + second + "-b", kind="venv", source="t")
    with_a = p.apply_to_environ(p.build_plan(a, ENVIRON, os_name="posix"), ENVIRON)
    plan_b = p.build_plan(b, with_a, os_name="posix")
    assert isinstance(plan_b.ops[0], p.PushFrame)
    code = powershell.render(plan_b)
    root = parse(code)
    assert "${env:_VENVSEL_S1_VIRTUAL_ENV} = ${env:VIRTUAL_ENV}" in code
    assert assignments(root)["VIRTUAL_ENV"] == b.path
    assert a.path not in literals(root)  # A's values are copied in the shell, not pasted
    with_b = p.apply_to_environ(plan_b, with_a)
    deact = p.build_deactivate_plan(with_b, os_name="posix")
    assert deact is not None and isinstance(deact.ops[0], p.PopFrame)
    code = powershell.render(deact)
    parse(code)
    assert "${env:VIRTUAL_ENV} = ${env:_VENVSEL_S1_VIRTUAL_ENV}" in code
    assert p.apply_to_environ(deact, with_b) == with_a
