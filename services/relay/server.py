"""The relay: the cluster's PostgreSQL endpoint.

Per connection: negotiate TLS (SSLRequest, or direct TLS with ALPN
`postgresql`), refuse plaintext, read the StartupMessage, ask for the password
(an auth token) in clear text inside TLS, verify it, then open one
`Compute.Session` stream to the compute of this AZ (other AZs as fallback) and
pump whole PostgreSQL messages both ways. It never parses SQL.

Every relay of a cluster listens on the same client port with SO_REUSEPORT, so
the endpoint survives the loss of any one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import ssl
import time
from typing import Any

import grpc
from prometheus_client import Counter, Gauge, Histogram

from services.common import pgwire
from services.common.auth.sigv4 import Identity, authorize, verify_token
from services.common.auth.store import ReloadingStore
from services.common.config import ClusterConfig
from services.common.errors import (ConfigurationLimitExceeded, InvalidAuthorization, PgError,
                                    ProtocolViolation, TooManyConnections)
from services.compute.catalog import EtcdStore
from services.pb.dsql.compute.v1 import compute_pb2, compute_pb2_grpc
from services.pb.dsql.relay.v1 import relay_pb2, relay_pb2_grpc
from services.relay.admission import Admission
from services.relay.quota import MAX_CONNECTIONS, RATE, Quotas

log = logging.getLogger("relay")

STARTUP_TIMEOUT_S = 60.0          # as PostgreSQL's authentication_timeout
TLS_HANDSHAKE_TIMEOUT_S = 30.0
COMPUTE_START_TIMEOUT_S = 30.0
READ_CHUNK = 256 * 1024
ALPN = "postgresql"
FS_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL:!MD5:!DSS:!SHA1"

GRPC_OPTIONS = [
    ("grpc.max_send_message_length", 256 * 1024 * 1024),
    ("grpc.max_receive_message_length", 256 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
]

CONN_OPEN = Gauge("dsql_relay_connections_open", "Authenticated client connections open")
CONN_ACCEPTED = Counter("dsql_relay_connections_accepted_total", "TCP connections accepted")
CONN_REFUSED = Counter("dsql_relay_connections_refused_total", "Connections refused, by reason", ["reason"])
AUTH_FAILURES = Counter("dsql_relay_auth_failures_total", "Failed authentications, by SQLSTATE", ["sqlstate"])
SESSIONS_STARTED = Counter("dsql_relay_sessions_started_total", "Sessions handed to a compute, by compute AZ",
                           ["compute_az"])
SESSIONS_ENDED = Counter("dsql_relay_sessions_ended_by_relay_total",
                         "Sessions the relay ended, by reason (max_duration, revoked)", ["reason"])
SESSION_DURATION = Histogram("dsql_relay_session_duration_seconds", "Age of sessions when they end",
                             buckets=(1, 10, 60, 300, 900, 1800, 3000, 3600, 4000))
_SESSION_STARTS: dict[int, float] = {}     # open sessions of this process: start time (monotonic)
OLDEST_SESSION = Gauge("dsql_relay_oldest_session_age_seconds", "Age of the oldest open session")
OLDEST_SESSION.set_function(lambda: time.monotonic() - min(_SESSION_STARTS.values(), default=time.monotonic()))
_READY_FOR_QUERY = b"Z\0\0\0\x05"
CANCELS = Counter("dsql_relay_cancel_requests_total", "Cancel requests forwarded")


def make_ssl_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(FS_CIPHERS)          # TLS 1.3 suites are all forward secret
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_RENEGOTIATION
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols([ALPN])
    return ctx


class _TxnWatch:
    """What a session's relay knows of its transaction state (from ReadyForQuery): the next
    client message after an idle ReadyForQuery starts a transaction, and authorization is
    checked again then. (A misread tail only causes one extra, harmless check.)"""

    def __init__(self, user: str, identity: Identity):
        self.user = user
        self.identity = identity
        self.idle = True           # the first transaction may come long after the connection was authorized


class _Closed(Exception):
    """The client went away (or must be dropped) during the startup phase."""


async def _wait_readable(sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    fd = sock.fileno()

    def ready():
        if not fut.done():
            fut.set_result(None)

    loop.add_reader(fd, ready)
    try:
        await fut
    finally:
        loop.remove_reader(fd)


async def _peek(sock: socket.socket, n: int) -> bytes:
    while True:
        try:
            return sock.recv(n, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            await _wait_readable(sock)


async def _streams(sock: socket.socket, ssl_ctx: ssl.SSLContext | None):
    """Server-side asyncio streams over an accepted socket (TLS from the first byte if ssl_ctx)."""
    loop = asyncio.get_running_loop()
    got: asyncio.Future = loop.create_future()

    def connected(r, w):   # a client_connected_cb marks the streams as server side (for start_tls)
        if not got.done():
            got.set_result((r, w))

    reader = asyncio.StreamReader(limit=2 ** 20, loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, connected, loop=loop)
    kw: dict[str, Any] = {}
    if ssl_ctx is not None:
        kw = {"ssl": ssl_ctx, "ssl_handshake_timeout": TLS_HANDSHAKE_TIMEOUT_S}
    await loop.connect_accepted_socket(lambda: protocol, sock, **kw)
    return await got


async def _read_startup_packet(reader: asyncio.StreamReader) -> pgwire.FrontendMessage:
    try:
        head = await reader.readexactly(4)
    except asyncio.IncompleteReadError:
        raise _Closed() from None
    ln = int.from_bytes(head, "big", signed=True)
    if ln < 8 or ln > pgwire.MAX_STARTUP_PACKET_LEN:
        raise ProtocolViolation("invalid length of startup packet", severity="FATAL")
    try:
        body = await reader.readexactly(ln - 4)
    except asyncio.IncompleteReadError:
        raise _Closed() from None
    return pgwire.parse_startup_packet(body)


def _buffered(reader: asyncio.StreamReader) -> int:
    return len(getattr(reader, "_buffer", b""))


class Relay:
    def __init__(self, config: ClusterConfig, az: str, *, store: Any = None,
                 ssl_ctx: ssl.SSLContext | None = None):
        self.config = config
        self.az = az
        self.store = store if store is not None else ReloadingStore(config.credentials_file)
        self.admission = Admission.for_etcd(config.etcd_endpoints)
        self.ssl_ctx = ssl_ctx or make_ssl_context(config.tls_cert, config.tls_key)
        self.hostnames = tuple(config.hostnames)
        self.limits = config.limits
        etcd = (lambda: EtcdStore(config.etcd_endpoints, timeout=2)) if config.etcd_endpoints else None
        self.quotas = Quotas(self.limits, config.cluster_id,
                             f"{az}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}", etcd)
        self.connections = 0
        self._sock: socket.socket | None = None
        self._accept_task: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stubs: dict[str, compute_pb2_grpc.ComputeStub] = {}
        self._grpc_server: grpc.aio.Server | None = None
        self.port = 0
        self.grpc_port = 0
        az_order = list(config.azs)
        self._az_index = {a: i for i, a in enumerate(az_order)}
        self._compute_order = [az] + [a for a in az_order if a != az]

    # ------------------------------------------------------------------ lifecycle

    async def start(self, *, grpc_server: bool = True) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in self.config.client_host else socket.AF_INET,
                             socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((self.config.client_host, self.config.client_port))
        sock.listen(512)
        sock.setblocking(False)
        self._sock = sock
        self.port = sock.getsockname()[1]
        for a in self._compute_order:
            if "compute" in self.config.azs.get(a, {}):
                ch = grpc.aio.insecure_channel(self.config.endpoint(a, "compute").grpc_target,
                                               options=GRPC_OPTIONS)
                self._channels[a] = ch
                self._stubs[a] = compute_pb2_grpc.ComputeStub(ch)
        if grpc_server:
            ep = self.config.endpoint(self.az, "relay")
            server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
            relay_pb2_grpc.add_RelayServicer_to_server(_RelayStatus(self), server)
            self.grpc_port = server.add_insecure_port(f"{ep.host}:{ep.grpc_port}")
            await server.start()
            self._grpc_server = server
        await self.quotas.start()
        self._accept_task = asyncio.create_task(self._accept_loop())
        log.info("relay %s listening on %s:%d", self.az, self.config.client_host, self.port)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, give sessions `grace` seconds to finish, then close the rest."""
        if self._accept_task is not None:
            self._accept_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accept_task
            self._accept_task = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._tasks and grace > 0:
            await asyncio.wait(list(self._tasks), timeout=grace)
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
        if self._grpc_server is not None:
            await self._grpc_server.stop(grace=1)
        for ch in self._channels.values():
            await ch.close()
        await self.quotas.stop()

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._sock is not None
        while True:
            try:
                conn, addr = await loop.sock_accept(self._sock)
            except asyncio.CancelledError:
                raise
            except OSError as e:
                log.warning("accept failed: %s", e)
                await asyncio.sleep(0.05)
                continue
            conn.setblocking(False)
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            CONN_ACCEPTED.inc()
            t = asyncio.create_task(self._handle(conn, addr))
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ one connection

    async def _handle(self, conn: socket.socket, addr) -> None:
        holder: dict[str, Any] = {}
        try:
            try:
                reader, _, start = await asyncio.wait_for(self._negotiate(conn, holder), STARTUP_TIMEOUT_S)
            except asyncio.TimeoutError:
                CONN_REFUSED.labels("timeout").inc()
                return
            if start is None:
                return
            await self._session(reader, holder["writer"], start)
        except _Closed:
            pass
        except (ConnectionError, ssl.SSLError, OSError) as e:
            log.debug("connection from %s ended: %s", addr, e)
        except asyncio.CancelledError:
            writer = holder.get("writer")
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.write(pgwire.error_response(PgError(
                        "terminating connection due to administrator command", sqlstate="57P01"), "FATAL"))
            raise
        except Exception:  # noqa: BLE001
            log.exception("relay connection from %s failed", addr)
        finally:
            if holder.get("admitted"):
                self.quotas.release()
            writer = holder.get("writer")
            if writer is not None:
                writer.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer.wait_closed(), 2)
            else:
                with contextlib.suppress(OSError):
                    conn.close()

    async def _fatal(self, writer, err: PgError, reason: str) -> None:
        CONN_REFUSED.labels(reason).inc()
        writer.write(pgwire.error_response(err, "FATAL"))
        with contextlib.suppress(Exception):
            await writer.drain()

    async def _negotiate(self, conn: socket.socket, holder: dict[str, Any]):
        """Up to and including authentication. Returns (reader, writer, start) or (.., None)."""
        first = await _peek(conn, 1)
        if not first:
            raise _Closed()
        tls = False
        if first[0] == pgwire.TLS_HANDSHAKE_BYTE:
            reader, writer = await _streams(conn, self.ssl_ctx)
            holder["writer"] = writer
            if writer.get_extra_info("ssl_object").selected_alpn_protocol() != ALPN:
                # As PostgreSQL 17: direct TLS requires ALPN, to rule out cross-protocol attacks.
                await self._fatal(writer, ProtocolViolation(
                    "received direct SSL connection request without ALPN protocol negotiation extension"),
                    "alpn")
                return reader, writer, None
            tls = True
        else:
            reader, writer = await _streams(conn, None)
            holder["writer"] = writer
        while True:
            try:
                msg = await _read_startup_packet(reader)
            except PgError as e:
                await self._fatal(writer, e, "protocol")
                return reader, writer, None
            if isinstance(msg, pgwire.SSLRequest):
                if tls:
                    await self._fatal(writer, ProtocolViolation("SSL negotiation is already done"), "protocol")
                    return reader, writer, None
                if _buffered(reader):
                    # Data after SSLRequest but before the handshake could be injected (CVE-2021-23214).
                    await self._fatal(writer, ProtocolViolation(
                        "received unencrypted data after SSL request"), "protocol")
                    return reader, writer, None
                writer.write(pgwire.ssl_response(True))
                await writer.drain()
                await writer.start_tls(self.ssl_ctx, ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_S)
                tls = True
                continue
            if isinstance(msg, pgwire.GSSENCRequest):
                writer.write(pgwire.ssl_response(False))    # 'N'
                await writer.drain()
                continue
            if isinstance(msg, pgwire.CancelRequest):
                await self._forward_cancel(msg)
                return reader, writer, None
            assert isinstance(msg, pgwire.StartupMessage)
            break
        user = msg.params.get("user", "")
        database = msg.params.get("database") or user
        if not tls:
            await self._fatal(writer, InvalidAuthorization(
                f'SSL connection is required: the connection for user "{user}", database "{database}" '
                "uses no encryption",
                hint="Connect with sslmode=require (or verify-full with the cluster's CA certificate)."),
                "no_tls")
            return reader, writer, None
        if not user:
            await self._fatal(writer, InvalidAuthorization("no PostgreSQL user name specified in startup packet"),
                              "protocol")
            return reader, writer, None
        if msg.params.get("replication") not in (None, "false", "off", "no", "0"):
            await self._fatal(writer, PgError("replication connections are not supported", sqlstate="0A000"),
                              "replication")
            return reader, writer, None
        unrecognized = [k for k in msg.params if k.startswith("_pq_.")]
        if msg.minor > 0 or unrecognized:
            writer.write(pgwire.negotiate_protocol_version(0, unrecognized))
        refused = await self.quotas.admit()
        if refused == RATE:
            await self._fatal(writer, ConfigurationLimitExceeded("Unable to accept connection, rate exceeded."),
                              "rate")
            return reader, writer, None
        if refused == MAX_CONNECTIONS:
            await self._fatal(writer, TooManyConnections(
                "Unable to accept connection, too many open connections."), "max_connections")
            return reader, writer, None
        holder["admitted"] = True           # a cluster-wide connection slot, given back when the socket closes

        writer.write(pgwire.authentication_cleartext_password())
        await writer.drain()
        parser = pgwire.FrontendParser(startup=False, max_message_len=pgwire.MAX_STARTUP_PACKET_LEN)
        pw = None
        while pw is None:
            data = await reader.read(4096)
            if not data:
                raise _Closed()     # e.g. psql closes to prompt for the password
            parser.feed(data)
            try:
                pw = parser.next_message()
            except PgError as e:
                await self._fatal(writer, e, "protocol")
                return reader, writer, None
        if not isinstance(pw, pgwire.PasswordMessage):
            await self._fatal(writer, ProtocolViolation(
                f"expected password response, got message type {getattr(pw, 'type', b'?')!r}"), "protocol")
            return reader, writer, None
        try:
            identity = verify_token(pw.password, self.store, self.hostnames, user=user,
                                    expiry_max_s=self.limits.token_expiry_max_s,
                                    clock_skew_s=self.limits.token_clock_skew_s)
            authorize(identity, user, self.store, self.config.cluster_arn)
            await self.admission.check(user, identity.principal_arn)
        except PgError as e:
            AUTH_FAILURES.labels(e.sqlstate).inc()
            log.info("authentication failed for user %r: %s", user, e.message)
            await self._fatal(writer, e, "auth")
            return reader, writer, None
        writer.write(pgwire.authentication_ok())
        options = {k: v for k, v in msg.params.items() if k not in ("user", "database")}
        leftover = parser.pending()
        return reader, writer, (user, database, options, identity, leftover)

    # ------------------------------------------------------------------ compute side

    def _new_key(self, compute_az: str) -> tuple[int, int]:
        # The backend pid names the compute AZ (high byte) so that a cancel arriving at any relay
        # can be routed; the rest is random.
        idx = self._az_index.get(compute_az, 0) + 1
        pid = (idx << 24) | secrets.randbelow(1 << 24)
        secret = secrets.randbits(32) - (1 << 31)
        return pid, secret

    async def _open_compute(self, start: compute_pb2.SessionStart):
        last: Exception | None = None
        for a in self._compute_order:
            stub = self._stubs.get(a)
            if stub is None:
                continue
            pid, secret = self._new_key(a)
            start.backend_pid, start.cancel_secret = pid, secret
            call = stub.Session()
            try:
                await call.write(compute_pb2.SessionUp(start=start))
                first = await asyncio.wait_for(call.read(), COMPUTE_START_TIMEOUT_S)
                if first is grpc.aio.EOF:
                    raise ConnectionError("compute closed the session stream")
                return a, call, first
            except (grpc.aio.AioRpcError, asyncio.TimeoutError, ConnectionError) as e:
                last = e
                call.cancel()
                log.warning("compute %s unavailable: %s", a, e)
        raise PgError("unable to accept connection, no query processor is available", sqlstate="08006",
                      detail=str(last) if last else None)

    async def _session(self, reader, writer, start_info) -> None:
        user, database, options, identity, leftover = start_info
        peer = writer.get_extra_info("peername") or ("", 0)
        start = compute_pb2.SessionStart(user=user, database=database, options=options,
                                         iam_principal=identity.principal_arn,
                                         client_addr=str(peer[0]), client_port=int(peer[1]))
        try:
            compute_az, call, first = await self._open_compute(start)
        except PgError as e:
            await self._fatal(writer, e, "no_compute")
            return
        SESSIONS_STARTED.labels(compute_az).inc()
        self.connections += 1
        CONN_OPEN.inc()
        started = time.monotonic()
        _SESSION_STARTS[id(writer)] = started
        txn = _TxnWatch(user, identity)
        try:
            writer.write(first.messages)
            await writer.drain()
            if first.close:
                return
            up = asyncio.create_task(self._pump_up(reader, writer, call, leftover, txn))
            down = asyncio.create_task(self._pump_down(writer, call, txn))
            timeout = self.limits.session_max_s
            done, pending = await asyncio.wait({up, down}, timeout=timeout,
                                               return_when=asyncio.FIRST_COMPLETED)
            if not done:
                SESSIONS_ENDED.labels("max_duration").inc()
                writer.write(pgwire.error_response(PgError(
                    f"terminating connection: the maximum session duration of {timeout} seconds was reached",
                    sqlstate="57P01"), "FATAL"))
            if up in done and not up.cancelled() and up.exception() is None and up.result() \
                    and down not in done:
                # The client sent Terminate: let the compute wind the session down briefly.
                # (On a bare EOF nobody is left to answer: the call is cancelled at once, which
                # cancels a running statement.)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(down), 5)
            for t in (up, down):
                if not t.done():
                    t.cancel()
            for t in (up, down):
                with contextlib.suppress(BaseException):
                    await t
            err = None
            for t in (up, down):
                if t.done() and not t.cancelled() and t.exception() is not None:
                    err = t.exception()
            if isinstance(err, PgError):
                writer.write(pgwire.error_response(err, "FATAL"))
            elif isinstance(err, grpc.aio.AioRpcError):
                writer.write(pgwire.error_response(PgError(
                    "terminating connection: the connection to the query processor was lost",
                    sqlstate="08006", detail=err.details()), "FATAL"))
            with contextlib.suppress(Exception):
                await writer.drain()
        finally:
            call.cancel()
            self.connections -= 1
            CONN_OPEN.dec()
            _SESSION_STARTS.pop(id(writer), None)
            SESSION_DURATION.observe(time.monotonic() - started)

    def _reauthorize(self, txn: _TxnWatch) -> None:
        """At the start of a transaction: the principal must still be allowed to connect."""
        try:
            authorize(txn.identity, txn.user, self.store, self.config.cluster_arn)
        except PgError as e:
            AUTH_FAILURES.labels(e.sqlstate).inc()
            SESSIONS_ENDED.labels("revoked").inc()
            log.info("session of %s as %r ended: %s", txn.identity.principal_arn, txn.user, e.detail)
            raise

    async def _pump_up(self, reader: asyncio.StreamReader, writer, call, leftover: bytes,
                       txn: _TxnWatch) -> bool:
        """Client to compute; True when the client sent Terminate, False on EOF."""
        parser = pgwire.FrontendParser(startup=False)
        data = leftover
        while True:
            if data:
                parser.feed(data)
                frames, terminated = parser.take_frames()    # raises 08P01 on an oversized length
                if frames:
                    if txn.idle and frames != pgwire.terminate_msg():
                        self._reauthorize(txn)
                    txn.idle = False
                    await call.write(compute_pb2.SessionUp(messages=frames))
                if terminated:
                    with contextlib.suppress(Exception):
                        await call.done_writing()
                    return True
            data = await reader.read(READ_CHUNK)
            if not data:
                return False

    async def _pump_down(self, writer: asyncio.StreamWriter, call, txn: _TxnWatch) -> None:
        while True:
            msg = await call.read()
            if msg is grpc.aio.EOF:
                return
            if msg.messages:
                writer.write(msg.messages)
                # The compute flushes after ReadyForQuery, so it ends a chunk; 'I' = no transaction open.
                if msg.messages[-6:-1] == _READY_FOR_QUERY:
                    txn.idle = msg.messages[-1:] == b"I"
                await writer.drain()
            if msg.close:
                return

    async def _forward_cancel(self, req: pgwire.CancelRequest) -> None:
        CANCELS.inc()
        idx = (req.backend_pid >> 24) - 1
        azs = list(self._az_index)
        order = ([azs[idx]] if 0 <= idx < len(azs) else []) + [a for a in self._compute_order]
        seen = set()
        for a in order:
            if a in seen or a not in self._stubs:
                continue
            seen.add(a)
            try:
                resp = await self._stubs[a].Cancel(
                    compute_pb2.CancelRequest(backend_pid=req.backend_pid, cancel_secret=req.secret), timeout=5)
                if resp.found:
                    return
            except grpc.aio.AioRpcError as e:
                log.debug("cancel via %s failed: %s", a, e)


class _RelayStatus(relay_pb2_grpc.RelayServicer):
    def __init__(self, relay: Relay):
        self.relay = relay

    async def Status(self, request, context):
        return relay_pb2.StatusResponse(az=self.relay.az, connections=self.relay.connections)


async def serve(config: ClusterConfig, az: str) -> None:
    relay = Relay(config, az)
    await relay.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("relay %s stopping", az)
    await relay.stop(grace=5)
