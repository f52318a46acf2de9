"""The shell-neutral activation plan: what it saves, changes, refuses and restores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.shellnames import make_env_dir
from venvsel.errors import UsageError
from venvsel.model import Env
from venvsel.shells import operations as p

BASE = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/home/u", "PYTHONHOME": "/opt/py"}


def venv(path: str, **kw: object) -> Env:
    return Env(path=path, kind="venv", source="test", **kw)  # type: ignore[arg-type]


def op_of(plan: p.ActivationPlan, kind: type) -> list[object]:
    return [op for op in plan.ops if isinstance(op, kind)]


def test_activation_sets_env_saves_state_and_defines_deactivate(tmp_path: Path) -> None:
    env = venv(str(make_env_dir(tmp_path / "proj" / ".venv")))
    plan = p.build_plan(env, BASE, os_name="posix")
    after = p.apply_to_environ(plan, BASE)
    assert after["VIRTUAL_ENV"] == env.path
    assert after["VIRTUAL_ENV_PROMPT"] == ".venv"
    assert after["PATH"] == f"{env.path}/bin:/usr/local/bin:/usr/bin:/bin"
    assert "PYTHONHOME" not in after
    assert after[p.STATE_ENV] == env.path
    assert after[p.OLD_PATH] == BASE["PATH"]
    assert after["_VENVSEL_OLD_PYTHONHOME"] == "/opt/py"
    assert "_VENVSEL_OLD_VIRTUAL_ENV" not in after  # it was not set: absence means "unset"
    assert plan.prompt == ".venv"
    assert op_of(plan, p.SetPrompt) == [p.SetPrompt("(.venv) ", None)]
    (define,) = op_of(plan, p.DefineDeactivate)
    assert isinstance(define, p.DefineDeactivate)
    # deactivate, applied to the activated environment, gives back exactly the original
    restored = p.apply_to_environ(p.ActivationPlan(define.body, ":"), after)
    assert restored == BASE


def test_deactivate_plan_from_the_environment_restores_exactly(tmp_path: Path) -> None:
    env = venv(str(make_env_dir(tmp_path / "e")))
    after = p.apply_to_environ(p.build_plan(env, BASE, os_name="posix"), BASE)
    deact = p.build_deactivate_plan(after, os_name="posix")
    assert deact is not None
    assert p.apply_to_environ(deact, after) == BASE
    assert p.build_deactivate_plan(BASE, os_name="posix") is None


def test_activating_b_over_a_stacks_and_deactivate_returns_to_a(tmp_path: Path) -> None:
    """Like conda: B over A pushes A's exact state; deactivating B gives back A byte for
    byte (deactivate is A's again), and deactivating A gives back the start."""
    a = venv(str(make_env_dir(tmp_path / "a")))
    b = venv(str(make_env_dir(tmp_path / "b")))
    with_a = p.apply_to_environ(p.build_plan(a, BASE, os_name="posix"), BASE)
    plan_b = p.build_plan(b, with_a, os_name="posix")
    (push,) = op_of(plan_b, p.PushFrame)
    assert isinstance(push, p.PushFrame) and push.depth == 1
    (save,) = op_of(plan_b, p.SavePath)
    assert isinstance(save, p.SavePath) and save.keep and not save.remove
    with_b = p.apply_to_environ(plan_b, with_a)
    live = {k: v for k, v in with_b.items() if not k.startswith(p.FRAME_PREFIX)}
    assert a.path not in "".join(live.values())  # A is kept only in the frame
    assert with_b["PATH"] == f"{b.path}/bin:{BASE['PATH']}"
    assert with_b[p.DEPTH] == "1"
    assert with_b[p.frame_var(1, "VIRTUAL_ENV")] == a.path
    assert not op_of(plan_b, p.DeactivateForeign)
    deact = p.build_deactivate_plan(with_b, os_name="posix")
    assert deact is not None and p.apply_to_environ(deact, with_b) == with_a
    # the deactivate function B defined does the same, then defines A's deactivate
    (define,) = op_of(plan_b, p.DefineDeactivate)
    assert isinstance(define, p.DefineDeactivate)
    assert p.apply_to_environ(p.ActivationPlan(define.body, ":"), with_b) == with_a
    (inner,) = [op for op in define.body if isinstance(op, p.DefineDeactivate)]
    assert p.apply_to_environ(p.ActivationPlan(inner.body, ":"), with_a) == BASE
    deact_a = p.build_deactivate_plan(with_a, os_name="posix")
    assert deact_a is not None and p.apply_to_environ(deact_a, with_a) == BASE


def test_three_deep_and_reactivation(tmp_path: Path) -> None:
    a, b, c = (venv(str(make_env_dir(tmp_path / n))) for n in "abc")
    states = [BASE]
    for env in (a, b, c):
        states.append(p.apply_to_environ(p.build_plan(env, states[-1], os_name="posix"),
                                         states[-1]))
    assert states[-1][p.DEPTH] == "2"
    again = p.build_plan(c, states[-1], os_name="posix")  # C again: nothing pushed
    assert not op_of(again, p.PushFrame)
    assert p.apply_to_environ(again, states[-1]) == states[-1]
    current = states[-1]
    for expected in reversed(states[:-1]):
        deact = p.build_deactivate_plan(current, os_name="posix")
        assert deact is not None
        current = p.apply_to_environ(deact, current)
        assert current == expected
    assert p.build_deactivate_plan(current, os_name="posix") is None


def test_an_env_another_tool_activated_comes_back_exactly(tmp_path: Path) -> None:
    other = str(tmp_path / "other")
    environ = {**BASE, "VIRTUAL_ENV": other, "VIRTUAL_ENV_PROMPT": "other",
               "PATH": f"{other}/bin:{BASE['PATH']}"}
    env = venv(str(make_env_dir(tmp_path / "mine")))
    plan = p.build_plan(env, environ, os_name="posix")
    assert isinstance(plan.ops[0], p.PushFrame) and isinstance(plan.ops[1], p.DeactivateForeign)
    after = p.apply_to_environ(plan, environ)
    assert after["PATH"] == f"{env.path}/bin:{BASE['PATH']}"
    deact = p.build_deactivate_plan(after, os_name="posix")
    assert deact is not None
    assert p.apply_to_environ(deact, after) == environ
    assert op_of(deact, p.RemoveDeactivate)  # its own deactivate function did not survive


def test_a_foreign_venv_is_deactivated_first(tmp_path: Path) -> None:
    other = str(tmp_path / "other")
    environ = {**BASE, "VIRTUAL_ENV": other, "VIRTUAL_ENV_PROMPT": "other",
               "PATH": f"/x:{other}/bin:/usr/bin:{other}/bin"}
    env = venv(str(make_env_dir(tmp_path / "mine")))
    plan = p.build_plan(env, environ, os_name="posix")
    assert isinstance(plan.ops[0], p.PushFrame)  # its exact state, for deactivate
    assert isinstance(plan.ops[1], p.DeactivateForeign)
    (save,) = op_of(plan, p.SavePath)
    assert isinstance(save, p.SavePath)
    assert save.remove == (f"{other}/bin",) and not save.keep
    after = p.apply_to_environ(plan, environ)
    # only the first occurrence goes: that is the one the other activation added
    assert after["PATH"] == f"{env.path}/bin:/x:/usr/bin:{other}/bin"
    assert after["VIRTUAL_ENV"] == env.path
    deact = p.build_deactivate_plan(after, os_name="posix")
    assert deact is not None
    assert p.apply_to_environ(deact, after) == environ  # the other env, as it was
    # and deactivating the other env itself (no venvsel state) takes its dirs out of PATH
    deact = p.build_deactivate_plan(environ, os_name="posix")
    assert deact is not None
    restored = p.apply_to_environ(deact, environ)
    assert restored["PATH"] == f"/x:/usr/bin:{other}/bin"
    assert "VIRTUAL_ENV" not in restored and "VIRTUAL_ENV_PROMPT" not in restored


def test_a_foreign_conda_env_is_deactivated_and_conda_envs_set_conda_prefix(
    tmp_path: Path,
) -> None:
    base_conda = str(tmp_path / "miniconda")
    environ = {**BASE, "CONDA_PREFIX": base_conda, "CONDA_DEFAULT_ENV": "base",
               "CONDA_PROMPT_MODIFIER": "(base) ", "PATH": f"{base_conda}/bin:/usr/bin"}
    target = tmp_path / "envs" / "ml"
    make_env_dir(target)
    env = Env(path=str(target), kind="conda", source="conda")
    after = p.apply_to_environ(p.build_plan(env, environ, os_name="posix"), environ)
    assert after["CONDA_PREFIX"] == str(target)
    assert after["CONDA_DEFAULT_ENV"] == "ml"
    assert "CONDA_PROMPT_MODIFIER" not in after
    assert "VIRTUAL_ENV" not in after
    assert after["PATH"] == f"{target}/bin:/usr/bin"


def test_windows_layouts_and_separator() -> None:
    env = Env(path="C:\\Users\\me\\proj\\.venv", kind="venv", source="t", layout="windows")
    environ = {"PATH": "C:\\Windows\\system32;C:\\Windows"}
    plan = p.build_plan(env, environ, os_name="nt")
    assert plan.path_sep == ";"
    after = p.apply_to_environ(plan, environ)
    assert after["PATH"] == "C:\\Users\\me\\proj\\.venv\\Scripts;C:\\Windows\\system32;C:\\Windows"
    conda = Env(path="C:\\miniconda3\\envs\\ml", kind="conda", source="t", layout="windows")
    assert p.env_path_entries(conda.path, conda=True, windows=True) == (
        "C:\\miniconda3\\envs\\ml",
        "C:\\miniconda3\\envs\\ml\\Library\\mingw-w64\\bin",
        "C:\\miniconda3\\envs\\ml\\Library\\usr\\bin",
        "C:\\miniconda3\\envs\\ml\\Library\\bin",
        "C:\\miniconda3\\envs\\ml\\Scripts",
        "C:\\miniconda3\\envs\\ml\\bin",
    )
    # Windows compares PATH entries without case and trailing separators
    foreign = {"PATH": "c:\\OLD\\scripts\\;C:\\Windows", "VIRTUAL_ENV": "C:\\old"}
    assert p.base_state(foreign, "nt")["PATH"] == "C:\\Windows"


def test_pwsh_on_linux_uses_colon() -> None:
    assert p.path_sep("posix") == ":"
    assert p.path_sep("nt") == ";"


@pytest.mark.parametrize(
    ("path", "os_name", "fragment"),
    [
        ("/tmp/a:b", "posix", "':', the PATH separator"),
        ("C:\\envs\\a;b", "nt", "';', the PATH separator"),
        ("/tmp/a\0b", "posix", "NUL"),
    ],
)
def test_refusals(path: str, os_name: str, fragment: str) -> None:
    layout = "windows" if os_name == "nt" else "posix"
    env = Env(path=path, kind="venv", source="t", layout=layout)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=fragment) as info:
        p.build_plan(env, {"PATH": "/usr/bin"}, os_name=os_name)
    assert info.value.exit_code == 2


def test_colon_is_fine_on_windows_and_semicolon_on_posix(tmp_path: Path) -> None:
    p.build_plan(Env(path="C:\\a", kind="venv", source="t", layout="windows"), {}, os_name="nt")
    env = venv(str(make_env_dir(tmp_path / "a;b")))
    assert p.apply_to_environ(p.build_plan(env, {}, os_name="posix"), {})["PATH"] == (
        f"{env.path}/bin"
    )


def test_nul_in_a_prompt_is_refused(tmp_path: Path) -> None:
    env = venv(str(make_env_dir(tmp_path / "e")))
    with pytest.raises(UsageError, match="NUL"):
        p.build_plan(env, BASE, os_name="posix", prompt="a\0b")


def test_prompt_from_pyvenv_cfg(tmp_path: Path) -> None:
    env_dir = make_env_dir(tmp_path / "e")
    cfg = env_dir / "pyvenv.cfg"
    cfg.write_text(cfg.read_text() + "prompt = 'my proj'\n")  # CPython's venv writes repr()
    assert p.read_prompt(venv(str(env_dir))) == "my proj"
    cfg.write_text("home = /usr/bin\nprompt = raw name\n")  # virtualenv and uv write it raw
    assert p.read_prompt(venv(str(env_dir))) == "raw name"
    plan = p.build_plan(venv(str(env_dir)), BASE, os_name="posix", prompt="given")
    assert plan.prompt == "given"


def test_disable_prompt_variable_drops_the_prompt(tmp_path: Path) -> None:
    env = venv(str(make_env_dir(tmp_path / "e")))
    plan = p.build_plan(env, {**BASE, "VIRTUAL_ENV_DISABLE_PROMPT": "1"}, os_name="posix")
    assert not op_of(plan, p.SetPrompt)


def test_empty_or_missing_path(tmp_path: Path) -> None:
    env = venv(str(make_env_dir(tmp_path / "e")))
    for environ in ({}, {"PATH": ""}):
        after = p.apply_to_environ(p.build_plan(env, environ, os_name="posix"), environ)
        assert after["PATH"] == f"{env.path}/bin"  # never "bin:" (an empty entry means cwd)


def test_every_value_is_listed_for_the_renderers(tmp_path: Path) -> None:
    env = venv(str(make_env_dir(tmp_path / "e")))
    plan = p.build_plan(env, BASE, os_name="posix")
    literals = {v for op in plan.walk() for v in p.values(op)}
    assert env.path in literals and "/opt/py" in literals and "(e) " in literals


def test_plan_module_stays_lean() -> None:
    """The warm activate path imports this module: nothing heavy at import time."""
    import subprocess
    import sys

    code = ("import sys, venvsel.shells.operations, venvsel.shells.sh, venvsel.shells.fish;"
            "bad = [m for m in ('rich', 'packaging', 'click', 'venvsel.cache', 'venvsel.probe')"
            " if m in sys.modules]; print(bad)")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=repo)
    assert out.stdout.strip() == "[]"
