"""Authentication and admission at the real endpoint (`dsql up`): TLS only, auth tokens checked
against the credential store (principals, keys, policies), authorization re-checked at every
transaction, and the cluster-wide connection quotas kept in etcd - with psql, psycopg, boto3 tokens
and a raw protocol client for the exact ErrorResponse fields.

The quota test starts two extra relay processes of the same cluster with small limits (their own
cluster id, so their etcd quota keys and token bucket are not the session cluster's)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

import boto3
import psycopg
import pytest

from services.common import pgwire
from services.common.auth import generate_token
from services.launcher import cluster as launcher
from services.launcher.cli import dsn

ACCOUNT = "000000000000"


def admin_key(config) -> dict:
    doc = json.loads(open(config.credentials_file).read())
    return next(k for k in doc["keys"] if k["principal_arn"].endswith(":user/dsql-local"))


def boto3_token(config, key=None, action="DbConnectAdmin", host="localhost", expires=900) -> str:
    key = key or admin_key(config)
    client = boto3.client("dsql", region_name=config.region, aws_access_key_id=key["access_key_id"],
                          aws_secret_access_key=key["secret_access_key"],
                          aws_session_token=key.get("session_token"))
    gen = (client.generate_db_connect_admin_auth_token if action == "DbConnectAdmin"
           else client.generate_db_connect_auth_token)
    return gen(host, config.region, expires)


def connect(config, password, port=None, **kw):
    return psycopg.connect(host="localhost", port=port or config.client_port, user="admin", dbname="postgres",
                           sslmode="verify-full", sslrootcert=config.tls_ca, password=password,
                           connect_timeout=10, **kw)


def startup_error(config, password, port=None, user="admin") -> dict | None:
    """Connect with the raw protocol; the FATAL ErrorResponse's fields, or None when authenticated."""
    ctx = ssl.create_default_context(cafile=config.tls_ca)
    with socket.create_connection(("127.0.0.1", port or config.client_port), timeout=10) as raw:
        raw.sendall(pgwire.ssl_request_msg())
        assert raw.recv(1) == b"S"
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(pgwire.startup_msg({"user": user, "database": "postgres"}))
            buf = b""
            while True:
                msgs = []
                with contextlib.suppress(Exception):
                    msgs = pgwire.parse_backend(buf)
                for m in msgs:
                    if m.type == "E":
                        return m.fields()
                    if m.type == "Z":
                        s.sendall(pgwire.terminate_msg())
                        return None
                    if m.type == "R" and m.payload == b"\0\0\0\x03":
                        s.sendall(pgwire.password_msg(password))
                        buf = b""
                        break
                else:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise AssertionError(f"connection closed without an answer: {buf!r}")
                    buf += chunk


@pytest.fixture
def store_edit(dsql_cluster):
    """Edit the session cluster's credential store (additions only), restored afterwards."""
    path = dsql_cluster.credentials_file
    original = open(path).read()
    bump = [0]

    def write(change):
        doc = json.loads(open(path).read())
        change(doc)
        with open(path, "w") as f:
            json.dump(doc, f)
        bump[0] += 1                 # the relays notice a change by mtime and size
        later = time.time_ns() + bump[0] * 10**9
        os.utime(path, ns=(later, later))
    yield write
    with open(path, "w") as f:
        f.write(original)
    later = time.time_ns() + 100 * 10**9
    os.utime(path, ns=(later, later))


def add_principal(doc, name, actions=("dsql:DbConnectAdmin", "dsql:DbConnect"), resource="*"):
    arn = f"arn:aws:iam::{ACCOUNT}:role/{name}"
    doc["principals"].append({"arn": arn, "policies": [name]})
    doc["policies"][name] = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": list(actions), "Resource": resource}]}
    key = {"access_key_id": "ASIA" + name.upper().ljust(16, "X")[:16], "secret_access_key": f"secret-of-{name}",
           "session_token": f"session-of-{name}", "principal_arn": arn}
    doc["keys"].append(key)
    return key


def wait_reloaded(check, timeout=10.0):
    """Wait until `check()` is true (one relay has the change), then a little more than the one
    second within which every relay re-reads a changed store."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the credential store change was not picked up"
        time.sleep(0.3)
    time.sleep(1.2)


# ------------------------------------------------------------------ TLS


def test_plaintext_is_refused_by_psql(dsql_cluster):
    env = {**os.environ, "PGPASSWORD": boto3_token(dsql_cluster), "PGCONNECT_TIMEOUT": "10"}
    r = subprocess.run(["psql", "-X", f"host=localhost port={dsql_cluster.client_port} user=admin dbname=postgres "
                        "sslmode=disable", "-c", "select 1"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode != 0 and "FATAL:  SSL connection is required" in r.stderr, r.stderr


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_versions_and_ciphers(dsql_cluster):
    with connect(dsql_cluster, boto3_token(dsql_cluster)) as conn:
        assert conn.pgconn.ssl_in_use
    for max_version, ciphers in ((ssl.TLSVersion.TLSv1_1, "DEFAULT:@SECLEVEL=0"),
                                 (ssl.TLSVersion.TLSv1_2, "AES128-GCM-SHA256:AES256-SHA")):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(dsql_cluster.tls_ca)
        with contextlib.suppress(ValueError):
            ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = max_version
        ctx.set_ciphers(ciphers)
        with socket.create_connection(("127.0.0.1", dsql_cluster.client_port), timeout=10) as raw:
            raw.sendall(pgwire.ssl_request_msg())
            assert raw.recv(1) == b"S"
            with pytest.raises((ssl.SSLError, ConnectionError)):
                ctx.wrap_socket(raw, server_hostname="localhost")


# ------------------------------------------------------------------ tokens


def test_boto3_tokens_work(dsql_cluster):
    for host in ("localhost", f"{dsql_cluster.cluster_id}.dsql.{dsql_cluster.region}.on.aws"):
        assert startup_error(dsql_cluster, boto3_token(dsql_cluster, host=host)) is None
    with connect(dsql_cluster, boto3_token(dsql_cluster, expires=3600)) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_bad_tokens_get_the_guides_error(dsql_cluster, store_edit):
    cfg = dsql_cluster
    key = admin_key(cfg)
    other = {}
    store_edit(lambda doc: other.update(add_principal(
        doc, "elsewhere", resource=f"arn:aws:dsql:{cfg.region}:{ACCOUNT}:cluster/some-other-cluster")))

    def tok(**kw):
        args = dict(hostname="localhost", region=cfg.region, access_key_id=key["access_key_id"],
                    secret_access_key=key["secret_access_key"])
        args.update(kw)
        return generate_token(**args)
    cases = {
        "expired": (tok(now=time.time() - 1000, expires_in=900), "28P01", "has expired"),
        "not yet valid": (tok(now=time.time() + 3600), "28P01", "not yet valid"),
        "forged": (tok(secret_access_key="not-the-secret"), "28P01", "signature"),
        "unknown key": (tok(access_key_id="AKIAUNKNOWNUNKNOWN00"), "28P01",
                        "The AWS Access Key ID you provided does not exist in our records."),
        "wrong host": (tok(hostname="evil.example.com"), "28000", "evil.example.com"),
        "wrong action": (boto3_token(cfg, action="DbConnect"), "28000", "requires a DbConnectAdmin auth token"),
        "not a token": ("hunter2", "28P01", "malformed"),
    }
    for name, (password, sqlstate, detail) in cases.items():
        f = startup_error(cfg, password)
        assert f is not None, name
        assert (f["S"], f["C"], f["M"]) == ("FATAL", sqlstate, 'IAM authentication failed for user "admin"'), name
        assert detail in f["D"], (name, f)
    # Wrong resource: the principal may connect, but only to another cluster.
    wait_reloaded(lambda: startup_error(cfg, boto3_token(cfg, other))["C"] == "28000")
    f = startup_error(cfg, boto3_token(cfg, other))
    assert f["D"] == (f"User: {other['principal_arn']} is not authorized to perform: dsql:DbConnectAdmin "
                      f"on resource: arn:aws:dsql:{cfg.region}:{ACCOUNT}:cluster/{cfg.cluster_id}")
    # psql shows the same message and detail.
    env = {**os.environ, "PGPASSWORD": cases["expired"][0], "PGCONNECT_TIMEOUT": "10"}
    r = subprocess.run(["psql", "-X", dsn(cfg), "-c", "select 1"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert 'FATAL:  IAM authentication failed for user "admin"' in r.stderr and "has expired" in r.stderr


def test_revoked_principal_cannot_start_transactions(dsql_cluster, store_edit):
    cfg = dsql_cluster
    key = {}
    store_edit(lambda doc: key.update(add_principal(doc, "revocable")))
    wait_reloaded(lambda: startup_error(cfg, boto3_token(cfg, key)) is None)
    auto = connect(cfg, boto3_token(cfg, key), autocommit=True)
    txn = connect(cfg, boto3_token(cfg, key))
    assert txn.execute("select 1").fetchone() == (1,)          # a transaction is open
    # Remove the principal (its key stays): open transactions finish, new ones are refused.
    store_edit(lambda doc: doc["principals"].remove(next(p for p in doc["principals"]
                                                         if p["arn"] == key["principal_arn"])))
    wait_reloaded(lambda: startup_error(cfg, boto3_token(cfg, key)) is not None)
    assert txn.execute("select 2").fetchone() == (2,)
    txn.commit()
    for conn in (txn, auto):
        with pytest.raises(psycopg.OperationalError) as ei:
            conn.execute("select 3")
        assert ei.value.sqlstate == "28000"
        assert "not authorized to perform: dsql:DbConnectAdmin" in str(ei.value)
        assert conn.closed
    # Other principals are unaffected.
    with connect(cfg, boto3_token(cfg)) as conn:
        assert conn.execute("select 4").fetchone() == (4,)


# ------------------------------------------------------------------ cluster-wide quotas


class SmallRelays:
    """Two relay processes (AZs 1 and 2) of the session cluster on two client ports of their own,
    with small quotas under their own cluster id."""

    LIMITS = {"max_connections": 3, "connection_rate_per_s": 0.2, "connection_burst": 8}

    def __init__(self, config, folder):
        self.config = config
        raw = json.loads(config.to_json())
        raw["cluster_id"] = f"{config.cluster_id}-quota"
        raw["limits"] = {**raw["limits"], **self.LIMITS}
        self.azs = sorted(config.azs)[:2]
        self.ports, self.metrics, self.procs = [], [], []
        for az in self.azs:
            port = launcher.free_port()
            mine = json.loads(json.dumps(raw))
            mine["client_port"] = port
            relay_ep = mine["azs"][az]["relay"]
            relay_ep["grpc_port"], relay_ep["metrics_port"] = launcher.free_port(), launcher.free_port()
            path = folder / f"relay-{az}.json"
            path.write_text(json.dumps(mine))
            log = open(folder / f"relay-{az}.log", "w")
            self.procs.append(subprocess.Popen([sys.executable, "-m", "services.relay", "--config", str(path),
                                                "--az", az], stdout=log, stderr=subprocess.STDOUT))
            self.ports.append(port)
            self.metrics.append(relay_ep["metrics_port"])
        deadline = time.monotonic() + 60
        for port in self.ports:
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
                assert time.monotonic() < deadline, "the extra relays did not start"
                time.sleep(0.2)

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    def metric(self, i, name, **labels) -> float:
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics[i]}/metrics", timeout=10).read().decode()
        want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
        for line in text.splitlines():
            if line.startswith(want + " "):
                return float(line.split()[-1])
        return 0.0


@pytest.fixture
def small_relays(dsql_cluster, tmp_path):
    relays = SmallRelays(dsql_cluster, tmp_path)
    yield relays
    relays.stop()


TOO_MANY = ("53300", "Unable to accept connection, too many open connections.")
RATE_EXCEEDED = ("53400", "Unable to accept connection, rate exceeded.")


def attempt(config, port):
    """One connection attempt: 'ok' (then closed), or the SQLSTATE and message of the refusal."""
    f = startup_error(config, boto3_token(config), port=port)
    return "ok" if f is None else (f["C"], f["M"])


def test_connection_flood_gets_53300_and_53400_while_a_client_keeps_working(dsql_cluster, small_relays):
    cfg, (port_a, port_b) = dsql_cluster, small_relays.ports
    existing = connect(cfg, boto3_token(cfg), port=port_a, autocommit=True)
    held = [connect(cfg, boto3_token(cfg), port=port_a), connect(cfg, boto3_token(cfg), port=port_b)]
    assert small_relays.metric(1, "dsql_relay_connections_open") == 1     # relay B itself holds one

    def flood(n):
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(attempt, cfg, (port_a, port_b)[i % 2]) for i in range(n)]
            served = 0
            while not all(f.done() for f in futures):        # the existing client keeps working meanwhile
                assert existing.execute("select %s::int", [served]).fetchone() == (served,)
                served += 1
            return [f.result() for f in futures], served

    # Three connections are open cluster-wide (two at relay A, one at B): every attempt at either gets 53300.
    results, served = flood(12)
    assert results == [TOO_MANY] * 12
    assert served >= 1
    assert small_relays.metric(1, "dsql_relay_connections_refused_total", reason="max_connections") == 6
    assert small_relays.metric(0, "dsql_relay_cluster_connections_open") == 3

    # Free the slots; the bucket (burst 8, 0.2/s) has about 5 tokens left: a flood soon gets 53400.
    for conn in held:
        conn.close()
    started = time.monotonic()
    results, served = flood(16)
    while results.count(RATE_EXCEEDED) == 0 and len(results) < 32:   # all 53300 so far: tokens remain
        results.append(attempt(cfg, port_a))
    assert results.count(RATE_EXCEEDED) >= 1, results
    assert set(results) <= {"ok", RATE_EXCEEDED, TOO_MANY}, results
    # Only admitted attempts take a token: at most the 5 left plus the refill.
    assert 1 <= results.count("ok") <= 5 + 0.2 * (time.monotonic() - started) + 1, results
    assert existing.execute("select 'still here'").fetchone() == ("still here",)
    refused_rate = sum(small_relays.metric(i, "dsql_relay_connections_refused_total", reason="rate") for i in (0, 1))
    assert refused_rate == results.count(RATE_EXCEEDED)
    # Session age and auth failures are exported too.
    text = urllib.request.urlopen(f"http://127.0.0.1:{small_relays.metrics[0]}/metrics", timeout=10).read().decode()
    assert "dsql_relay_oldest_session_age_seconds" in text and "dsql_relay_session_duration_seconds_count" in text
    existing.close()
