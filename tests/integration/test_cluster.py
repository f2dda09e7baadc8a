"""The cluster `dsql up` starts: every process of three AZs, TLS-only endpoint, token auth."""

from __future__ import annotations

import json
import subprocess
import sys

import psycopg
import pytest

from services.launcher.cli import dsn

from .conftest import DSQL


def test_status_lists_every_process_of_three_azs(dsql_cluster):
    out = subprocess.run([*DSQL, "--state-dir", dsql_cluster.state_dir, "status", "--json"],
                         capture_output=True, text=True, check=True).stdout
    procs = json.loads(out)["processes"]
    assert all(p["alive"] for p in procs)
    by_service = {}
    for p in procs:
        by_service.setdefault(p["service"], set()).add(p["az"])
    assert by_service.pop("etcd") == {None}
    assert by_service == {svc: set(dsql_cluster.azs) for svc in ("relay", "compute", "journal", "storage")}
    roles = sorted(p["role"] for p in procs if p["service"] == "journal")
    assert roles == ["follower", "follower", "leader"]
    for p in procs:
        if p["service"] != "etcd":
            assert set(p["ports"]) >= {"grpc", "metrics"}


def test_every_service_serves_prometheus_metrics(dsql_cluster):
    import urllib.request
    for az, services in dsql_cluster.azs.items():
        for name, ep in services.items():
            body = urllib.request.urlopen(f"http://{ep.host}:{ep.metrics_port}/metrics", timeout=5).read()
            assert b"process_cpu_seconds_total" in body or b"python_info" in body, (az, name)


def test_plaintext_connections_are_refused(dsql_cluster, token):
    with pytest.raises(psycopg.OperationalError) as err:
        psycopg.connect(f"host=localhost port={dsql_cluster.client_port} user=admin dbname=postgres "
                        "sslmode=disable", password=token, connect_timeout=10)
    assert "SSL" in str(err.value) or "TLS" in str(err.value) or "encrypt" in str(err.value)


def test_verify_full_with_generated_ca_and_require(dsql_cluster, token):
    with psycopg.connect(dsn(dsql_cluster), password=token) as conn:
        assert conn.info.pgconn.ssl_in_use
        assert conn.execute("SELECT 1 + 1").fetchone() == (2,)
    require = dsn(dsql_cluster).replace("sslmode=verify-full", "sslmode=require")
    with psycopg.connect(require, password=token) as conn:
        assert conn.execute("SELECT 'ok'").fetchone() == ("ok",)


def test_boto3_generated_token_is_accepted(dsql_cluster):
    import boto3
    key = json.load(open(dsql_cluster.credentials_file))["keys"][0]
    client = boto3.client("dsql", region_name=dsql_cluster.region,
                          aws_access_key_id=key["access_key_id"],
                          aws_secret_access_key=key["secret_access_key"])
    for host in ("localhost", f"{dsql_cluster.cluster_id}.dsql.{dsql_cluster.region}.on.aws"):
        token = client.generate_db_connect_admin_auth_token(host, dsql_cluster.region)
        with psycopg.connect(dsn(dsql_cluster), password=token) as conn:
            assert conn.execute("SELECT 42").fetchone() == (42,)


def test_bad_tokens_are_refused(dsql_cluster, token):
    forged = token.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    for password in ("not-a-token", forged):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(dsn(dsql_cluster), password=password, connect_timeout=10)


def test_dsql_token_command_and_env(dsql_cluster, psql):
    token = subprocess.run([*DSQL, "--state-dir", dsql_cluster.state_dir, "token"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert token.startswith("localhost/?Action=DbConnectAdmin&")
    env = subprocess.run([*DSQL, "--state-dir", dsql_cluster.state_dir, "env"],
                         capture_output=True, text=True, check=True).stdout
    assert "export AWS_ACCESS_KEY_ID=AKIA" in env and "export AWS_REGION=" in env
    assert psql("-tAc", "SELECT 'psql works'").stdout.strip() == "psql works"
