"""The trust rule itself (venvsel/trust.py) on real files owned by real users (root and
nobody): which paths count, which modes, which owners. The commands that apply it are
tested in tests/integration/test_trust.py."""

from __future__ import annotations

import grp
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.envs import make_manual_env
from venvsel import trust
from venvsel.discover import env_from_path
from venvsel.model import Env

pytestmark = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="chown to another user needs root (CI runs as root)",
)

NOBODY = 65534
BASE = Path(os.path.realpath(sys.executable))
VERSION = ".".join(map(str, sys.version_info[:3]))


@pytest.fixture(autouse=True)
def fresh_stats() -> Iterator[None]:
    trust._outside.clear()  # outside-env stats are kept per process; each test changes them
    trust._store_cache = None
    yield
    trust._outside.clear()
    trust._store_cache = None


@pytest.fixture
def env_dir(tmp_path: Path) -> Path:
    return make_manual_env(BASE, tmp_path / "env", VERSION)


def _env(path: Path) -> Env:
    return env_from_path(str(path))


def _site(path: Path) -> Path:
    return next(path.glob("lib/python*/site-packages"))


def _problem(path: Path) -> str | None:
    p = trust.rule_problem(_env(path))
    return p.text if p else None


def test_a_fresh_root_env_passes_even_under_a_world_writable_dir(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: above the env, so not part of the rule
    env = make_manual_env(BASE, shared / "env", VERSION)
    verdict = trust.check(_env(env))
    assert verdict.trusted and verdict.owner_uid == 0 and verdict.command is None


def test_env_dir_owned_by_another_user(env_dir: Path) -> None:
    os.chown(env_dir, NOBODY, -1)
    verdict = trust.check(_env(env_dir))
    assert not verdict.trusted
    assert verdict.reason == "untrusted: owned by uid 65534 (nobody)"
    assert verdict.owner_uid == NOBODY
    assert verdict.command == f"venvsel trust '{env_dir}'"
    assert verdict.fix == f"if you trust uid 65534 (nobody): venvsel trust '{env_dir}'"


def test_env_dir_writable_by_others(env_dir: Path) -> None:
    env_dir.chmod(0o777)
    assert _problem(env_dir) == "the env dir is writable by others"


def test_group_writable_is_fine_for_a_private_group_only(env_dir: Path) -> None:
    sp = _site(env_dir)
    sp.chmod(0o775)  # group root: root is its only member
    assert _problem(env_dir) is None
    shared = grp.getgrnam("nogroup").gr_gid  # nobody's group: not root's alone
    os.chown(sp, 0, shared)
    assert _problem(env_dir) == "site-packages is group-writable (group nogroup)"
    verdict = trust.check(_env(env_dir))
    assert verdict.fix is not None and verdict.fix.startswith(f"chmod go-w '{sp}'")


def test_interpreter_link_owner_counts_not_its_mode(env_dir: Path) -> None:
    link = env_dir / "bin" / "python"
    assert link.is_symlink()  # lrwxrwxrwx: a link's own mode never counts
    assert _problem(env_dir) is None
    os.lchown(link, NOBODY, -1)
    assert _problem(env_dir) == "bin/python is owned by uid 65534 (nobody)"


def test_interpreter_target_mode_counts(tmp_path: Path, env_dir: Path) -> None:
    fake = tmp_path / "elsewhere" / "python3"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o757)
    link = env_dir / "bin" / "python"
    link.unlink()
    link.symlink_to(tmp_path / "elsewhere" / "hop")  # two hops: hop -> python3
    (tmp_path / "elsewhere" / "hop").symlink_to("python3")
    assert _problem(env_dir) == f"{fake} (a link's target) is writable by others"


def test_start_up_files(env_dir: Path) -> None:
    sp = _site(env_dir)
    (sp / "ok.pth").write_text("import os\n")
    assert _problem(env_dir) is None
    for name in ("a.pth", "sitecustomize.py", "usercustomize.py"):
        f = sp / name
        f.write_text("import os\n")
        os.chown(f, NOBODY, -1)
        assert _problem(env_dir) == f"site-packages/{name} is owned by uid 65534 (nobody)"
        f.unlink()
    pkg = sp / "sitecustomize"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    os.chown(pkg / "__init__.py", NOBODY, -1)
    assert _problem(env_dir) == (
        "site-packages/sitecustomize/__init__.py is owned by uid 65534 (nobody)")


def test_a_pth_link_to_someone_elses_file(tmp_path: Path, env_dir: Path) -> None:
    theirs = tmp_path / "theirs.pth"
    theirs.write_text("import os\n")
    os.chown(theirs, NOBODY, -1)
    (_site(env_dir) / "x.pth").symlink_to(theirs)
    assert _problem(env_dir) == f"{theirs} (a link's target) is owned by uid 65534 (nobody)"


def test_a_pth_symlink_loop(env_dir: Path) -> None:
    sp = _site(env_dir)
    (sp / "a.pth").symlink_to("b.pth")
    (sp / "b.pth").symlink_to("a.pth")
    problem = _problem(env_dir)
    assert problem is not None and "symlink loop" in problem


def test_other_files_in_site_packages_are_not_start_up_files(env_dir: Path) -> None:
    f = _site(env_dir) / "some_module.py"
    f.write_text("")
    os.chown(f, NOBODY, -1)
    assert _problem(env_dir) is None


def test_sudo_uid_counts_only_under_root(env_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    os.chown(env_dir, NOBODY, -1)
    monkeypatch.setenv("SUDO_UID", str(NOBODY))
    assert trust.allowed_owners() == {0, NOBODY}
    assert _problem(env_dir) is None
    monkeypatch.setenv("SUDO_UID", "not a number")
    assert _problem(env_dir) == "owned by uid 65534 (nobody)"


def test_fingerprint_changes_with_owner_mode_and_new_start_up_files(env_dir: Path) -> None:
    env = _env(env_dir)
    first = trust.fingerprint(env)
    assert trust.fingerprint(env) == first
    (env_dir / "pyvenv.cfg").write_text((env_dir / "pyvenv.cfg").read_text() + "\n")
    assert trust.fingerprint(env) == first  # not a checked path
    sp = _site(env_dir)
    sp.chmod(0o700)
    second = trust.fingerprint(env)
    assert second != first
    (sp / "new.pth").write_text("")
    third = trust.fingerprint(env)
    assert third != second
    os.chown(sp / "new.pth", NOBODY, -1)
    assert trust.fingerprint(env) != third


def test_explicit_trust_holds_until_something_changes(env_dir: Path) -> None:
    os.chown(env_dir, NOBODY, -1)
    env = _env(env_dir)
    assert not trust.check(env).trusted
    record = trust.trust_env(env)
    assert record.state == "holds" and record.rule == "owned by uid 65534 (nobody)"
    verdict = trust.check(env)
    assert verdict.trusted and verdict.explicit
    assert verdict.reason == "trusted by `venvsel trust` (owned by uid 65534 (nobody))"
    env_dir.chmod(0o775)
    verdict = trust.check(env)
    assert not verdict.trusted and "lapsed" in verdict.reason
    assert [r.state for r in trust.trusted_list()] == ["lapsed"]
    assert trust.untrust(str(env_dir)) and not trust.untrust(str(env_dir))
    assert trust.trusted_list() == []


def test_state_dirs(tmp_path: Path) -> None:
    assert trust.state_dir_problem(tmp_path / "absent") is None
    d = tmp_path / "cache"
    d.mkdir()
    assert trust.state_dir_problem(d) is None
    d.chmod(0o777)
    assert trust.state_dir_problem(d) == "it is writable by others"
    d.chmod(0o755)
    os.chown(d, NOBODY, -1)
    assert trust.state_dir_problem(d) == "owned by uid 65534 (nobody)"


def test_path_problem_is_the_bare_phrase(tmp_path: Path) -> None:
    from venvsel.owners import path_problem

    f = tmp_path / "cc"
    assert path_problem(f) is None  # absent
    f.write_text("")
    f.chmod(0o755)
    assert path_problem(f) is None
    link = tmp_path / "link"
    link.symlink_to(f)
    f.chmod(0o777)
    assert path_problem(f) == path_problem(link) == "writable by others"  # the target counts
    f.chmod(0o755)
    os.chown(f, NOBODY, -1)
    assert path_problem(link) == "owned by uid 65534 (nobody)"


def test_bin_dir_counts(env_dir: Path) -> None:
    (env_dir / "bin").chmod(0o777)  # activation puts it first on PATH
    assert _problem(env_dir) == "bin is writable by others"


def test_auto_activation_applies_the_whole_rule(env_dir: Path) -> None:
    from venvsel import auto

    pth = _site(env_dir) / "x.pth"
    pth.write_text("import os\n")
    os.chown(pth, NOBODY, -1)
    env = _env(env_dir)
    reason = auto.untrusted_reason(env)
    assert reason == ("site-packages/x.pth is owned by uid 65534 (nobody); "
                      f"if you trust it: venvsel trust '{env_dir}'")
    trust.trust_env(env)
    assert auto.untrusted_reason(env) is None
