"""Shared fixtures: the repository root on sys.path is never `operator/`.

Session fixtures used by more than one test folder live here, so that one pytest session starts
at most one local cluster and one PostgreSQL oracle, however many folders request them
(tests/integration and tests/difftest both do).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest


@pytest.fixture(scope="session")
def dsql_cluster():
    """One local cluster per test session, started with `dsql up --detach` and stopped at the end."""
    from services.common.config import ClusterConfig
    from services.launcher import cluster
    dsql = [sys.executable, "-m", "services.launcher.cli"]
    state = pathlib.Path(tempfile.mkdtemp(prefix="dsql-it-"))
    port = cluster.free_port()
    up = subprocess.run([*dsql, "--state-dir", str(state), "up", "--detach", "--port", str(port)],
                        capture_output=True, text=True, timeout=180)
    if up.returncode != 0:
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in (state / "logs").glob("*.log"))
        subprocess.run([*dsql, "--state-dir", str(state), "down"], timeout=60)
        pytest.fail(f"dsql up failed:\n{up.stdout}\n{up.stderr}\n{logs}")
    config = ClusterConfig.load(state / "cluster.json")
    yield config
    subprocess.run([*dsql, "--state-dir", str(state), "down"], capture_output=True, timeout=120)
    if not os.environ.get("DSQL_KEEP_STATE"):
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_oracle():
    """A throwaway PostgreSQL 15 (tests/pg_oracle.py), skipped where its binaries are missing."""
    from services.launcher import cluster
    from tests import pg_oracle
    reason = pg_oracle.available()
    if reason:
        pytest.skip(reason)
    oracle = pg_oracle.Oracle(cluster.free_port()).start()
    yield oracle
    oracle.stop()
