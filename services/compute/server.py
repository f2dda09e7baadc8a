"""The compute's gRPC server: one `Compute.Session` stream per client session.

Each stream starts with a SessionStart (sent by the relay after it authenticated
the client); the compute answers with the session's ParameterStatus messages,
BackendKeyData and ReadyForQuery, then feeds every SessionUp.messages batch to
the session's protocol state machine (services/compute/protocol.py) in a worker
thread and streams the backend messages back. Sessions are asyncio tasks, so an
idle session costs no thread.

The SQL engine, catalog and transaction client are imported lazily (they are
separate parts); a test or tool can pass its own `session_factory`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import signal
import threading
from typing import Any, Callable

import grpc
from prometheus_client import Counter, Gauge, Histogram

from services.common import pgwire
from services.common.config import ClusterConfig
from services.common.errors import PgError
from services.compute.protocol import Protocol, startup_messages
from services.pb.dsql.compute.v1 import compute_pb2, compute_pb2_grpc

log = logging.getLogger("compute")

GRPC_OPTIONS = [
    ("grpc.max_send_message_length", 256 * 1024 * 1024),
    ("grpc.max_receive_message_length", 256 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.so_reuseport", 0),
]

DATABASES = ("postgres",)

SESSIONS_OPEN = Gauge("dsql_compute_sessions_open", "Sessions open on this compute")
SESSIONS_TOTAL = Counter("dsql_compute_sessions_total", "Sessions started on this compute")
SESSIONS_REFUSED = Counter("dsql_compute_sessions_refused_total", "Sessions refused at start", ["reason"])
BATCH_SECONDS = Histogram("dsql_compute_batch_seconds", "Time to process one batch of frontend messages",
                          buckets=(.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5))
CANCELS = Counter("dsql_compute_cancel_requests_total", "Cancel requests", ["found"])

SessionFactory = Callable[[compute_pb2.SessionStart], Any]


class EngineFactory:
    """Creates SqlSessions on the real engine; the catalog and KV are made on first use."""

    def __init__(self, config: ClusterConfig, az: str):
        self.config = config
        self.az = az
        self._lock = threading.Lock()
        self._catalog = None
        self._kv = None

    def _ensure(self) -> None:
        with self._lock:
            if self._kv is None:
                from services.compute.catalog import Catalog
                from services.compute.kv import KV
                from services.compute.jobs import JobRunner
                catalog = Catalog(self.config.etcd_endpoints)
                catalog.bootstrap()
                self._catalog = catalog
                self._kv = KV(self.config, self.az)
                self.jobs = JobRunner(catalog, self._kv, self.config.limits, owner=f"{self.az}/{os.getpid()}")
                self.jobs.start()

    def warm_up(self) -> None:
        try:
            self._ensure()
        except Exception:  # noqa: BLE001 - sessions will report it; keep serving Status
            log.exception("SQL engine not available yet")

    def __call__(self, start: compute_pb2.SessionStart) -> Any:
        try:
            self._ensure()
            from services.compute.sql import SqlSession
        except PgError:
            raise
        except Exception as e:  # noqa: BLE001
            log.exception("cannot start the SQL engine")
            raise PgError(f"the query processor is not available: {e}", sqlstate="57P03",
                          severity="FATAL") from None
        return SqlSession(catalog=self._catalog, kv=self._kv, user=start.user, database=start.database,
                          limits=self.config.limits)


class _Handle:
    def __init__(self, proto: Protocol | None, session: Any):
        self.proto = proto
        self.session = session

    def cancel(self) -> None:
        fn = getattr(self.session, "cancel", None)
        if callable(fn):
            try:
                fn()
            except Exception:  # noqa: BLE001
                log.exception("cancel failed")


class ComputeService(compute_pb2_grpc.ComputeServicer):
    def __init__(self, az: str, session_factory: SessionFactory,
                 executor: concurrent.futures.Executor | None = None, codec: Any = None):
        self.az = az
        self.codec = codec
        self.session_factory = session_factory
        self.executor = executor or concurrent.futures.ThreadPoolExecutor(max_workers=64,
                                                                          thread_name_prefix="stmt")
        self.sessions: dict[tuple[int, int], _Handle] = {}

    async def Session(self, request_iterator, context):
        loop = asyncio.get_running_loop()
        try:
            first = await request_iterator.__anext__()
        except StopAsyncIteration:
            return
        if first.WhichOneof("kind") != "start":
            yield compute_pb2.SessionDown(messages=pgwire.error_response(
                PgError("session stream must begin with SessionStart", sqlstate="08P01"), "FATAL"), close=True)
            return
        start = first.start
        if start.database not in DATABASES:
            SESSIONS_REFUSED.labels("database").inc()
            yield compute_pb2.SessionDown(messages=pgwire.error_response(
                PgError(f'database "{start.database}" does not exist', sqlstate="3D000"), "FATAL"), close=True)
            return
        try:
            session = await loop.run_in_executor(self.executor, self.session_factory, start)
        except Exception as e:  # noqa: BLE001
            err = e if isinstance(e, PgError) else PgError(f"internal error: {e}", sqlstate="XX000")
            SESSIONS_REFUSED.labels("engine").inc()
            yield compute_pb2.SessionDown(messages=pgwire.error_response(err, "FATAL"), close=True)
            return
        session.backend_pid = start.backend_pid          # pg_backend_pid()
        session.client_addr, session.client_port = start.client_addr or None, start.client_port or None
        settings = getattr(session, "settings", None)
        if isinstance(settings, dict) and start.options.get("application_name"):
            settings["application_name"] = start.options["application_name"]
        proto = Protocol(session, self.codec)
        key = (start.backend_pid, start.cancel_secret)
        self.sessions[key] = _Handle(proto, session)
        SESSIONS_OPEN.inc()
        SESSIONS_TOTAL.inc()
        inflight: concurrent.futures.Future | None = None
        try:
            status = getattr(session, "txn_status", "I")
            yield compute_pb2.SessionDown(messages=startup_messages(
                user=start.user, database=start.database, options=dict(start.options),
                backend_pid=start.backend_pid, cancel_secret=start.cancel_secret,
                txn_status=status if status in ("I", "T", "E") else "I"))
            async for up in request_iterator:
                if up.WhichOneof("kind") != "messages" or not up.messages:
                    continue
                with BATCH_SECONDS.time():
                    inflight = self.executor.submit(proto.process, up.messages)
                    chunks = await asyncio.wrap_future(inflight)
                for c in chunks:
                    yield compute_pb2.SessionDown(messages=c)
                if proto.closed:
                    yield compute_pb2.SessionDown(close=True)
                    break
        finally:
            handle = self.sessions.pop(key, None)
            SESSIONS_OPEN.dec()
            if inflight is not None and not inflight.done():
                # The stream ended (client gone) while a statement runs: cancel it and let it
                # finish before the session is closed under it.
                if handle is not None:
                    handle.cancel()
                with contextlib.suppress(BaseException):
                    await asyncio.wait([asyncio.wrap_future(inflight)], timeout=30)
            proto.close()
            closer = getattr(session, "close", None)
            if callable(closer):
                try:
                    await loop.run_in_executor(self.executor, closer)
                except Exception:  # noqa: BLE001
                    log.exception("closing session failed")

    async def Cancel(self, request, context):
        h = self.sessions.get((request.backend_pid, request.cancel_secret))
        CANCELS.labels("yes" if h else "no").inc()
        if h is not None:
            await asyncio.get_running_loop().run_in_executor(None, h.cancel)
        return compute_pb2.CancelResponse(found=h is not None)

    async def Status(self, request, context):
        return compute_pb2.StatusResponse(az=self.az, sessions=len(self.sessions))


async def start_server(service: ComputeService, bind: str) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server(options=GRPC_OPTIONS)
    compute_pb2_grpc.add_ComputeServicer_to_server(service, server)
    port = server.add_insecure_port(bind)
    await server.start()
    return server, port


async def serve(config: ClusterConfig, az: str, session_factory: SessionFactory | None = None) -> None:
    ep = config.endpoint(az, "compute")
    factory = session_factory
    if factory is None:
        engine = EngineFactory(config, az)
        factory = engine
    service = ComputeService(az, factory)
    server, port = await start_server(service, f"{ep.host}:{ep.grpc_port}")
    log.info("compute %s serving gRPC on %s:%d", az, ep.host, port)
    if session_factory is None:
        asyncio.get_running_loop().run_in_executor(service.executor, engine.warm_up)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    await stop.wait()
    log.info("compute %s stopping", az)
    runner = getattr(factory, "jobs", None)
    if runner is not None:      # hand a running job back (its lease) instead of letting it expire
        await loop.run_in_executor(None, runner.stop)
    await server.stop(grace=5)
    service.executor.shutdown(wait=False, cancel_futures=True)
