"""Fixtures for the integration tests that need more than one test file's worth of setup."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests import slurm


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[slurm.Cluster]:
    """A real Slurm (munged, slurmctld, slurmd for nodes n1 and n2) on this host, started
    once per session and always stopped at the end. scripts/test.sh installs it."""
    missing = slurm.missing_tools()
    if missing:
        pytest.fail(f"Slurm is not installed ({', '.join(missing)} missing): "
                    "run scripts/test.sh, which installs slurmctld, slurmd, slurm-client "
                    "and munge with apt-get.")
    if os.getuid() != 0:
        pytest.fail("the Slurm tests start slurmd, which must run as root (CI runs as root).")
    root = tmp_path_factory.mktemp("slurm")
    cluster = slurm.start(root)  # stops what it started when it fails
    try:
        yield cluster
    finally:
        slurm.stop(cluster)
