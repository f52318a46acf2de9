"""Project settings, the VS Code JSONC edit, the .envrc block and the undo journal, on real
files in a temporary directory (no env is built here; see tests/integration/test_use_real.py)."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest

from tests import envs
from venvsel import project, resolve
from venvsel.errors import OperationFailed, UsageError
from venvsel.project import Settings, settings_text
from venvsel.use import direnv, journal, vscode

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the same parser before 3.11
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

# ----------------------------------------------------------------------------- finding


def _git_root(path: Path) -> Path:
    """A directory that bounds the walk up, as a repository's root does."""
    path.mkdir(parents=True, exist_ok=True)
    (path / ".git").mkdir()
    return path


def test_walks_up_to_the_nearest_settings(tmp_path: Path) -> None:
    root = _git_root(tmp_path / "repo")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.venvsel]\nneeds = ["torch"]\n'
        'python = ">=3.10"\nenv = ".venv310"\n')
    sub = root / "src" / "pkg"
    sub.mkdir(parents=True)
    found = project.find_project(str(sub))
    assert found is not None
    assert found.root == str(root)
    assert found.kind == "pyproject"
    assert project.recorded_needs(str(sub)) == (["torch"], ">=3.10")
    assert project.recorded_env(str(sub)) == str(root / ".venv310")


def test_pyproject_without_table_does_not_stop_the_walk(tmp_path: Path) -> None:
    root = _git_root(tmp_path / "mono")
    (root / ".venvsel.toml").write_text('needs = ["cuda"]\n')
    member = root / "packages" / "a"
    member.mkdir(parents=True)
    (member / "pyproject.toml").write_text('[project]\nname = "a"\n[tool.ruff]\nx = 1\n')
    assert project.recorded_needs(str(member)) == (["cuda"], None)


def test_own_file_wins_over_pyproject_in_one_dir(tmp_path: Path) -> None:
    root = _git_root(tmp_path / "p")
    (root / "pyproject.toml").write_text('[tool.venvsel]\nneeds = ["torch"]\n')
    (root / ".venvsel.toml").write_text('needs = ["llama"]\n')
    found = project.find_project(str(root))
    assert found is not None and found.kind == "venvsel-toml"
    assert project.recorded_needs(str(root)) == (["llama"], None)


def test_the_repository_root_bounds_the_walk(tmp_path: Path) -> None:
    (tmp_path / ".venvsel.toml").write_text('needs = ["torch"]\n')  # outside the repository
    inner = _git_root(tmp_path / "repo")
    assert project.find_project(str(inner)) is None
    assert project.recorded_needs(str(inner)) == ([], None)
    assert project.recorded_env(str(inner)) is None


def test_where_use_writes(tmp_path: Path) -> None:
    root = _git_root(tmp_path / "r")
    sub = root / "a" / "b"
    sub.mkdir(parents=True)
    target = project.project_for_writing(str(sub))
    assert (target.root, target.kind) == (str(root), "venvsel-toml")
    assert target.file == str(root / ".venvsel.toml")
    (root / "a" / "pyproject.toml").write_text('[project]\nname = "a"\n')
    target = project.project_for_writing(str(sub))
    assert (target.root, target.kind, target.settings) == (str(root / "a"), "pyproject", None)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[tool.venvsel\nneeds = 1\n", "not valid TOML"),
        ('[tool.venvsel]\nneeds = [1, 2]\n', "needs must be a list of strings"),
        ('[tool.venvsel]\npython = 3.10\n', "python must be a string"),
        ('[tool.venvsel]\nenv = ["a"]\n', "env must be a path string"),
        ("[tool]\nvenvsel = 3\n", "must be a table"),
    ],
)
def test_malformed_settings_are_usage_errors(tmp_path: Path, text: str, words: str) -> None:
    root = _git_root(tmp_path / "bad")
    (root / "pyproject.toml").write_text(text)
    with pytest.raises(UsageError, match=words) as info:
        project.recorded_needs(str(root))
    assert str(root / "pyproject.toml") in str(info.value)
    assert info.value.exit_code == 2


def test_a_single_need_string_is_accepted(tmp_path: Path) -> None:
    root = _git_root(tmp_path / "one")
    (root / ".venvsel.toml").write_text('needs = "cuda"\n')
    assert project.recorded_needs(str(root)) == (["cuda"], None)


# ----------------------------------------------------------------------------- writing TOML

SETTINGS = Settings(("torch",), ">=3.10", ".venv310")

PYPROJECTS = {
    "plain": '# top comment\n[project]\nname = "x"  # the name\n'
             'dependencies = [\n  "a",  # why a\n]\n\n'
             "[tool.ruff]\nline-length = 100 # long\n\n# trailing comment for ruff\n\n"
             '[build-system]\nrequires = ["setuptools"]\n',
    "out-of-order tool tables": '[tool.ruff]\nx = 1\n\n[project]\nname = "y"\n\n'
                                '[tool.mypy]\nstrict = true\n',
    "no final newline": '[project]\nname = "z"',
    "dotted keys": '[project]\nname = "z"\ntool.black.line-length = 88\n',
    "empty": "",
    "crlf": '[project]\r\nname = "w"\r\n',
    "unicode": '[project]\nname = "ünï"  # ☃\n',
}


@pytest.mark.parametrize("name", sorted(PYPROJECTS))
def test_new_table_keeps_every_existing_byte(name: str) -> None:
    old = PYPROJECTS[name]
    new = settings_text("pyproject", old, SETTINGS)
    assert new.startswith(old)  # nothing before the table moved or changed
    data = tomllib.loads(new)
    assert data["tool"]["venvsel"] == {"needs": ["torch"], "python": ">=3.10", "env": ".venv310"}
    old_data = tomllib.loads(old)
    data["tool"].pop("venvsel")
    if not data["tool"]:
        del data["tool"]
    assert data == old_data


MIDDLE = (
    "# head\n[project]\nname = \"m\"  # keep me\n\n"
    "[tool.venvsel]\n# why these needs\nneeds = [\"cuda\"]  # the GPU one\nenv = \"/old/env\"\n\n"
    "[tool.other]\na = 1  # tail comment\n"
)


def test_existing_table_is_edited_in_place() -> None:
    new = settings_text("pyproject", MIDDLE, SETTINGS)
    head_end = MIDDLE.index("[tool.venvsel]")
    tail_start = MIDDLE.index("[tool.other]")
    assert new[:head_end] == MIDDLE[:head_end]
    assert new.endswith(MIDDLE[tail_start:])
    table = new[head_end:len(new) - len(MIDDLE[tail_start:])]
    assert "# why these needs" in table  # the table's own comments survive too
    assert tomllib.loads(new)["tool"]["venvsel"] == SETTINGS.as_toml_data()


def test_removing_the_table_keeps_the_rest() -> None:
    new = settings_text("pyproject", MIDDLE, None)
    assert "venvsel" not in tomllib.loads(new).get("tool", {})
    assert new.startswith(MIDDLE[:MIDDLE.index("[tool.venvsel]")])
    assert new.endswith("[tool.other]\na = 1  # tail comment\n")


def test_inline_tool_table_is_refused() -> None:
    with pytest.raises(OperationFailed, match="nothing was changed"):
        settings_text("pyproject", "tool = {black = {x = 1}}\n", SETTINGS)


def test_own_file_created_and_edited_with_comments() -> None:
    created = settings_text("venvsel-toml", None, SETTINGS)
    assert tomllib.loads(created) == SETTINGS.as_toml_data()
    mine = "# mine\nneeds = [\"cuda\"]  # x\nother = 1\n"
    edited = settings_text("venvsel-toml", mine, Settings(("torch",)))
    assert edited.startswith("# mine\n")
    assert "# x" in edited and "other = 1" in edited
    assert tomllib.loads(edited) == {"needs": ["torch"], "other": 1}


# ----------------------------------------------------------------------------- VS Code JSONC

KEY = vscode.INTERPRETER_KEY
VALUE = "${workspaceFolder}/.venv310/bin/python"

JSONC = {
    "comments and trailing comma": '{\n    // editor\n    "editor.tabSize": 2, // two\n'
                                   '    /* block */ "files.exclude": {"**/.git": true},\n}\n',
    "no trailing comma": '{\n  "a": [1, 2, {"b": null}] // end\n}\n',
    "one line": '{"a": 1}',
    "one line trailing comma": '{"a": 1,}',
    "empty object": "{}",
    "empty multi-line": "{\n}\n",
    "tabs and crlf": '{\r\n\t"a": true\r\n}\r\n',
    "bom": '\ufeff{\n    "a": "x"\n}\n',
    "comment-only file": "// nothing yet\n",
    "empty file": "",
    "existing key": '{\n  "python.defaultInterpreterPath": "old", // keep this comment\n'
                    '  "b": 2\n}\n',
    "strings that look like syntax": '{\n  "a": "// not a comment, /* nor this */",\n'
                                     '  "b": "\\"}"\n}\n',
}


def _comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if "//" in line or "/*" in line]


@pytest.mark.parametrize("name", sorted(JSONC))
def test_jsonc_edit_changes_only_the_one_setting(name: str) -> None:
    old = JSONC[name]
    new = vscode.set_key(old, KEY, VALUE)
    assert vscode.load(new) == {**vscode.load(old), KEY: VALUE}
    # Every comment survives (on a line that may have gained a comma or the new value).
    for piece in ("// editor", "// two", "/* block */", "// end", "// keep this comment",
                  "// nothing yet"):
        if piece in old:
            assert piece in new
    if "\r\n" in old:
        assert "\n" not in new.replace("\r\n", "")
    assert new.startswith("\ufeff") == old.startswith("\ufeff")


def test_jsonc_exact_shapes() -> None:
    assert vscode.set_key(None, KEY, "p") == '{\n    "python.defaultInterpreterPath": "p"\n}\n'
    assert vscode.set_key('{"a": 1}', KEY, "p") == '{"a": 1, "python.defaultInterpreterPath": "p"}'
    assert vscode.set_key('{\n\t"a": true // c\n}\n', KEY, "p") == (
        '{\n\t"a": true, // c\n\t"python.defaultInterpreterPath": "p"\n}\n')
    same = '{"python.defaultInterpreterPath": "p"}'
    assert vscode.set_key(same, KEY, "p") is same


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[1, 2]", "not a JSON object"),
        ('{"a": 1 "b": 2}', "expected ',' or '}'"),
        ('{"a": /* open', "comment is not closed"),
        ('{"a": tru}', "unexpected 't'"),
        ('{"a": "unterminated}', "string is not closed"),
        ('{"a": 1} {"b": 2}', "text after the settings object"),
        ('{"python.defaultInterpreterPath": 1, "python.defaultInterpreterPath": 2}',
         "more than once"),
        ('{"a": "\\x"}', "invalid string"),
    ],
)
def test_jsonc_refusals(text: str, words: str) -> None:
    with pytest.raises(vscode.Refusal, match=words):
        vscode.set_key(text, KEY, VALUE)


# ----------------------------------------------------------------------------- direnv


def test_envrc_block_appended_once() -> None:
    assert direnv.envrc_text(None) == direnv.BLOCK
    old = "export FOO=1\n"
    new = direnv.envrc_text(old)
    assert new.startswith(old) and new.endswith(direnv.BLOCK)
    assert direnv.envrc_text(new) == new


# ----------------------------------------------------------------------------- journal


def _snapshot(root: Path) -> dict[str, tuple[str, str]]:
    """Every entry under ``root``: kind and content (bytes hash, link text or mode)."""
    import hashlib

    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", oct(stat.S_IMODE(st.st_mode)))
            else:
                out[rel] = ("file", hashlib.sha256(p.read_bytes()).hexdigest()
                            + oct(stat.S_IMODE(st.st_mode)))
    return out


def test_file_write_and_undo_restore_bytes_and_mode(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_bytes(b"x\r\ny\x00")
    os.chmod(tmp_path / "keep.txt", 0o640)
    before = _snapshot(tmp_path)
    a = journal.write_file(str(tmp_path), "keep.txt", b"new")
    b = journal.write_file(str(tmp_path), ".vscode/deep/settings.json", b"{}")
    assert a is not None and b is not None
    assert stat.S_IMODE(os.stat(tmp_path / "keep.txt").st_mode) == 0o640
    assert b.to_json()["created_dirs"] == [".vscode/deep", ".vscode"]
    assert journal.write_file(str(tmp_path), "keep.txt", b"new") is None  # nothing to change
    for action in (b, a):
        assert journal.conflict(str(tmp_path), action) is None
        journal.undo_action(str(tmp_path), action)
    assert _snapshot(tmp_path) == before


def test_hand_edit_since_is_a_conflict(tmp_path: Path) -> None:
    a = journal.write_file(str(tmp_path), ".envrc", b"ours\n")
    assert a is not None
    (tmp_path / ".envrc").write_bytes(b"ours\nand theirs\n")
    assert "edited since" in (journal.conflict(str(tmp_path), a) or "")
    (tmp_path / ".envrc").unlink()
    assert "removed since" in (journal.conflict(str(tmp_path), a) or "")


def test_pyproject_undo_keeps_later_edits_elsewhere(tmp_path: Path) -> None:
    old = '[project]\nname = "p"\n'
    (tmp_path / "pyproject.toml").write_text(old)
    new = settings_text("pyproject", old, SETTINGS)
    a = journal.write_file(str(tmp_path), "pyproject.toml", new.encode(),
                           toml=journal.TomlEdit("pyproject", None, SETTINGS.as_toml_data()))
    assert a is not None
    edited = new.replace('name = "p"\n', 'name = "p"\nversion = "1"\n')
    (tmp_path / "pyproject.toml").write_text(edited)
    assert journal.conflict(str(tmp_path), a) is None
    journal.undo_action(str(tmp_path), a)
    data = tomllib.loads((tmp_path / "pyproject.toml").read_text())
    assert data == {"project": {"name": "p", "version": "1"}}


def _env_dir(path: Path) -> Path:
    """A real env layout by hand (pyvenv.cfg, bin/python → this interpreter)."""
    return envs.make_manual_env(Path(sys.executable), path,
                                version="{}.{}.{}".format(*sys.version_info[:3]))


def test_link_moves_a_real_env_aside_and_back(tmp_path: Path) -> None:
    _env_dir(tmp_path / ".venv")
    (tmp_path / ".venv" / "marker").write_text("mine")
    target = _env_dir(tmp_path / ".venv310")
    before = _snapshot(tmp_path)
    plan = journal.check_link(str(tmp_path), ".venv", str(target))
    assert plan is not None and ".venv.venvsel-backup" in plan
    a = journal.make_link(str(tmp_path), ".venv", str(target))
    assert a is not None
    assert os.readlink(tmp_path / ".venv") == ".venv310"  # relative: the project can move
    assert (tmp_path / ".venv.venvsel-backup" / "marker").read_text() == "mine"
    assert journal.check_link(str(tmp_path), ".venv", str(target)) is None  # already there
    assert journal.conflict(str(tmp_path), a) is None
    journal.undo_action(str(tmp_path), a)
    assert _snapshot(tmp_path) == before


def test_backup_names_never_clobber(tmp_path: Path) -> None:
    _env_dir(tmp_path / ".venv")
    (tmp_path / ".venv.venvsel-backup").mkdir()
    target = _env_dir(tmp_path / "other")
    a = journal.make_link(str(tmp_path), ".venv", str(target))
    assert a is not None
    assert a.to_json()["before"] == {"kind": "moved", "backup": ".venv.venvsel-backup-2"}


def test_old_link_is_replaced_and_restored(tmp_path: Path) -> None:
    first = _env_dir(tmp_path / "first")
    second = _env_dir(tmp_path / "second")
    os.symlink("first", tmp_path / ".venv")
    a = journal.make_link(str(tmp_path), ".venv", str(second))
    assert a is not None and a.to_json()["before"] == {"kind": "link", "target": "first"}
    assert os.path.realpath(tmp_path / ".venv") == str(second)
    journal.undo_action(str(tmp_path), a)
    assert os.readlink(tmp_path / ".venv") == "first"
    assert os.path.realpath(tmp_path / ".venv") == str(first)


def test_link_conflicts(tmp_path: Path) -> None:
    target = _env_dir(tmp_path / "env")
    a = journal.make_link(str(tmp_path), ".venv", str(target))
    assert a is not None
    os.unlink(tmp_path / ".venv")
    os.symlink("elsewhere", tmp_path / ".venv")
    assert "points elsewhere" in (journal.conflict(str(tmp_path), a) or "")
    os.unlink(tmp_path / ".venv")
    assert "no longer the link" in (journal.conflict(str(tmp_path), a) or "")


@pytest.mark.parametrize(
    ("link", "words"),
    [(".", "the project itself"), ("..", "the project itself"), ("src", "not a Python env"),
     ("missing/dir/.venv", "does not exist")],
)
def test_dangerous_links_are_refused(tmp_path: Path, link: str, words: str) -> None:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "code.py").write_text("x = 1\n")
    target = _env_dir(tmp_path / "env")
    with pytest.raises(UsageError, match=words):
        journal.check_link(str(root), link, str(target))


def test_link_over_the_env_itself_is_refused(tmp_path: Path) -> None:
    env = _env_dir(tmp_path / "outer")
    inner = _env_dir(tmp_path / "outer" / "inner")
    assert journal.check_link(str(tmp_path), "outer", str(env)) is None  # it already is the env
    with pytest.raises(UsageError, match="inside it"):
        journal.check_link(str(tmp_path), "outer", str(inner))


def test_symlinked_settings_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real.toml").write_text("")
    os.symlink("real.toml", tmp_path / "pyproject.toml")
    with pytest.raises(UsageError, match="symbolic link"):
        journal.check_writable(str(tmp_path), "pyproject.toml")


def test_state_is_removed_when_nothing_is_left(tmp_path: Path) -> None:
    chosen = journal.Chosen("/x", "fp", time.time())
    journal.push(str(tmp_path), [], chosen)
    state = json.loads((tmp_path / ".venvsel" / "state.json").read_text())
    assert state["undo"][0]["actions"] == []
    assert (tmp_path / ".venvsel" / ".gitignore").read_text().endswith("*\n")
    assert journal.load_chosen(str(tmp_path)) == chosen
    journal.save_state(str(tmp_path), journal.State())
    assert not (tmp_path / ".venvsel").exists()


def test_corrupt_state_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / ".venvsel").mkdir()
    (tmp_path / ".venvsel" / "state.json").write_text("{not json")
    with pytest.raises(OperationFailed, match=r"state\.json"):
        journal.load_state(str(tmp_path))
    assert journal.load_chosen(str(tmp_path)) is None  # status stays quiet


# ----------------------------------------------------------------------------- status


def test_status_states(tmp_path: Path) -> None:
    from venvsel.cache import env_fingerprint
    from venvsel.discover import env_from_path

    root = _git_root(tmp_path / "s")
    assert resolve.status(str(root)).state == "no-project"
    (root / ".venvsel.toml").write_text('needs = ["torch"]\n')
    assert resolve.status(str(root)).state == "not-recorded"
    env_path = _env_dir(root / ".venv310")
    (root / ".venvsel.toml").write_text('needs = ["torch"]\nenv = ".venv310"\n')
    st = resolve.status(str(root))
    assert (st.state, st.ok, st.env) == ("unverified", True, str(env_path))
    env = env_from_path(str(env_path))
    journal.push(str(root), [], journal.Chosen(env.path, env_fingerprint(env), time.time()))
    st = resolve.status(str(root))
    assert (st.state, st.short()) == ("ok", ".venv310")
    # A package installed since: the fingerprint (dist-info dirs, site-packages mtime) moves.
    site = next((env_path / "lib").glob("python*/site-packages"))
    time.sleep(0.01)
    (site / "torch-2.13.0.dist-info").mkdir()
    os.utime(site, (time.time() + 5, time.time() + 5))
    assert resolve.status(str(root)).state == "changed"
    import shutil

    shutil.rmtree(env_path)
    st = resolve.status(str(root))
    assert (st.state, st.ok) == ("missing", False)
    assert st.short() == ".venv310 (missing)"
    assert "pick again for torch" in st.message
