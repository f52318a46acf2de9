"""Discovery on real directory trees: naming rules, locators, layouts, broken envs, links,
hostile names, errors, the config file, and the promise that nothing is spawned.

Trees are built on disk here (pyvenv.cfg, conda-meta/, bin/python linked to the real running
interpreter); the real interpreter-made envs are in tests/integration/test_discover_real.py.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from tests import envs
from venvsel import errors
from venvsel.config import Config, load_config
from venvsel.contents import inspect_env
from venvsel.discover import discover, env_from_path, read_pyvenv_cfg
from venvsel.model import Env

PY = os.path.realpath(sys.executable)
SHORT = "{}.{}".format(*sys.version_info[:2])


def venv_tree(dest: Path, *, cfg: str | None = None, python: str | None = PY) -> Path:
    """A venv laid out as `python -m venv` lays it out (pyvenv.cfg, bin/python link, lib)."""
    (dest / "bin").mkdir(parents=True)
    (dest / "lib" / f"python{SHORT}" / "site-packages").mkdir(parents=True)
    if python is not None:
        os.symlink(python, dest / "bin" / "python")
    if cfg is None:
        cfg = (
            f"home = {os.path.dirname(PY)}\ninclude-system-site-packages = false\n"
            f"version = {platform.python_version()}\n"
        )
    (dest / "pyvenv.cfg").write_text(cfg)
    return dest


def conda_tree(dest: Path) -> Path:
    """A conda prefix: conda-meta/history, bin/python, lib/pythonX.Y/site-packages."""
    (dest / "conda-meta").mkdir(parents=True)
    (dest / "conda-meta" / "history").write_text("==> 2026-11-29 12:00:00 <==\n")
    (dest / "bin").mkdir()
    os.symlink(PY, dest / "bin" / "python")
    (dest / "lib" / f"python{SHORT}" / "site-packages").mkdir(parents=True)
    return dest


def base_tree(dest: Path, version: str = "3.11.7") -> Path:
    """A base interpreter prefix (what pyenv installs): bin/python, lib, include, no pyvenv.cfg."""
    short = ".".join(version.split(".")[:2])
    (dest / "bin").mkdir(parents=True)
    os.symlink(PY, dest / "bin" / "python")
    (dest / "lib" / f"python{short}" / "site-packages").mkdir(parents=True)
    (dest / "include" / f"python{short}").mkdir(parents=True)
    (dest / "include" / f"python{short}" / "patchlevel.h").write_text(
        f'#define PY_VERSION              "{version}"\n'
    )
    return dest



def shown(envs: list[Env]) -> list[str | None]:
    return [e.shown_path for e in envs]


# --------------------------------------------------------------------------- project-local


def test_real_bare_env_is_found_by_name_and_as_root(
    bare_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(bare_env.parent)
    [env] = discover(include_global=False)
    assert env.path == os.path.realpath(bare_env)
    assert env.shown_path == "venv"
    assert (env.kind, env.source, env.layout, env.broken) == (
        "virtualenv",
        "project",
        "posix",
        None,
    )
    assert env.interpreter == os.path.join(env.path, "bin", "python")
    short = envs.python_facts(envs.WHEEL_PYTHON)[2]  # the interpreter bare_env was made from
    assert env.site_packages == (os.path.join(env.path, "lib", f"python{short}", "site-packages"),)
    # The env itself as ROOT
    [again] = discover([str(bare_env)], include_global=False)
    assert again.path == env.path and again.shown_path == "venv"
    monkeypatch.chdir(bare_env)
    assert discover(include_global=False)[0].shown_path == "."


def test_project_rules_names_depth_skips_and_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "proj"
    venv_tree(root / ".venv")
    venv_tree(root / ".venv-gpu")
    venv_tree(root / "venv310")
    venv_tree(root / "env")
    conda_tree(root / ".conda")
    venv_tree(root / "tooling")  # any name, but it has pyvenv.cfg
    conda_tree(root / "condaish")  # any name, but it has conda-meta/
    venv_tree(root / "sub" / ".venv")  # one level of children
    venv_tree(root / ".tox" / "py311")
    venv_tree(root / "sub" / "deeper" / ".venv")  # two levels: not looked at
    venv_tree(root / ".git" / "venv")  # never entered
    venv_tree(root / "node_modules" / "venv")
    venv_tree(root / "__pycache__" / "venv")
    # A dir with only bin/python counts when named like an env, not otherwise.
    base_tree(root / "venv-bare")
    base_tree(root / "python-src")
    (root / "env2").mkdir()  # a plain dir named like nothing in particular
    (root / "venv-empty").mkdir()  # named like an env but empty: not an env
    (root / ".venvrc").write_text("not a dir")
    monkeypatch.chdir(root)
    envs = discover(include_global=False)
    assert shown(envs) == [
        ".conda",
        ".tox/py311",
        ".venv",
        ".venv-gpu",
        "condaish",
        "env",
        "sub/.venv",
        "tooling",
        "venv-bare",
        "venv310",
    ]
    assert all(e.source == "project" and not e.active for e in envs)
    kinds = {e.shown_path: e.kind for e in envs}
    assert kinds[".conda"] == kinds["condaish"] == "conda"
    assert kinds[".venv"] == "venv"
    assert kinds["venv-bare"] == "unknown"


def test_envs_under_a_root_given_elsewhere_are_shown_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv_tree(tmp_path / "p" / ".venv")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    [env] = discover([str(tmp_path / "p")], include_global=False)
    assert env.shown_path == str(tmp_path / "p" / ".venv")
    monkeypatch.chdir(tmp_path)
    [env] = discover(["p"], include_global=False)
    assert env.shown_path == os.path.join("p", ".venv")


def test_several_roots_keep_their_order(tmp_path: Path) -> None:
    venv_tree(tmp_path / "b" / ".venv")
    venv_tree(tmp_path / "a" / ".venv")
    envs = discover([str(tmp_path / "b"), str(tmp_path / "a")], include_global=False)
    assert [e.path for e in envs] == [str(tmp_path / "b" / ".venv"), str(tmp_path / "a" / ".venv")]


@pytest.mark.parametrize(
    ("cfg_extra", "kind"),
    [
        ("", "venv"),
        ("virtualenv = 20.26.0\n", "virtualenv"),
        ("uv = 0.5.11\n", "uv"),
        ("implementation = CPython\nuv = 0.5.11\nvirtualenv = 20.1\n", "uv"),
    ],
)
def test_kind_from_pyvenv_cfg(tmp_path: Path, cfg_extra: str, kind: str) -> None:
    venv_tree(tmp_path / ".venv", cfg=f"home = {os.path.dirname(PY)}\n{cfg_extra}")
    [env] = discover([str(tmp_path)], include_global=False)
    assert env.kind == kind


def test_read_pyvenv_cfg_like_site_py(tmp_path: Path) -> None:
    (tmp_path / "pyvenv.cfg").write_bytes(
        b"Home = /x/bin\r\nversion_info = 3.12.1.final.0\n"
        b"no equals sign here\nprompt = a = b\n\xff\n"
    )
    cfg = read_pyvenv_cfg(str(tmp_path))
    assert cfg == {"home": "/x/bin", "version_info": "3.12.1.final.0", "prompt": "a = b"}
    assert read_pyvenv_cfg(str(tmp_path / "missing")) is None


# --------------------------------------------------------------------------- broken envs


def test_dangling_interpreter_link(tmp_path: Path) -> None:
    gone = tmp_path / "old-base" / "python3.11"
    gone.parent.mkdir()
    gone.write_text("")
    env_dir = venv_tree(tmp_path / "p" / ".venv", python=None)
    os.symlink("python3.11", env_dir / "bin" / "python")  # relative, like venv does
    os.symlink(gone, env_dir / "bin" / "python3.11")
    gone.unlink()
    [env] = discover([str(tmp_path / "p")], include_global=False)
    assert env.broken == f"bin/python points to {gone}, which no longer exists"


def test_interpreter_link_loop_is_a_reason_not_a_hang(tmp_path: Path) -> None:
    env_dir = venv_tree(tmp_path / ".venv", python=None)
    os.symlink("python3", env_dir / "bin" / "python")
    os.symlink("python", env_dir / "bin" / "python3")
    [env] = discover([str(tmp_path)], include_global=False)
    assert env.broken == "bin/python is a symlink loop"


def test_home_missing_and_home_gone_and_no_interpreter(tmp_path: Path) -> None:
    venv_tree(tmp_path / ".venv-nohome", cfg="version = 3.11.7\n")
    venv_tree(tmp_path / ".venv-gone", cfg=f"home = {tmp_path / 'deleted' / 'bin'}\n")
    venv_tree(tmp_path / ".venv-noexe", python=None)
    envs = {e.shown_path: e for e in discover([str(tmp_path)], include_global=False)}
    assert len(envs) == 3  # broken envs are listed, never hidden
    by_name = {os.path.basename(k or ""): v.broken for k, v in envs.items()}
    assert by_name[".venv-nohome"] is not None and "no 'home' line" in by_name[".venv-nohome"]
    assert by_name[".venv-gone"] == f"base Python at {tmp_path / 'deleted' / 'bin'} is gone"
    assert by_name[".venv-noexe"] == "no Python interpreter: bin/python does not exist"


def test_versioned_interpreter_only(tmp_path: Path) -> None:
    env_dir = venv_tree(tmp_path / ".venv", python=None)
    os.symlink(PY, env_dir / "bin" / f"python{SHORT}")
    (env_dir / "bin" / f"python{SHORT}-config").write_text("")
    [env] = discover([str(tmp_path)], include_global=False)
    assert env.interpreter == str(env_dir / "bin" / f"python{SHORT}")
    assert env.broken is None


# --------------------------------------------------------------------------- layouts


def test_windows_layout_recognised_on_any_host(tmp_path: Path) -> None:
    env_dir = tmp_path / ".venv"
    (env_dir / "Scripts").mkdir(parents=True)
    (env_dir / "Scripts" / "python.exe").write_bytes(
        b"MZ\x90\x00"
    )  # a plain file, not runnable here
    (env_dir / "Lib" / "site-packages").mkdir(parents=True)
    (env_dir / "pyvenv.cfg").write_text(
        "home = C:\\Users\\me\\AppData\\Local\\Programs\\Python\\Python311\n"
        "include-system-site-packages = false\nversion = 3.11.7\n"
    )
    [env] = discover([str(tmp_path)], include_global=False)
    assert env.layout == "windows"
    assert env.interpreter == str(env_dir / "Scripts" / "python.exe")
    assert env.site_packages == (str(env_dir / "Lib" / "site-packages"),)
    assert env.bin_dir == str(env_dir / "Scripts")
    assert env.broken is None  # a Windows base path cannot be checked from here; not "gone"


def test_windows_conda_prefix_has_python_exe_at_root(tmp_path: Path) -> None:
    env_dir = tmp_path / "envs-win"
    (env_dir / "conda-meta").mkdir(parents=True)
    (env_dir / "python.exe").write_bytes(b"MZ")
    (env_dir / "Lib" / "site-packages").mkdir(parents=True)
    [env] = discover([str(tmp_path)], include_global=False)
    assert (env.kind, env.layout, env.interpreter) == (
        "conda",
        "windows",
        str(env_dir / "python.exe"),
    )


def test_lib64_link_is_not_a_second_site_packages(tmp_path: Path) -> None:
    env_dir = venv_tree(tmp_path / ".venv")
    os.symlink("lib", env_dir / "lib64")
    [env] = discover([str(tmp_path)], include_global=False)
    assert env.site_packages == (str(env_dir / "lib" / f"python{SHORT}" / "site-packages"),)


# --------------------------------------------------------------------------- links


def test_symlinked_venv_to_another_env_is_one_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv_tree(tmp_path / "real-env")
    os.symlink("real-env", tmp_path / ".venv")
    monkeypatch.chdir(tmp_path)
    [env] = discover(include_global=False)
    assert env.path == str(tmp_path / "real-env")
    assert env.shown_path == ".venv"  # the name the user sees first, sorted by name


def test_symlink_loops_terminate(tmp_path: Path) -> None:
    root = tmp_path / "root"
    venv_tree(root / "sub" / ".venv")
    os.symlink(".", root / "self")  # a link back to the root
    os.symlink("..", root / "sub" / "up")
    os.symlink(root, root / "sub" / "again")
    os.symlink("loop-b", root / "loop-a")
    os.symlink("loop-a", root / "loop-b")
    os.symlink("selfloop", root / "selfloop")
    os.symlink("sub", root / "alias")  # a second name for sub/: its .venv is one record
    os.symlink("missing", root / ".venv-dangling")
    envs = discover([str(root)], include_global=False)
    assert [e.path for e in envs] == [str(root / "sub" / ".venv")]
    assert envs[0].shown_path == str(root / "alias" / ".venv")


# --------------------------------------------------------------------------- hostile names

HOSTILE = [
    "with space",
    "single'quote",
    'double"quote',
    "curly’quote",
    "dollar$HOME",
    "back`tick`",
    "ünïcødé-环境",
    "semi;colon&amp|pipe",
    "-leading-dash",
    "new\nline",
]


@pytest.mark.parametrize("name", HOSTILE, ids=lambda n: n.encode("unicode_escape").decode())
def test_hostile_names_round_trip(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / f"proj {name}"
    venv_tree(root / f".venv {name}")
    venv_tree(root / name / ".venv")
    monkeypatch.chdir(tmp_path)
    envs = discover([str(root)], include_global=False)
    assert shown(envs) == [
        os.path.join(f"proj {name}", p) for p in sorted([f".venv {name}", f"{name}/.venv"])
    ]
    for env in envs:
        assert os.path.isdir(env.path) and env.broken is None
        assert inspect_env(env).python_version == platform.python_version()
        assert env_from_path(env.shown_path or "").path == env.path


# --------------------------------------------------------------------------- errors


def test_nonexistent_root_is_a_usage_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    with pytest.raises(errors.UsageError) as info:
        discover([missing], include_global=False)
    assert info.value.exit_code == 2
    assert str(info.value).startswith(f"{missing} does not exist")


def test_file_root_is_a_usage_error(tmp_path: Path) -> None:
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(errors.UsageError, match="is not a directory"):
        discover([str(f)], include_global=False)


def test_unreadable_root_is_a_usage_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: permissions do not stop root from reading a directory")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0)
    try:
        with pytest.raises(errors.UsageError, match="cannot be read"):
            discover([str(locked)], include_global=False)
    finally:
        locked.chmod(0o755)


def test_unreadable_subdir_is_skipped_not_fatal(tmp_path: Path) -> None:
    venv_tree(tmp_path / ".venv")
    (tmp_path / "dangling-dir-link").symlink_to(tmp_path / "nowhere")
    [env] = discover([str(tmp_path)], include_global=False)
    assert env.shown_path is not None and env.shown_path.endswith(".venv")


# --------------------------------------------------------------------------- active env


def test_active_env_marked_and_listed_after_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = tmp_path / "proj"
    venv_tree(proj / ".venv")
    other = venv_tree(tmp_path / "elsewhere" / "myenv")
    conda = conda_tree(tmp_path / "conda-base")
    monkeypatch.setenv("VIRTUAL_ENV", str(other))
    monkeypatch.setenv("CONDA_PREFIX", str(conda))
    envs = discover([str(proj)], include_global=False)
    assert [(e.path, e.source, e.active) for e in envs] == [
        (str(proj / ".venv"), "project", False),
        (str(other), "active", True),
        (str(conda), "active", True),
    ]
    monkeypatch.setenv("VIRTUAL_ENV", str(proj / ".venv"))
    envs = discover([str(proj)], include_global=False)
    assert (envs[0].source, envs[0].active) == ("project", True)
    assert len(envs) == 2


def test_active_env_through_a_link_is_the_same_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv_tree(tmp_path / "proj" / ".venv")
    os.symlink(tmp_path / "proj" / ".venv", tmp_path / "link")
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "link"))
    [env] = discover([str(tmp_path / "proj")], include_global=False)
    assert env.active


def test_deleted_active_env_is_shown_broken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "deleted-venv"))
    (tmp_path / "proj").mkdir()
    [env] = discover([str(tmp_path / "proj")], include_global=False)
    assert env.active and env.source == "active"
    assert env.broken == f"$VIRTUAL_ENV is {tmp_path / 'deleted-venv'}, which no longer exists"


# --------------------------------------------------------------------------- global locators


def test_global_locators(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = Path(os.environ["HOME"])
    proj = tmp_path / "proj"
    venv_tree(proj / ".venv")
    # conda: environments.txt (with a stale entry and a comment), an install's base and envs/
    listed = conda_tree(tmp_path / "somewhere" / "conda-env")
    (home / ".conda").mkdir()
    (home / ".conda" / "environments.txt").write_text(
        f"# comment\n{listed}\n{tmp_path / 'deleted-env'}\n\n{proj / '.venv'}\n"
    )
    conda_tree(home / "miniconda3")
    conda_tree(home / "miniconda3" / "envs" / "ml")
    conda_tree(tmp_path / "conda-envs-path" / "extra")
    monkeypatch.setenv("CONDA_ENVS_PATH", str(tmp_path / "conda-envs-path"))
    # pyenv: base versions, a pyenv-virtualenv env and its versions/<name> link
    versions = Path(os.environ["PYENV_ROOT"]) / "versions"
    base_tree(versions / "3.9.18", "3.9.18")
    base_tree(versions / "3.11.7", "3.11.7")
    venv_tree(versions / "3.11.7" / "envs" / "tools")
    os.symlink(versions / "3.11.7" / "envs" / "tools", versions / "tools")
    # virtualenvwrapper and pipenv
    workon = tmp_path / "workon"
    venv_tree(workon / "wrapped")
    monkeypatch.setenv("WORKON_HOME", str(workon))
    venv_tree(home / ".virtualenvs" / "classic")
    pipenv_env = venv_tree(home / ".local" / "share" / "virtualenvs" / "proj-AbCd1234")
    (pipenv_env / ".project").write_text(str(proj))
    # poetry (default cache dir and the override variable), hatch, uv
    venv_tree(home / ".cache" / "pypoetry" / "virtualenvs" / "proj-Xy12Ab34-py3.11")
    venv_tree(tmp_path / "poetry-venvs" / "other-Xy12Ab34-py3.12")
    monkeypatch.setenv("POETRY_VIRTUALENVS_PATH", str(tmp_path / "poetry-venvs"))
    venv_tree(
        home / ".local" / "share" / "hatch" / "env" / "virtual" / "proj" / "Ab12Cd34" / "default"
    )
    venv_tree(tmp_path / "uv-env", cfg=f"home = {os.path.dirname(PY)}\nuv = 0.5.11\n")
    monkeypatch.setenv("UV_PROJECT_ENVIRONMENT", str(tmp_path / "uv-env"))
    # config roots, scanned like ROOTS
    venv_tree(tmp_path / "extra-root" / "svc" / ".venv")

    config = Config(extra_roots=(str(tmp_path / "extra-root"), str(tmp_path / "missing-root")))
    envs = discover([str(proj)], config=config)
    got = [(e.path, e.source, e.kind) for e in envs]
    assert got == [
        (str(proj / ".venv"), "project", "venv"),
        (str(listed), "conda", "conda"),
        (str(home / "miniconda3"), "conda", "conda"),
        (str(home / "miniconda3" / "envs" / "ml"), "conda", "conda"),
        (str(tmp_path / "conda-envs-path" / "extra"), "conda", "conda"),
        (str(versions / "3.9.18"), "pyenv", "pyenv"),
        (str(versions / "3.11.7"), "pyenv", "pyenv"),
        (str(versions / "3.11.7" / "envs" / "tools"), "pyenv", "venv"),
        (str(workon / "wrapped"), "workon", "venv"),
        (str(home / ".virtualenvs" / "classic"), "workon", "venv"),
        (str(pipenv_env), "pipenv", "pipenv"),
        (str(tmp_path / "poetry-venvs" / "other-Xy12Ab34-py3.12"), "poetry", "poetry"),
        (
            str(home / ".cache" / "pypoetry" / "virtualenvs" / "proj-Xy12Ab34-py3.11"),
            "poetry",
            "poetry",
        ),
        (str(home / ".local/share/hatch/env/virtual/proj/Ab12Cd34/default"), "hatch", "hatch"),
        (str(tmp_path / "uv-env"), "uv", "uv"),
        (str(tmp_path / "extra-root" / "svc" / ".venv"), "config", "venv"),
    ]
    assert all(e.broken is None for e in envs)
    # include_global=False: only the roots (and the active env)
    assert [e.source for e in discover([str(proj)], include_global=False, config=config)] == [
        "project"
    ]


def test_config_file_roots_are_used_when_no_config_is_passed(tmp_path: Path) -> None:
    venv_tree(tmp_path / "extra" / ".venv")
    (tmp_path / "proj").mkdir()
    cfg_dir = Path(os.environ["VENVSEL_CONFIG_DIR"])
    cfg_dir.mkdir(parents=True, exist_ok=True)
    (cfg_dir / "config.toml").write_text(f'roots = ["{tmp_path / "extra"}"]\n')
    envs = discover([str(tmp_path / "proj")])
    assert [(e.path, e.source) for e in envs] == [(str(tmp_path / "extra" / ".venv"), "config")]


# --------------------------------------------------------------------------- env_from_path


def test_env_from_path_accepts_dir_executable_and_shown_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_dir = venv_tree(tmp_path / ".venv")
    monkeypatch.chdir(tmp_path)
    by_dir = env_from_path(str(env_dir))
    assert by_dir.path == str(env_dir) and by_dir.source == "explicit" and by_dir.kind == "venv"
    assert by_dir.shown_path == ".venv"
    assert env_from_path(".venv") == by_dir
    assert env_from_path(".venv/bin/python") == by_dir
    assert env_from_path(".venv/bin") == by_dir
    assert env_from_path(str(env_dir / "bin" / "python")) == by_dir
    monkeypatch.setenv("VIRTUAL_ENV", str(env_dir))
    assert env_from_path(".venv").active


def test_env_from_path_windows_and_broken(tmp_path: Path) -> None:
    win = tmp_path / "win"
    (win / "Scripts").mkdir(parents=True)
    (win / "Scripts" / "python.exe").write_bytes(b"MZ")
    (win / "pyvenv.cfg").write_text("home = C:\\Python311\n")
    assert env_from_path(str(win / "Scripts" / "python.exe")).layout == "windows"
    broken = venv_tree(tmp_path / "broken", python=None)
    os.symlink(tmp_path / "gone" / "python3", broken / "bin" / "python")
    env = env_from_path(
        str(broken / "bin" / "python")
    )  # a dangling interpreter path still names its env
    assert env.path == str(broken) and env.broken is not None and "no longer exists" in env.broken


def test_env_from_path_knows_the_locator(tmp_path: Path) -> None:
    versions = Path(os.environ["PYENV_ROOT"]) / "versions"
    base_tree(versions / "3.12.1", "3.12.1")
    env = env_from_path(str(versions / "3.12.1" / "bin" / "python"))
    assert (env.kind, env.source) == ("pyenv", "pyenv")
    poetry = venv_tree(
        Path(os.environ["HOME"]) / ".cache" / "pypoetry" / "virtualenvs" / "x-Ab12Cd34-py3.11"
    )
    assert env_from_path(str(poetry)).kind == "poetry"


def test_env_from_path_rejects_what_is_not_an_env(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(errors.UsageError) as info:
        env_from_path(str(tmp_path / "plain"))
    assert str(info.value).startswith(
        f"{tmp_path / 'plain'} is not a Python environment: no pyvenv.cfg, conda-meta or bin/python"
    )
    assert info.value.exit_code == 2
    with pytest.raises(errors.UsageError, match="does not exist"):
        env_from_path(str(tmp_path / "missing"))
    (tmp_path / "plain" / "file").write_text("")
    with pytest.raises(errors.UsageError, match="is not a Python environment"):
        env_from_path(str(tmp_path / "plain" / "file"))


# --------------------------------------------------------------------------- config file


def _write_config(text: str) -> Path:
    cfg_dir = Path(os.environ["VENVSEL_CONFIG_DIR"])
    cfg_dir.mkdir(parents=True, exist_ok=True)
    f = cfg_dir / "config.toml"
    f.write_text(text)
    return f


def test_config_missing_is_default() -> None:
    assert load_config() == Config()


def test_config_values_and_tilde() -> None:
    _write_config(
        'roots = ["~/projects", "/data/envs", "rel"]\n[probe]\ntimeout = 12.5\njobs = 4\n'
    )
    cfg = load_config()
    home = os.environ["HOME"]
    assert cfg.extra_roots == (
        os.path.join(home, "projects"),
        "/data/envs",
        os.path.join(os.environ["VENVSEL_CONFIG_DIR"], "rel"),
    )
    assert (cfg.probe_timeout, cfg.jobs) == (12.5, 4)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("roots = [\n", "not valid TOML"),
        ('roots = "/one/path"\n', '"roots" must be a list'),
        ("[probe]\ntimeout = -1\n", "timeout must be a positive number"),
        ("[probe]\ntimeout = true\n", "timeout must be a positive number"),
        ("[probe]\njobs = 0\n", "jobs must be a whole number"),
        ("probe = 3\n", "[probe] must be a table"),
    ],
)
def test_config_errors_name_the_file(text: str, fragment: str) -> None:
    f = _write_config(text)
    with pytest.raises(errors.UsageError) as info:
        load_config()
    assert str(f) in str(info.value) and fragment in str(info.value)
    assert info.value.exit_code == 2


# --------------------------------------------------------------------------- no spawn


def test_discover_and_inspect_start_no_process(
    bare_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A guard on every way Python starts a process: discovery and inspection must not."""
    proj = tmp_path / "proj"
    proj.mkdir()
    os.symlink(bare_env, proj / "linked-real-env")  # the real virtualenv, seen through a link
    venv_tree(proj / ".venv")
    conda_tree(proj / ".conda")
    base_tree(Path(os.environ["PYENV_ROOT"]) / "versions" / "3.10.13", "3.10.13")
    monkeypatch.setenv("VIRTUAL_ENV", str(venv_tree(tmp_path / "outside" / "active-env")))

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a process was started: {args!r}")

    monkeypatch.setattr(subprocess, "Popen", forbidden)
    for name in (
        "posix_spawn",
        "posix_spawnp",
        "fork",
        "forkpty",
        "system",
        "popen",
        "execv",
        "execve",
        "execvp",
        "execvpe",
        "spawnv",
        "spawnve",
    ):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, forbidden)
    envs = discover([str(proj)])
    infos = [inspect_env(env) for env in envs]
    env_from_path(str(bare_env))
    assert [e.source for e in envs] == ["project"] * 3 + ["active", "pyenv"]
    assert "pip" in dict(infos[2].distributions)  # the real virtualenv was really read
