"""Hostile clients over the real relay: one that writes a byte at a time, one that never reads its
results. Other clients keep working meanwhile, and when they go the computes hold no session."""

from __future__ import annotations

import socket
import ssl
import time

import grpc

from services.common import pgwire
from services.pb.dsql.compute.v1 import compute_pb2, compute_pb2_grpc


def open_session(ep) -> ssl.SSLSocket:
    """SSLRequest, TLS, StartupMessage and the token: a raw, authenticated session."""
    raw = socket.create_connection((ep.host, ep.port), timeout=30)
    raw.sendall(pgwire.ssl_request_msg())
    assert raw.recv(1) == b"S"
    sock = ssl.create_default_context(cafile=ep.ca).wrap_socket(raw, server_hostname=ep.host)
    sock.sendall(pgwire.startup_msg({"user": "admin", "database": "postgres"}))
    assert read_until(sock, "R")[0].type == "R"                  # AuthenticationCleartextPassword
    sock.sendall(pgwire.password_msg(ep.token()))
    return sock


def read_until(sock, last: str = "Z") -> list[pgwire.BackendMessage]:
    buf = b""
    while True:
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        buf += chunk
        try:
            msgs = pgwire.parse_backend(buf)
        except Exception:  # noqa: BLE001 - an incomplete frame: read more
            continue
        if msgs and msgs[-1].type == last:
            return msgs


def compute_sessions(cluster) -> int:
    total = 0
    for az in cluster.azs:
        with grpc.insecure_channel(cluster.endpoint(az, "compute").grpc_target) as ch:
            total += compute_pb2_grpc.ComputeStub(ch).Status(compute_pb2.StatusRequest(), timeout=10).sessions
    return total


def test_slow_writer_and_non_reader_do_not_stall_others(endpoint, dsql_cluster):
    """Proves: a query sent one byte every 20 ms is answered correctly; a client that never reads a
    large result does not block other clients; both leave no session behind on the computes."""
    import psycopg
    baseline = compute_sessions(dsql_cluster)
    slow = open_session(endpoint)
    assert read_until(slow)[-1].type == "Z"
    stuck = open_session(endpoint)
    assert read_until(stuck)[-1].type == "Z"
    # 40 MB of results the client never reads: the relay and the compute must not wait on it for others.
    stuck.sendall(pgwire.query_msg("SELECT repeat('x', 1000000) FROM (VALUES (1), (2), (3), (4), (5), (6), (7), "
                                   "(8), (9), (10)) v(n)") * 4)
    other = psycopg.connect(endpoint.dsn, password=endpoint.token(), autocommit=True)
    query = pgwire.query_msg("SELECT 6 * 7")
    for i, byte in enumerate(query):
        slow.sendall(bytes([byte]))
        if i % 5 == 0:                       # others are served while the slow client dribbles
            assert other.execute("SELECT %s::int + 1", (i,)).fetchone() == (i + 1,)
        time.sleep(0.02)
    msgs = read_until(slow)
    assert [m.data_row() for m in msgs if m.type == "D"] == [[b"42"]]
    for s in (slow, stuck):
        s.close()
    other.close()
    deadline = time.monotonic() + 30
    while compute_sessions(dsql_cluster) > baseline and time.monotonic() < deadline:
        time.sleep(0.2)
    assert compute_sessions(dsql_cluster) <= baseline
