"""An unexpected exception leaves a crash log (issue 12, point 6), on a real crash.

The crash: a trust store (venvsel's own state, in the config dir) edited by hand so that an
entry's ``trusted_at`` is not a number; ``venvsel trust --list`` cannot handle it
(``float("yesterday")`` raises ValueError). Should that ever be handled gracefully, pick
another input venvsel cannot handle: the test must keep a real crash, not a planted one.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tests.conftest import run_venvsel


def _corrupt_trust_store(tmp_path: Path) -> None:
    store = Path(os.environ["VENVSEL_CONFIG_DIR"])
    store.mkdir(mode=0o700, parents=True, exist_ok=True)
    (store / "trusted.json").write_text(json.dumps(
        {"schema": 1, "envs": {str(tmp_path / "env"): {"owner_uid": os.getuid(),
                                                        "trusted_at": "yesterday"}}}))


def test_a_crash_says_one_line_and_leaves_the_traceback_in_a_log(tmp_path: Path) -> None:
    _corrupt_trust_store(tmp_path)
    r = run_venvsel("trust", "--list")
    assert r.returncode == 1, r.stderr
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert lines[0] == ("venvsel: unexpected error (a bug in venvsel): ValueError: could not "
                        "convert string to float: 'yesterday'")
    assert "Traceback" not in r.stderr
    m = re.search(r"the traceback is in (\S+);", r.stderr)
    assert m is not None, r.stderr
    log = Path(m.group(1))
    assert log.parent == Path(os.environ["VENVSEL_LOG_DIR"])
    text = log.read_text()
    assert "command: venvsel trust --list" in text
    assert "Traceback (most recent call last):" in text
    assert 'venvsel/trust.py", line' in text
    assert text.rstrip().endswith("ValueError: could not convert string to float: 'yesterday'")


def test_debug_shows_the_traceback_instead(tmp_path: Path) -> None:
    _corrupt_trust_store(tmp_path)
    r = run_venvsel("--debug", "trust", "--list")
    assert r.returncode == 1
    assert "Traceback (most recent call last):" in r.stderr
    assert r.stderr.rstrip().endswith(
        "ValueError: could not convert string to float: 'yesterday'")
    assert not Path(os.environ["VENVSEL_LOG_DIR"]).exists() or not list(
        Path(os.environ["VENVSEL_LOG_DIR"]).glob("crash-*.log"))


def test_an_unwritable_log_dir_still_gives_one_line_and_exit_1(tmp_path: Path) -> None:
    _corrupt_trust_store(tmp_path)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")  # a file where the log dir should be: mkdir fails, even for root
    env = dict(os.environ, VENVSEL_LOG_DIR=str(blocker / "log"))
    r = run_venvsel("trust", "--list", env=env)
    assert r.returncode == 1
    assert r.stderr.splitlines()[0].startswith("venvsel: unexpected error (a bug in venvsel)")
    assert "the crash log could not be written" in r.stderr and "--debug" in r.stderr
