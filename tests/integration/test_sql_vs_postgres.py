"""SQL scripts give the same psql output (rows, errors, command tags) on our cluster as on PostgreSQL 15."""

from __future__ import annotations

import difflib
import os
import pathlib
import subprocess

import pytest

from services.launcher.cli import dsn, make_token

SQL_DIR = pathlib.Path(__file__).parent / "sql"
SCRIPTS = sorted(SQL_DIR.glob("*.sql"))


def run_psql(conninfo: str, password: str | None, script: pathlib.Path, schema: str) -> str:
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10", "PGTZ": "UTC"}
    if password:
        env["PGPASSWORD"] = password
    result = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-v", f"schema={schema}",
                             "-v", "VERBOSITY=default", "-f", str(script), conninfo],
                            capture_output=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, timeout=300)
    # Error lines name the script path and line: identical on both sides, so keep them.
    return result.stdout


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_script_matches_postgres(script, dsql_cluster, pg_oracle):
    schema = f"diff_{script.stem}"
    ours = run_psql(dsn(dsql_cluster), make_token(dsql_cluster), script, schema)
    theirs = run_psql(pg_oracle.dsn, None, script, schema)
    diff = "\n".join(difflib.unified_diff(theirs.splitlines(), ours.splitlines(),
                                          "postgres-15", "dsql", lineterm=""))
    assert ours == theirs, f"output differs from PostgreSQL 15:\n{diff}"
