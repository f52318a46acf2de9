"""repair/execute.py: a repair that cannot even write its journal changes nothing."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from tests.unit.test_repair_recovery import tree_hash
from venvsel.contents import inspect_env
from venvsel.discover import env_from_path
from venvsel.errors import OperationFailed
from venvsel.model import Machine
from venvsel.repair.backend import choose_backend
from venvsel.repair.diagnose import diagnose
from venvsel.repair.execute import execute
from venvsel.repair.plan import RepairRequest, make_plan
from venvsel.repair.recovery import pending


def test_failure_before_the_first_step_leaves_the_env_alone(bare_env: Path,
                                                             tmp_path: Path) -> None:
    env_dir = tmp_path / ".venv"
    shutil.copytree(bare_env, env_dir, symlinks=True)
    before = tree_hash(env_dir)
    env = env_from_path(str(env_dir))
    backend = choose_backend(Machine(os="Linux"), "cpu", find_links="/opt/wheels")
    d = diagnose(env, inspect_env(env), None, Machine(os="Linux"), backend)
    plan = make_plan(RepairRequest(env=str(env_dir), rebuild=True), d, backend)
    # the journal beside the backup cannot be written: /dev/null is not a directory
    plan = dataclasses.replace(plan, backup_path="/dev/null/backup")
    with pytest.raises(OperationFailed, match="failed before changing anything"):
        execute(plan, d, progress=lambda _t: None)
    assert tree_hash(env_dir) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".venv"]
    assert pending(str(env_dir)) == []  # nothing for a later run to "recover"


def test_verification_fails_when_a_torch_left_alone_is_gone(bare_env: Path) -> None:
    """A plan that leaves torch alone still checks it afterwards: here the env (a real one,
    probed for real) has no torch although the plan recorded torch 2.11.0+cu130 as kept."""
    from venvsel.repair.execute import verify
    from venvsel.repair.plan import Expect

    env = env_from_path(str(bare_env))
    backend = choose_backend(Machine(os="Linux"), "cpu", find_links="/opt/wheels")
    d = diagnose(env, inspect_env(env), None, Machine(os="Linux"), backend)
    plan = make_plan(RepairRequest(env=str(bare_env)), d, backend)
    kept = Expect(torch_cuda="13.0", kernel=False, torch_kept="2.11.0+cu130")
    ok, text, probe, _ = verify(dataclasses.replace(plan, torch=None, expect=kept), 120)
    assert probe is not None and probe.ok and probe.torch_version is None
    assert not ok
    assert text.startswith("torch was 2.11.0+cu130 and was to be left alone, but is now missing")
    # the same plan without the kept torch passes: the check above is what failed
    ok, _, _, _ = verify(dataclasses.replace(plan, torch=None,
                                             expect=dataclasses.replace(kept, torch_kept=None)),
                         120)
    assert ok
