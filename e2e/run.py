#!/usr/bin/env python3
"""End-to-end on kind: the chart, the operator and a DSQLCluster serving psql.

    make e2e                 (or: .venv/bin/python e2e/run.py [--keep] [--check])

Steps (each prints a line; any failure stops the run with the command's output):
  1. kind cluster `dsql-e2e`: a control plane and three workers labelled with zones us-east-1a/b/c
  2. build both images with docker and load them into kind
  3. helm install the chart (CRD, operator, RBAC, admission policy) into dsql-system
  4. apply a DSQLCluster, wait for phase ACTIVE (every zone ready)
  5. port-forward the client Service; psql with TLS (verify-full against the generated CA)
     and an auth token signed with the cluster's generated access key; run the guide's
     getting-started SQL
  6. delete every pod of one zone (not the journal leader's), reconnect, write and read again
  7. deletion protection: `kubectl delete` is refused; turn it off; delete; wait until gone
  8. delete the kind cluster (unless --keep)

Without a Docker engine (or kind, kubectl, helm, psql) it prints `SKIP: <why>` and exits 0;
set E2E_REQUIRED=1 to make that a failure (CI with Docker).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
KIND_CLUSTER = "dsql-e2e"
CONTEXT = f"kind-{KIND_CLUSTER}"
NAMESPACE = "dsql-e2e"
SYSTEM_NAMESPACE = "dsql-system"
CLUSTER = "e2e"
SERVICE_IMAGE = "ghcr.io/dsql-k8s/dsql:e2e"
OPERATOR_IMAGE = "ghcr.io/dsql-k8s/dsql-operator:e2e"
ACTIVE_TIMEOUT_S = 900
TOOLS = ("docker", "kind", "kubectl", "helm", "psql")

GETTING_STARTED_SQL = """
CREATE SCHEMA example;
CREATE TABLE example.invoice(id UUID PRIMARY KEY DEFAULT gen_random_uuid(), created timestamp,
                             purchaser int, amount float);
CREATE INDEX invoice_created_idx on example.invoice(created);
CREATE TABLE example.department(id INT PRIMARY KEY UNIQUE, name text, email text);
INSERT INTO example.department VALUES (1, 'Example Department 1', 'one@example.com'),
                                      (2, 'Example Department 2', 'two@example.com');
INSERT INTO example.invoice(created, purchaser, amount) VALUES
  ('2024-01-01 10:00', 1, 100.5), ('2024-01-02 11:00', 2, 20), ('2024-01-03 12:00', 1, 3.25);
SELECT name, sum(amount) AS sum_amount
FROM example.department LEFT JOIN example.invoice ON department.id=invoice.purchaser
GROUP BY name HAVING sum(amount) > 0 ORDER BY sum_amount DESC;
"""
EXPECTED_ROWS = ["Example Department 1|103.75", "Example Department 2|20"]

MANIFEST = {
    "apiVersion": "dsql.k8s.io/v1alpha1", "kind": "DSQLCluster",
    "metadata": {"name": CLUSTER, "namespace": NAMESPACE},
    "spec": {"relay": {"replicas": 1}, "compute": {"replicas": 1},
             "journal": {"volume": {"size": "1Gi"}}, "storage": {"volume": {"size": "1Gi"}},
             "deletionProtection": True, "tags": {"Name": "e2e", "purpose": "kind e2e"}},
}


def missing_prerequisites() -> str | None:
    """Why the e2e cannot run here, or None."""
    absent = [t for t in TOOLS if shutil.which(t) is None]
    if absent:
        return f"not installed: {', '.join(absent)} (the e2e needs {', '.join(TOOLS)})"
    probe = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"no Docker engine reachable (`docker info` failed: {probe.stderr.strip()[:200]})"
    return None


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(*argv: str, check: bool = True, capture: bool = True, input_text: str | None = None,
        env: dict | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(argv), capture_output=capture, text=True, input=input_text, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=ROOT)
    if check and proc.returncode != 0:
        raise SystemExit(f"FAILED: {' '.join(argv)}\n{proc.stdout or ''}{proc.stderr or ''}")
    return proc


def kubectl(*args: str, **kw) -> subprocess.CompletedProcess:
    return run("kubectl", "--context", CONTEXT, *args, **kw)


def wait_for(what: str, check, timeout_s: float, interval_s: float = 5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval_s)
    raise SystemExit(f"FAILED: timed out after {timeout_s:.0f}s waiting for {what}")


def cluster_status() -> dict:
    out = kubectl("get", "dsqlcluster", CLUSTER, "-n", NAMESPACE, "-o", "json", check=False)
    return json.loads(out.stdout).get("status", {}) if out.returncode == 0 else {}


def secret_value(name: str, key: str) -> str:
    out = kubectl("get", "secret", name, "-n", NAMESPACE, "-o", "json").stdout
    return base64.b64decode(json.loads(out)["data"][key]).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PortForward:
    """`kubectl port-forward svc/<cluster>`: it picks one ready relay pod behind the Service."""

    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(["kubectl", "--context", CONTEXT, "-n", NAMESPACE, "port-forward",
                                      f"svc/{CLUSTER}", f"{self.port}:5432"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_for("the port-forward", self._open, 30, 0.5)

    def _open(self) -> bool:
        if self.proc.poll() is not None:
            raise SystemExit(f"FAILED: port-forward exited: {self.proc.stdout.read()}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def token(region: str) -> str:
    sys.path.insert(0, str(ROOT))
    from services.common.auth.sigv4 import generate_token   # the same signer as `dsql token`
    return generate_token("localhost", region, secret_value(f"{CLUSTER}-credentials", "AWS_ACCESS_KEY_ID"),
                          secret_value(f"{CLUSTER}-credentials", "AWS_SECRET_ACCESS_KEY"),
                          action="DbConnectAdmin", expires_in=3600)


def psql(port: int, ca: pathlib.Path, sql: str) -> str:
    dsn = f"host=localhost port={port} user=admin dbname=postgres sslmode=verify-full sslrootcert={ca}"
    out = run("psql", dsn, "-v", "ON_ERROR_STOP=1", "-tA", "-F", "|", "-f", "-", input_text=sql,
              env={"PGPASSWORD": token("us-east-1")}, timeout=120)
    return out.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the kind cluster afterwards")
    parser.add_argument("--check", action="store_true", help="only check the prerequisites")
    args = parser.parse_args(argv)

    why = missing_prerequisites()
    if why:
        print(f"SKIP: e2e not run: {why}", flush=True)
        return 1 if os.environ.get("E2E_REQUIRED") == "1" else 0
    if args.check:
        print("e2e prerequisites are present", flush=True)
        return 0

    created_kind = False
    try:
        step(f"kind cluster {KIND_CLUSTER} with three zone-labelled workers")
        if KIND_CLUSTER not in run("kind", "get", "clusters").stdout.split():
            run("kind", "create", "cluster", "--config", "e2e/kind-config.yaml", "--wait", "120s", capture=False)
            created_kind = True

        step("build and load the images")
        run("docker", "build", "-f", "images/dsql/Dockerfile", "-t", SERVICE_IMAGE, ".", capture=False)
        run("docker", "build", "-f", "images/operator/Dockerfile", "-t", OPERATOR_IMAGE, ".", capture=False)
        for image in (SERVICE_IMAGE, OPERATOR_IMAGE):
            run("kind", "load", "docker-image", image, "--name", KIND_CLUSTER)

        step("helm install the operator")
        run("helm", "upgrade", "--install", "dsql", "helm/dsql-operator", "--kube-context", CONTEXT,
            "-n", SYSTEM_NAMESPACE, "--create-namespace", "--wait", "--timeout", "5m",
            "--set", f"image.repository={OPERATOR_IMAGE.rsplit(':', 1)[0]}", "--set", "image.tag=e2e",
            "--set", f"clusterImage.repository={SERVICE_IMAGE.rsplit(':', 1)[0]}", "--set", "clusterImage.tag=e2e",
            "--set", "reconcileIntervalSeconds=5", "--set", "deleteRetrySeconds=5")

        step(f"apply DSQLCluster {NAMESPACE}/{CLUSTER} and wait for ACTIVE")
        kubectl("create", "namespace", NAMESPACE, check=False)
        kubectl("apply", "-f", "-", input_text=json.dumps(MANIFEST))
        status = wait_for("phase ACTIVE", lambda: (s := cluster_status()).get("phase") == "ACTIVE" and s,
                          ACTIVE_TIMEOUT_S)
        print(f"    {status['identifier']} endpoint {status['endpoint']['host']}:{status['endpoint']['port']} "
              f"zones {status['readyZones']}")
        print(kubectl("get", "dsqlclusters", "-n", NAMESPACE).stdout)

        tmp = pathlib.Path(tempfile.mkdtemp(prefix="dsql-e2e-"))
        ca = tmp / "ca.pem"
        ca.write_text(secret_value(f"{CLUSTER}-tls", "ca.crt"))

        step("psql through a port-forward of the client Service: the getting-started SQL")
        forward = PortForward()
        try:
            rows = [r for r in psql(forward.port, ca, GETTING_STARTED_SQL).splitlines() if "|" in r]
        finally:
            forward.close()
        if rows != EXPECTED_ROWS:
            raise SystemExit(f"FAILED: getting-started query returned {rows}, expected {EXPECTED_ROWS}")

        zone = "us-east-1c"
        step(f"delete every pod of zone {zone}; the endpoint must keep serving")
        kubectl("delete", "pod", "-n", NAMESPACE, "--wait=false",
                "-l", f"dsql.k8s.io/cluster={CLUSTER},dsql.k8s.io/az={zone}")
        forward = PortForward()
        try:
            psql(forward.port, ca, "INSERT INTO example.invoice(created, purchaser, amount) "
                                   "VALUES ('2024-02-01 09:00', 2, 1);")
            count = psql(forward.port, ca, "SELECT count(*) FROM example.invoice;").strip()
        finally:
            forward.close()
        if count != "4":
            raise SystemExit(f"FAILED: expected 4 invoices after losing {zone}, got {count!r}")
        wait_for("the zone to come back", lambda: cluster_status().get("readyZones") == "3/3", 300)

        step("deletion protection refuses the delete; turn it off; delete")
        refused = kubectl("delete", "dsqlcluster", CLUSTER, "-n", NAMESPACE, "--wait=false", check=False)
        if refused.returncode == 0:
            raise SystemExit("FAILED: a protected cluster was accepted for deletion")
        kubectl("patch", "dsqlcluster", CLUSTER, "-n", NAMESPACE, "--type=merge",
                "-p", '{"spec":{"deletionProtection":false}}')
        kubectl("delete", "dsqlcluster", CLUSTER, "-n", NAMESPACE, "--timeout=300s")
        left = kubectl("get", "statefulsets,deployments,services,pvc", "-n", NAMESPACE,
                       "-l", f"dsql.k8s.io/cluster={CLUSTER}", "-o", "name").stdout.strip()
        if left:
            raise SystemExit(f"FAILED: left behind after deletion:\n{left}")
        step("e2e passed")
        return 0
    finally:
        if not args.keep and created_kind:
            run("kind", "delete", "cluster", "--name", KIND_CLUSTER, check=False)


if __name__ == "__main__":
    sys.exit(main())
