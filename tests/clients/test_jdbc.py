"""pgJDBC (Debian's libpostgresql-jdbc-java): the guide's Java sample, compiled and run with javac/java."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

JAR = pathlib.Path("/usr/share/java/postgresql.jar")
SOURCE = pathlib.Path(__file__).parent / "jdbc" / "Example.java"


def test_pgjdbc_guide_sample(endpoint, tmp_path):
    """Proves: pgJDBC connects with verify-full against the cluster's CA and a boto3 token, runs the
    sample, server-side prepared statements (binary after 5 uses), a batch and a rollback."""
    if shutil.which("javac") is None or shutil.which("java") is None:
        pytest.skip("no JDK (javac/java) on this machine")
    if not JAR.exists():
        pytest.skip(f"{JAR} missing: run `make .venv/.installed` (apt-get install libpostgresql-jdbc-java)")
    subprocess.run(["javac", "-d", str(tmp_path), str(SOURCE)], check=True, timeout=180)
    r = subprocess.run(["java", "-cp", f"{tmp_path}:{JAR}", "Example", endpoint.host, str(endpoint.port),
                        endpoint.ca], capture_output=True, text=True, timeout=180,
                       env={**os.environ, "DSQL_TOKEN": endpoint.token()})
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr
