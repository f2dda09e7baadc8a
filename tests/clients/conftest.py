"""Fixtures of the client tests: each runs the guide's sample for one client against the session
cluster (`dsql_cluster` in tests/conftest.py), on `localhost` with the cluster's CA, and with tokens
made by the client's own AWS SDK from the local credential store."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess

import pytest

from services.launcher.cli import dsn, make_token


@dataclasses.dataclass
class Endpoint:
    host: str
    port: int
    region: str
    ca: str
    dsn: str
    aws_env: dict[str, str]        # credentials for boto3, the connectors and the Node signer
    cluster_host: str              # <id>.dsql.<region>.on.aws: the name the connectors want (no DNS here)

    def token(self) -> str:
        return make_token_for(self)


def make_token_for(ep: Endpoint) -> str:
    import boto3
    client = boto3.client("dsql", region_name=ep.region, aws_access_key_id=ep.aws_env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=ep.aws_env["AWS_SECRET_ACCESS_KEY"])
    return client.generate_db_connect_admin_auth_token(ep.host, ep.region)


@pytest.fixture(scope="session")
def endpoint(dsql_cluster) -> Endpoint:
    key = json.loads(pathlib.Path(dsql_cluster.credentials_file).read_text())["keys"][0]
    env = {"AWS_ACCESS_KEY_ID": key["access_key_id"], "AWS_SECRET_ACCESS_KEY": key["secret_access_key"],
           "AWS_REGION": dsql_cluster.region, "AWS_DEFAULT_REGION": dsql_cluster.region}
    if key.get("session_token"):
        env["AWS_SESSION_TOKEN"] = key["session_token"]
    return Endpoint("localhost", dsql_cluster.client_port, dsql_cluster.region, dsql_cluster.tls_ca,
                    dsn(dsql_cluster), env, f"{dsql_cluster.cluster_id}.dsql.{dsql_cluster.region}.on.aws")


@pytest.fixture
def aws_credentials(endpoint, monkeypatch):
    """The local credential store's key in the environment, as the AWS SDKs find it."""
    for k in ("AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(k, raising=False)
    for k, v in endpoint.aws_env.items():
        monkeypatch.setenv(k, v)
    return endpoint


@pytest.fixture
def psql(dsql_cluster):
    """Run psql against the cluster; returns the CompletedProcess."""
    def _psql(*args: str, input: str | None = None, check: bool = True, cwd=None):
        env = {**os.environ, "PGPASSWORD": make_token(dsql_cluster), "PGCONNECT_TIMEOUT": "10"}
        r = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", dsn(dsql_cluster), *args], input=input,
                           capture_output=True, text=True, env=env, timeout=120, cwd=cwd)
        if check and r.returncode != 0:
            raise AssertionError(f"psql failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r
    return _psql


@pytest.fixture
def resolve_cluster_host(endpoint, monkeypatch):
    """Python's resolver maps the cluster's endpoint name to loopback, as DNS would for a real cluster
    (libpq-based drivers get hostaddr=127.0.0.1 instead)."""
    import socket
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return real("127.0.0.1" if host == endpoint.cluster_host else host, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
