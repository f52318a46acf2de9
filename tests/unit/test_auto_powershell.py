"""The PowerShell hook and auto-activation code, checked by the tree-sitter parse (no pwsh
here). Apart from test_auto.py because the grammar exists for Python 3.10+ only
(``test.sh --lowest`` runs on 3.9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.shellnames import make_env_dir
from tests.unit.test_auto import HOSTILE, _environ
from tests.unit.test_shells_powershell import assignments, parse
from venvsel import auto, shells
from venvsel.shells import powershell


@pytest.mark.parametrize("shell", ["pwsh", "powershell"])
def test_powershell_hooks_parse(shell: str) -> None:
    for text in (shells.hook(shell), shells.hook(shell, auto=True)):
        parse(text)
        assert "function global:venvsel" in text
    assert "function global:__venvsel_auto" in text
    assert "$global:_VENVSEL_PY = " in text or "$global:_VENVSEL_EXE = " in text


def test_powershell_auto_code_parses_with_a_hostile_project(tmp_path: Path) -> None:
    proj = tmp_path / HOSTILE
    make_env_dir(proj / ".venv")
    r = auto.auto_code("pwsh", None, _environ(tmp_path), start=str(proj))
    assert r.action == "activate"
    root = parse(r.code)
    assert assignments(root)["VIRTUAL_ENV"] == str(proj / ".venv")
    assert f"$global:_VENVSEL_AUTO_ROOT = {powershell.quote(str(proj))}\n" in r.code
