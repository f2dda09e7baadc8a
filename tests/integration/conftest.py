"""Fixtures of the integration tests. The session fixtures `dsql_cluster` and `pg_oracle` live in
tests/conftest.py (shared with tests/difftest, so one cluster serves the whole session).

Tests connect through the real relay over TLS with real auth tokens, with psql
and psycopg. The cluster is stopped (every process by its pid) at the end.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

from services.common.config import ClusterConfig
from services.launcher import cluster
from services.launcher.cli import dsn, make_token

DSQL = [sys.executable, "-m", "services.launcher.cli"]


@pytest.fixture
def token(dsql_cluster) -> str:
    return make_token(dsql_cluster)


@pytest.fixture
def connect(dsql_cluster):
    """Open psycopg (3) connections to the cluster as admin; closed after the test."""
    import psycopg
    conns = []

    def _connect(**kwargs):
        conn = psycopg.connect(dsn(dsql_cluster), password=make_token(dsql_cluster), **kwargs)
        conns.append(conn)
        return conn
    yield _connect
    for conn in conns:
        conn.close()


@pytest.fixture
def psql(dsql_cluster):
    """Run psql against the cluster; returns the CompletedProcess."""
    def _psql(*args: str, input: str | None = None, check: bool = True):
        env = {**os.environ, "PGPASSWORD": make_token(dsql_cluster), "PGCONNECT_TIMEOUT": "10"}
        result = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", dsn(dsql_cluster), *args],
                                input=input, capture_output=True, text=True, env=env, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"psql failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result
    return _psql


@pytest.fixture(scope="session")
def schema(dsql_cluster):
    """One schema for the tests' tables (DSQL allows only 10 schemas); table names are unique per test."""
    import psycopg
    with psycopg.connect(dsn(dsql_cluster), password=make_token(dsql_cluster), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS it")
    return "it"
