"""The `venvsel use` undo journal keeps its on-disk format: a ``.venvsel/state.json``
written by venvsel before its actions became typed objects still loads, saves back
unchanged and undoes every change for real."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from tests import envs
from venvsel import use
from venvsel.errors import OperationFailed
from venvsel.use import journal

# Written by the dict-based journal (venvsel before the typed actions), two `venvsel use`
# runs: the first recorded .venvsel.toml and moved a real .venv aside for a link; the second
# wrote VS Code settings (creating .vscode/), replaced .envrc, added [tool.venvsel] to
# pyproject.toml and re-pointed a link.
OLD_STATE = """{
 "venvsel_state": 1,
 "chosen": {"env": "/srv/envs/gpu", "fingerprint": "fp-new", "time": 1764444444.5},
 "undo": [
  {"time": 1764440000.25, "chosen_before": null, "actions": [
   {"type": "file", "path": ".venvsel.toml", "before": null, "mode": null,
    "after_sha256": "7da79247ac8e001772ee8fdd683ca98af7614639006462d1768f71e752433066",
    "created_dirs": []},
   {"type": "link", "path": ".venv", "target": "envs/gpu",
    "before": {"kind": "moved", "backup": ".venv.venvsel-backup"}}
  ]},
  {"time": 1764444444.5,
   "chosen_before": {"env": "/srv/envs/cpu", "fingerprint": "fp-old", "time": 1764440000.25},
   "actions": [
   {"type": "file", "path": ".vscode/settings.json", "before": null, "mode": null,
    "after_sha256": "7e60eabf2a4fff21abcfecae5b687e5aa0c43e9979396a55862b605e8d922e52",
    "created_dirs": [".vscode"]},
   {"type": "file", "path": ".envrc", "before": "ZXhwb3J0IEE9MQo=", "mode": 416,
    "after_sha256": "5ed46b0d14bbb66b68499a5e2b289bc7be7e64f2beb57c3b7bc344a45464dda9",
    "created_dirs": []},
   {"type": "file", "path": "pyproject.toml",
    "before": "W3Byb2plY3RdCm5hbWUgPSAiZGVtbyIK", "mode": 420,
    "after_sha256": "a96996f0053073f2e9da2a092830853bd520c592ddd70c63002a652c37eaa07b",
    "created_dirs": [],
    "toml": {"kind": "pyproject", "before": null, "after": {"needs": ["cuda"]}}},
   {"type": "link", "path": "env-link", "target": "envs/gpu",
    "before": {"kind": "link", "target": "/nonexistent/old-env"}}
  ]}
 ]
}
"""


def _project_as_left(root: Path) -> None:
    """The project exactly as those two runs left it, plus a hand edit of pyproject.toml
    outside the venvsel table (which the undo must keep)."""
    (root / ".git").mkdir(parents=True)
    envs.make_manual_env(Path(sys.executable), root / "envs" / "gpu",
                         version="{}.{}.{}".format(*sys.version_info[:3]))
    envs.make_manual_env(Path(sys.executable), root / ".venv.venvsel-backup",
                         version="{}.{}.{}".format(*sys.version_info[:3]))
    (root / ".venv.venvsel-backup" / "marker").write_text("the user's own env")
    (root / ".venvsel.toml").write_bytes(b'needs = ["torch"]\nenv = ".venv"\n')
    os.symlink("envs/gpu", root / ".venv")
    (root / ".vscode").mkdir()
    (root / ".vscode" / "settings.json").write_bytes(
        b'{\n  "python.defaultInterpreterPath": "envs/gpu/bin/python"\n}\n')
    (root / ".envrc").write_bytes(b'eval "$(venvsel activate --shell bash)"\n')
    os.chmod(root / ".envrc", 0o640)
    (root / "pyproject.toml").write_bytes(
        b'[project]\nname = "demo"\nversion = "1.0"  # user-edit\n\n'
        b'[tool.venvsel]\nneeds = ["cuda"]\n')
    os.chmod(root / "pyproject.toml", 0o644)
    os.symlink("envs/gpu", root / "env-link")
    (root / ".venvsel").mkdir()
    (root / ".venvsel" / ".gitignore").write_text(journal.GITIGNORE)
    (root / ".venvsel" / "state.json").write_text(OLD_STATE)


def test_old_state_loads_and_saves_back_in_the_same_format(tmp_path: Path) -> None:
    _project_as_left(tmp_path)
    state = journal.load_state(str(tmp_path))
    assert [type(a) for a in state.undo[1].actions] == [
        journal.FileAction, journal.FileAction, journal.FileAction, journal.LinkAction]
    assert state.undo[1].actions[1] == journal.FileAction(
        ".envrc", b"export A=1\n", 0o640,
        "5ed46b0d14bbb66b68499a5e2b289bc7be7e64f2beb57c3b7bc344a45464dda9")
    assert state.undo[0].actions[1] == journal.LinkAction(
        ".venv", "envs/gpu", journal.LinkBefore("moved", backup=".venv.venvsel-backup"))
    journal.save_state(str(tmp_path), state)
    saved = (tmp_path / ".venvsel" / "state.json").read_text()
    # the same keys, values and key order as the old writer produced
    assert saved == json.dumps(json.loads(OLD_STATE), indent=1) + "\n"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX symlinks and modes")
def test_old_state_undoes_for_real(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _project_as_left(root)

    second = use.undo(str(root))
    assert second.remaining == 1
    assert not (root / ".vscode").exists()  # the file and the dir made for it
    assert (root / ".envrc").read_bytes() == b"export A=1\n"
    assert stat.S_IMODE(os.stat(root / ".envrc").st_mode) == 0o640
    pyproject = (root / "pyproject.toml").read_text()
    assert "tool.venvsel" not in pyproject and 'version = "1.0"  # user-edit' in pyproject
    assert os.readlink(root / "env-link") == "/nonexistent/old-env"
    assert journal.load_chosen(str(root)) == journal.Chosen("/srv/envs/cpu", "fp-old",
                                                            1764440000.25)
    assert any("restored the venvsel settings" in line for line in second.restored)

    first = use.undo(str(root))
    assert first.remaining == 0
    assert not (root / ".venvsel.toml").exists()
    assert not os.path.islink(root / ".venv")
    assert (root / ".venv" / "marker").read_text() == "the user's own env"
    assert not (root / ".venv.venvsel-backup").exists()
    assert not (root / ".venvsel").exists()  # nothing left to remember


def test_a_malformed_action_is_an_error_naming_the_file(tmp_path: Path) -> None:
    _project_as_left(tmp_path)
    broken = json.loads(OLD_STATE)
    broken["undo"][1]["actions"][3]["before"] = {"kind": "teleported"}
    (tmp_path / ".venvsel" / "state.json").write_text(json.dumps(broken))
    with pytest.raises(OperationFailed, match=r"state\.json is not a venvsel state file"):
        journal.load_state(str(tmp_path))
    with pytest.raises(OperationFailed, match=r"state\.json"):
        use.undo(str(tmp_path))
    assert (tmp_path / ".envrc").read_bytes() == b'eval "$(venvsel activate --shell bash)"\n'
