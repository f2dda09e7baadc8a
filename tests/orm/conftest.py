"""Fixtures of the ORM proofs (issue 6): the guide's pet-clinic apps on SQLAlchemy and Django.

The guide's code connects to `<cluster-id>.dsql.<region>.on.aws`. The tests keep that name - boto3
signs the tokens for it and TLS verify-full checks it against the relay's certificate, which carries
it - and send libpq to the local relay with `hostaddr` and the cluster's port. boto3 finds the
cluster's key in the environment `dsql env` prints.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess
import sys

import pytest

from services.common.config import ClusterConfig
from services.launcher.cli import client_env


@dataclasses.dataclass(frozen=True)
class Endpoint:
    host: str       # the cluster's DNS name, as in the guide
    hostaddr: str   # where libpq really connects
    port: int
    region: str
    ca: str

    def libpq(self) -> dict[str, str | int]:
        """Connection parameters beside host: reach the local relay, verify its certificate."""
        return {"hostaddr": self.hostaddr, "port": self.port, "sslmode": "verify-full", "sslrootcert": self.ca}

    def env(self) -> dict[str, str]:
        """What the Django project's settings read (tests/orm/django_petclinic/project/settings.py)."""
        return {"DSQL_ENDPOINT": self.host, "DSQL_HOSTADDR": self.hostaddr, "DSQL_PORT": str(self.port),
                "DSQL_SSLROOTCERT": self.ca}


@pytest.fixture(scope="session")
def orm_cluster(request) -> ClusterConfig:
    """The session's cluster, or with DSQL_ORM_STATE_DIR set, a cluster already running from that folder
    (iterating on these tests without starting a cluster each time)."""
    state = os.environ.get("DSQL_ORM_STATE_DIR")
    if state:
        return ClusterConfig.load(pathlib.Path(state) / "cluster.json")
    return request.getfixturevalue("dsql_cluster")


@pytest.fixture(scope="session")
def endpoint(orm_cluster: ClusterConfig) -> Endpoint:
    c = orm_cluster
    return Endpoint(host=f"{c.cluster_id}.dsql.{c.region}.on.aws", hostaddr="127.0.0.1", port=c.client_port,
                    region=c.region, ca=c.tls_ca)


@pytest.fixture(scope="session")
def aws_env(orm_cluster: ClusterConfig) -> dict[str, str]:
    """The AWS part of `dsql env`: boto3 (and so the DSQL connector) signs tokens with the cluster's key."""
    return {k: v for k, v in client_env(orm_cluster).items() if k.startswith("AWS_")}


@pytest.fixture
def aws_credentials(aws_env, monkeypatch):
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in aws_env.items():
        monkeypatch.setenv(name, value)


def run_python(args: list[str], *, cwd, env: dict[str, str], timeout: int = 240) -> subprocess.CompletedProcess:
    """Run a Python program of the test (Django keeps process-wide state, so each run is a process)."""
    result = subprocess.run([sys.executable, *args], cwd=cwd, env={**os.environ, **env}, capture_output=True,
                            text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-6000:]}\n"
                             f"{result.stderr[-6000:]}")
    return result
