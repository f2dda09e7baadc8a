"""The relay in-process against an in-test compute (the real ComputeService over a fake SQL engine).

Proves TLS via SSLRequest and direct TLS (ALPN `postgresql`), plaintext refusal, token checks,
the byte pump (simple and extended query through psycopg), cancel forwarding, AZ fallback and
the Status RPC.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import signal
import subprocess
import sys
import urllib.request
import ipaddress
import json
import socket
import ssl
import struct
import threading
import time

import grpc
import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.common import pgwire
from services.common.auth import generate_token
from services.common.config import ClusterConfig, Endpoint, Limits
from services.compute.server import ComputeService, start_server
from services.pb.dsql.relay.v1 import relay_pb2, relay_pb2_grpc
from services.common.rolecatalog import IamMapping, Role, iam_key, role_key
from services.relay.admission import Admission
from services.relay.server import Relay, make_ssl_context
from tests.unit.compute.test_protocol import Codec, FakeSession

PRINCIPAL = "arn:aws:iam::000000000000:user/test"

AKID, SECRET, REGION = "AKIDRELAYTEST", "relay/secret", "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_tls(folder):
    now = datetime.datetime.now(datetime.timezone.utc)
    name = lambda cn: x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])  # noqa: E731
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("test CA")).issuer_name(name("test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("localhost")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    return str(folder / "ca.pem"), str(folder / "server.pem"), str(folder / "server.key")


class CancellableSession(FakeSession):
    cancels: list = []

    def cancel(self):
        CancellableSession.cancels.append(self)

    def execute(self, p, params):
        if p.sql == "sleep":
            deadline = time.time() + 10
            while time.time() < deadline and self not in CancellableSession.cancels:
                time.sleep(0.01)
            from services.common.errors import QueryCanceled
            raise QueryCanceled("canceling statement due to user request")
        return super().execute(p, params)


class Cluster:
    """An asyncio loop in a thread hosting the compute(s) and the relay."""

    def __init__(self, tmp_path, *, az1_compute_up=True, limits=Limits()):
        ca, cert, key = make_tls(tmp_path)
        self.ca = ca
        creds = tmp_path / "credentials.json"
        creds.write_text(json.dumps({"keys": [
            {"access_key_id": AKID, "secret_access_key": SECRET, "session_token": None,
             "principal_arn": PRINCIPAL,
             "allow": ["dsql:DbConnectAdmin", "dsql:DbConnect"]}]}))
        self.creds = creds
        azs = {}
        for az in ("az1", "az2"):
            azs[az] = {svc: Endpoint("127.0.0.1", free_port(), free_port()) for svc in ("relay", "compute")}
        self.config = ClusterConfig(
            cluster_id="testcluster", region=REGION, state_dir=str(tmp_path), client_host="127.0.0.1",
            client_port=free_port(), etcd_endpoints=(), tls_cert=cert, tls_key=key, tls_ca=ca,
            credentials_file=str(creds), azs=azs, limits=limits)
        self.az1_compute_up = az1_compute_up
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.call(self._start())

    def call(self, coro, timeout=30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self):
        self.computes = {}
        self.servers = []
        for az in ("az1", "az2"):
            if az == "az1" and not self.az1_compute_up:
                continue
            svc = ComputeService(az, lambda start: CancellableSession(), codec=Codec())
            ep = self.config.endpoint(az, "compute")
            server, _ = await start_server(svc, f"{ep.host}:{ep.grpc_port}")
            self.computes[az] = svc
            self.servers.append(server)
        self.relay = Relay(self.config, "az1")
        # the auth catalog the compute keeps in etcd: role "app" may log in as the test principal
        self.roles = {role_key("app"): Role(20000, "app", login=True).to_json().encode(),
                      iam_key("app", PRINCIPAL): IamMapping(20001, PRINCIPAL, "app").to_json().encode()}
        self.relay.admission = Admission(self.roles.get)
        await self.relay.start()

    async def _stop(self):
        await self.relay.stop(grace=0.5)
        for s in self.servers:
            await s.stop(0)

    def close(self):
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    @property
    def port(self):
        return self.relay.port

    def token(self, action="DbConnectAdmin", host="localhost", **kw):
        return generate_token(host, REGION, AKID, SECRET, action=action, **kw)

    def dsn(self, **kw):
        args = dict(host="localhost", port=self.port, user="admin", dbname="postgres",
                    password=self.token(), sslmode="verify-full", sslrootcert=self.ca, connect_timeout=10)
        args.update(kw)
        return " ".join(f"{k}='{v}'" for k, v in args.items())


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    yield c
    c.close()


def test_ssl_request_and_queries(cluster):
    with psycopg.connect(cluster.dsn()) as conn:
        assert conn.info.parameter_status("server_version") == "16.9"
        assert conn.pgconn.ssl_in_use
        cur = conn.execute("rows 3")                         # extended protocol
        assert cur.fetchall() == [(0, "r0"), (1, "r1"), (2, "r2")]
        assert conn.execute("echo %s", ["hi"]).fetchone() == ("hi",)
        conn.execute("insert")
        conn.commit()
        assert conn.execute("rows 2", prepare=True).fetchall() == [(0, "r0"), (1, "r1")]
        with pytest.raises(psycopg.errors.DivisionByZero):   # 22012 from the fake engine
            conn.execute("fail")
        conn.rollback()
        assert conn.info.backend_pid >> 24 == 1              # the compute of az1


def test_simple_query_protocol_and_pipeline(cluster):
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        cur = psycopg.ClientCursor(conn)                    # simple query protocol
        cur.execute("rows 1; insert")
        assert cur.statusmessage == "SELECT 1" and cur.fetchall() == [(0, "r0")]
        assert cur.nextset() and cur.statusmessage == "INSERT 0 1"
        with conn.pipeline():
            c1 = conn.execute("rows 2")
            c2 = conn.execute("echo %s", ["x"])
        assert c1.fetchall() == [(0, "r0"), (1, "r1")] and c2.fetchall() == [("x",)]


@pytest.mark.skipif(psycopg.pq.version() < 170000, reason="libpq without sslnegotiation=direct")
def test_direct_tls_with_libpq(cluster):
    with psycopg.connect(cluster.dsn(sslnegotiation="direct")) as conn:
        assert conn.execute("rows 1").fetchall() == [(0, "r0")]


def test_direct_tls_raw_socket_alpn(cluster):
    ctx = ssl.create_default_context(cafile=cluster.ca)
    ctx.set_alpn_protocols(["postgresql"])
    with socket.create_connection(("127.0.0.1", cluster.port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            assert s.selected_alpn_protocol() == "postgresql"
            assert s.version() in ("TLSv1.2", "TLSv1.3")
            s.sendall(pgwire.startup_msg({"user": "admin", "database": "postgres"}))
            msgs = pgwire.parse_backend(recv_msgs(s, 1))
            assert msgs[0].type == "R" and msgs[0].payload == b"\0\0\0\x03"
            s.sendall(pgwire.password_msg(cluster.token()))
            data = recv_until_ready(s)
            types = "".join(m.type for m in pgwire.parse_backend(data))
            assert types.startswith("R") and types.endswith("KZ")
            s.sendall(pgwire.query_msg("rows 2") + pgwire.terminate_msg())
            types = "".join(m.type for m in pgwire.parse_backend(recv_until_ready(s)))
            assert types == "TDDCZ"


def test_direct_tls_without_alpn_is_refused(cluster):
    ctx = ssl.create_default_context(cafile=cluster.ca)
    with socket.create_connection(("127.0.0.1", cluster.port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            msgs = pgwire.parse_backend(recv_all(s))
            assert msgs[0].type == "E" and "ALPN" in msgs[0].fields()["M"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_old_tls_versions_refused(cluster):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cluster.ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_alpn_protocols(["postgresql"])
    with socket.create_connection(("127.0.0.1", cluster.port)) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            ctx.wrap_socket(raw, server_hostname="localhost")


@pytest.mark.parametrize("ciphers", ["AES128-GCM-SHA256:AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-SHA"])
def test_ciphers_without_forward_secrecy_refused(cluster, ciphers):
    """Static-RSA key exchange (no forward secrecy) and CBC-SHA1 suites are not offered over TLS 1.2."""
    offered = make_ssl_context(cluster.config.tls_cert, cluster.config.tls_key).get_ciphers()
    assert offered and {c["kea"] for c in offered} <= {"kx-ecdhe", "kx-dhe", "kx-any"}   # kx-any: TLS 1.3
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cluster.ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(ciphers)
    ctx.set_alpn_protocols(["postgresql"])
    with socket.create_connection(("127.0.0.1", cluster.port)) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            ctx.wrap_socket(raw, server_hostname="localhost")
    ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")            # the same client with an ECDHE suite works
    with socket.create_connection(("127.0.0.1", cluster.port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            assert s.version() == "TLSv1.2" and s.cipher()[0] == "ECDHE-ECDSA-AES128-GCM-SHA256"


def test_plaintext_is_refused(cluster):
    with pytest.raises(psycopg.OperationalError) as ei:
        psycopg.connect(cluster.dsn(sslmode="disable"))
    assert "SSL connection is required" in str(ei.value)
    # raw: StartupMessage without SSLRequest gets a FATAL 28000
    with socket.create_connection(("127.0.0.1", cluster.port)) as s:
        s.sendall(pgwire.startup_msg({"user": "admin", "database": "postgres"}))
        msgs = pgwire.parse_backend(recv_all(s))
        f = msgs[0].fields()
        assert msgs[0].type == "E" and f["S"] == "FATAL" and f["C"] == "28000" and "no encryption" in f["M"]


def test_gssenc_request_answered_n(cluster):
    with socket.create_connection(("127.0.0.1", cluster.port)) as s:
        s.sendall(pgwire.gssenc_request_msg())
        assert s.recv(1) == b"N"
        s.sendall(pgwire.ssl_request_msg())
        assert s.recv(1) == b"S"
        ctx = ssl.create_default_context(cafile=cluster.ca)
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(pgwire.startup_msg({"user": "admin"}))
            assert pgwire.parse_backend(recv_msgs(t, 1))[0].type == "R"


@pytest.mark.parametrize("case", ["expired", "forged", "wrong_host", "wrong_action", "not_a_token"])
def test_bad_tokens_are_refused(cluster, case):
    if case == "expired":
        pw = cluster.token(now=time.time() - 2000, expires_in=900)
        frag = "expired"
    elif case == "forged":
        pw = generate_token("localhost", REGION, AKID, "wrong-secret")
        frag = "signature"
    elif case == "wrong_host":
        pw = cluster.token(host="other.example.com")
        frag = "other.example.com"
    elif case == "wrong_action":
        pw = cluster.token(action="DbConnect")
        frag = "DbConnectAdmin"
    else:
        pw = "hunter2"
        frag = "malformed"
    with pytest.raises(psycopg.OperationalError) as ei:
        psycopg.connect(cluster.dsn(password=pw))
    assert frag in str(ei.value)


def test_custom_role_needs_dbconnect(cluster):
    with psycopg.connect(cluster.dsn(user="app", password=cluster.token(action="DbConnect"))) as conn:
        assert conn.execute("rows 1").fetchall() == [(0, "r0")]
        assert conn.info.parameter_status("is_superuser") == "off"
    # admission: the role must exist and be mapped to the token's principal (AWS IAM GRANT)
    with pytest.raises(psycopg.OperationalError, match='role "ghost" does not exist'):
        psycopg.connect(cluster.dsn(user="ghost", password=cluster.token(action="DbConnect")))
    del cluster.roles[iam_key("app", PRINCIPAL)]
    with pytest.raises(psycopg.OperationalError, match='role "app" is not authorized for IAM principal'):
        psycopg.connect(cluster.dsn(user="app", password=cluster.token(action="DbConnect")))


def test_unknown_database_is_fatal(cluster):
    with pytest.raises(psycopg.OperationalError) as ei:
        psycopg.connect(cluster.dsn(dbname="other"))
    assert 'database "other" does not exist' in str(ei.value)


def test_credentials_reloaded(cluster, tmp_path):
    new = {"keys": [{"access_key_id": "AKIDNEW", "secret_access_key": "s2", "principal_arn": "arn:x",
                     "allow": ["dsql:DbConnectAdmin"]}]}
    cluster.creds.write_text(json.dumps(new))
    later = time.time_ns() + 5 * 10**9
    os.utime(cluster.creds, ns=(later, later))
    cluster.relay.store.interval_s = 0
    tok = generate_token("localhost", REGION, "AKIDNEW", "s2")
    with psycopg.connect(cluster.dsn(password=tok)) as conn:
        assert conn.execute("rows 1").fetchone() == (0, "r0")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(cluster.dsn())             # the old key is gone


def revoke_all(cluster, doc=None):
    cluster.creds.write_text(json.dumps(doc or {"keys": []}))
    later = time.time_ns() + 5 * 10**9
    os.utime(cluster.creds, ns=(later, later))
    cluster.relay.store.interval_s = 0


def test_revoked_key_cannot_start_a_transaction(cluster):
    conn = psycopg.connect(cluster.dsn())
    unused = psycopg.connect(cluster.dsn(), autocommit=True)   # connected, no statement yet
    conn.execute("rows 1")                       # BEGIN + statement: a transaction is open
    revoke_all(cluster)
    with pytest.raises(psycopg.OperationalError, match="no longer exists"):
        unused.execute("rows 1")                 # its first transaction is checked too
    assert conn.execute("rows 1").fetchall() == [(0, "r0")]   # inside the open transaction: allowed
    conn.commit()
    with pytest.raises(psycopg.OperationalError) as ei:        # the next BEGIN is refused, fatally
        conn.execute("rows 1")
    assert ei.value.sqlstate == "28000"
    assert 'IAM authentication failed for user "admin"' in str(ei.value) and "no longer exists" in str(ei.value)
    assert conn.closed


def test_revoked_policy_ends_autocommit_sessions(cluster):
    conn = psycopg.connect(cluster.dsn(), autocommit=True)
    assert conn.execute("rows 1").fetchall() == [(0, "r0")]
    revoke_all(cluster, {"principals": [{"arn": "arn:aws:iam::000000000000:user/test", "policies": ["p"]}],
                         "policies": {"p": {"Statement": [{"Effect": "Allow", "Action": "dsql:DbConnect",
                                                           "Resource": "*"}]}},
                         "keys": [{"access_key_id": AKID, "secret_access_key": SECRET,
                                   "principal_arn": "arn:aws:iam::000000000000:user/test"}]})
    with pytest.raises(psycopg.OperationalError) as ei:
        conn.execute("rows 1")
    assert "not authorized to perform: dsql:DbConnectAdmin on resource: " \
           "arn:aws:dsql:us-east-1:000000000000:cluster/testcluster" in str(ei.value)
    # DbConnect is still allowed: a custom role connects (its own admission is the roles' check).
    with psycopg.connect(cluster.dsn(user="app", password=cluster.token(action="DbConnect"))) as other:
        assert other.execute("rows 1").fetchone() == (0, "r0")


def test_quotas_and_session_duration(tmp_path):
    """A relay without etcd enforces the quotas on its own connections; sessions end at session_max_s."""
    c = Cluster(tmp_path, limits=Limits(max_connections=2, connection_burst=4, connection_rate_per_s=0.001,
                                        session_max_s=8))
    try:
        first = psycopg.connect(c.dsn(), autocommit=True)
        first_at = time.monotonic()
        second = psycopg.connect(c.dsn(), autocommit=True)
        with pytest.raises(psycopg.OperationalError) as ei:
            psycopg.connect(c.dsn())
        assert "FATAL:  Unable to accept connection, too many open connections." in str(ei.value)
        second.close()
        deadline = time.monotonic() + 10                        # the relay winds the session down
        while c.relay.quotas.open > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        psycopg.connect(c.dsn()).close()                        # the slot was given back
        while c.relay.quotas.open > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        psycopg.connect(c.dsn()).close()
        with pytest.raises(psycopg.OperationalError) as ei:     # all four tokens were used (not by the refusal)
            psycopg.connect(c.dsn())
        assert "FATAL:  Unable to accept connection, rate exceeded." in str(ei.value)
        with pytest.raises(psycopg.OperationalError) as ei:
            while time.monotonic() - first_at < 30:
                assert first.execute("rows 1").fetchall() == [(0, "r0")]
                time.sleep(0.5)
        assert time.monotonic() - first_at >= 8
        assert ei.value.sqlstate == "57P01" and "maximum session duration of 8 seconds" in str(ei.value)
    finally:
        c.close()


def test_cancel_is_forwarded(cluster):
    # cancel_safe: libpq 17's cancel API, over TLS like the session (conn.cancel() would block in C
    # holding the GIL, and the relay runs in this process).
    CancellableSession.cancels.clear()
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        threading.Timer(0.5, conn.cancel_safe).start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("sleep")
        assert conn.execute("rows 1").fetchone() == (0, "r0")
    assert len(CancellableSession.cancels) == 1


def test_plaintext_cancel_request_is_forwarded(cluster):
    CancellableSession.cancels.clear()
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        pid, secret = conn.info.backend_pid, None
        # the secret is not exposed by libpq: find it on the compute
        svc = cluster.computes["az1"]
        (key,) = [k for k in svc.sessions if k[0] == pid]
        secret = key[1]

        def cancel():
            time.sleep(0.5)
            with socket.create_connection(("127.0.0.1", cluster.port)) as s:
                s.sendall(pgwire.cancel_request_msg(pid, secret))
                assert recv_all(s) == b""                     # the relay just closes

        t = threading.Thread(target=cancel)
        t.start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("sleep")
        t.join()
    assert len(CancellableSession.cancels) == 1


def test_status_rpc_counts_connections(cluster):
    ep = cluster.config.endpoint("az1", "relay")
    with grpc.insecure_channel(ep.grpc_target) as ch:
        stub = relay_pb2_grpc.RelayStub(ch)
        assert stub.Status(relay_pb2.StatusRequest(), timeout=5).az == "az1"
        with psycopg.connect(cluster.dsn()):
            assert stub.Status(relay_pb2.StatusRequest(), timeout=5).connections == 1
        for _ in range(50):
            if stub.Status(relay_pb2.StatusRequest(), timeout=5).connections == 0:
                break
            time.sleep(0.05)
        assert stub.Status(relay_pb2.StatusRequest(), timeout=5).connections == 0


def test_oversized_message_is_fatal(cluster):
    # A declared length over the limit is refused before the body is sent.
    ctx = ssl.create_default_context(cafile=cluster.ca)
    ctx.set_alpn_protocols(["postgresql"])
    with socket.create_connection(("127.0.0.1", cluster.port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(pgwire.startup_msg({"user": "admin", "database": "postgres"}))
            recv_msgs(s, 1)
            s.sendall(pgwire.password_msg(cluster.token()))
            recv_until_ready(s)
            s.sendall(b"Q" + struct.pack("!i", 2**30))
            msgs = pgwire.parse_backend(recv_all(s))
            assert msgs[-1].type == "E" and msgs[-1].fields()["C"] == "08P01"


def test_fallback_to_another_az(tmp_path):
    c = Cluster(tmp_path, az1_compute_up=False)
    try:
        with psycopg.connect(c.dsn()) as conn:
            assert conn.execute("rows 1").fetchone() == (0, "r0")
            assert conn.info.backend_pid >> 24 == 2          # the compute of az2
    finally:
        c.close()


def wait_port(port, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(port)


def test_relay_processes_share_the_port_and_stop_on_sigterm(cluster, tmp_path):
    """`python -m services.relay` for two AZs on one client port (SO_REUSEPORT), metrics, SIGTERM."""
    cluster.call(cluster.relay.stop(grace=0))                # free the in-process relay's port
    cfg = tmp_path / "cluster.json"
    cfg.write_text(cluster.config.to_json())
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    procs = [subprocess.Popen([sys.executable, "-m", "services.relay", "--config", str(cfg), "--az", az],
                              cwd=root, stderr=subprocess.PIPE, text=True) for az in ("az1", "az2")]
    try:
        for az in ("az1", "az2"):
            wait_port(cluster.config.endpoint(az, "relay").grpc_port)
        for _ in range(6):                                   # the kernel spreads these over both
            with psycopg.connect(cluster.dsn()) as conn:
                assert conn.execute("rows 1").fetchone() == (0, "r0")
        ep = cluster.config.endpoint("az1", "relay")
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{ep.metrics_port}/metrics", timeout=5).read().decode()
        assert "dsql_relay_connections_open" in metrics and "dsql_relay_connections_accepted_total" in metrics
        procs[0].send_signal(signal.SIGTERM)
        assert procs[0].wait(15) == 0
        for _ in range(4):                                   # the endpoint survives the loss of a relay
            with psycopg.connect(cluster.dsn()) as conn:
                assert conn.execute("rows 1").fetchone() == (0, "r0")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    assert procs[1].returncode == 0, procs[1].stderr.read()


# --------------------------------------------------------------------------- raw socket helpers

def recv_all(s, timeout=5.0) -> bytes:
    s.settimeout(timeout)
    out = b""
    while True:
        try:
            b = s.recv(65536)
        except (ConnectionError, ssl.SSLError):
            break
        if not b:
            break
        out += b
    return out


def recv_msgs(s, n, timeout=5.0) -> bytes:
    s.settimeout(timeout)
    buf = b""
    while True:
        try:
            msgs = list(pgwire.split_frames(buf))
            if len(msgs) >= n:
                return buf
        except Exception:  # noqa: BLE001 - incomplete
            pass
        b = s.recv(65536)
        if not b:
            return buf
        buf += b


def recv_until_ready(s, timeout=5.0) -> bytes:
    s.settimeout(timeout)
    buf = b""
    while True:
        try:
            if any(t == b"Z" for t, _ in pgwire.split_frames(buf)):
                return buf
        except Exception:  # noqa: BLE001
            pass
        b = s.recv(65536)
        if not b:
            return buf
        buf += b


def test_psycopg2_client(cluster):
    import psycopg2
    conn = psycopg2.connect(cluster.dsn())
    try:
        cur = conn.cursor()
        cur.execute("rows 2")
        assert cur.fetchall() == [(0, "r0"), (1, "r1")]
        cur.execute("insert")
        conn.commit()
        with pytest.raises(psycopg2.errors.DivisionByZero):
            cur.execute("fail")
        conn.rollback()
    finally:
        conn.close()


def test_client_vanishing_mid_statement_closes_the_session(cluster):
    CancellableSession.cancels.clear()
    ctx = ssl.create_default_context(cafile=cluster.ca)
    ctx.set_alpn_protocols(["postgresql"])
    with socket.create_connection(("127.0.0.1", cluster.port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(pgwire.startup_msg({"user": "admin", "database": "postgres"}))
            recv_msgs(s, 1)
            s.sendall(pgwire.password_msg(cluster.token()))
            recv_until_ready(s)
            s.sendall(pgwire.query_msg("sleep"))
            time.sleep(0.3)
    for _ in range(100):
        if CancellableSession.cancels and not cluster.computes["az1"].sessions:
            break
        time.sleep(0.05)
    assert len(CancellableSession.cancels) == 1 and not cluster.computes["az1"].sessions
