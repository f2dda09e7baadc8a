"""gRPC glue of storage: the log follower and the read service.

    journal leader ──Subscribe(from applied_index + 1)──▶ _follow ──Store.apply (one WriteBatch
                                                             │     per LogBatch, incl. applied
                                                             │     index/ts and closed ts)
                                                             ▼
                                          closed_ts ──releases──▶ waiting Get / Scan at read_ts

The follower starts with its own AZ's journal and follows redirects: a journal
that is not the leader refuses Subscribe with FAILED_PRECONDITION and trailing
metadata `dsql-leader`. When the stream breaks it reconnects with exponential
backoff (50 ms .. 1 s), cycling through every journal of the cluster, and
resumes after the last applied index, so storage may start before the journal.

Reads wait (asyncio) until closed_ts >= read_ts, at most READ_WAIT_S, else
UNAVAILABLE (the client then tries another AZ's storage).

Catch-up past the journal's log head. A journal keeps only its newest entries
(`journal_retain_entries`); a replica that was away longer is refused with
OUT_OF_RANGE (trailing metadata `dsql-log-first`). It then copies a RocksDB
checkpoint from a peer storage replica whose applied index reaches that head
(`dsql.storage.v1.Replica/Checkpoint`, a stream of file chunks), swaps it in for
its own database and resumes tailing from the checkpoint's applied index.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import os
import pathlib
import shutil
import struct
import tempfile
import time

import grpc
from prometheus_client import Counter, Gauge, Histogram
from rocksdict import Checkpoint as RocksCheckpoint

from services.common.config import ClusterConfig
from services.common.hlc import wall_us
from services.common.pushdown import compile_row_filter
from services.pb.dsql.journal.v1 import journal_pb2 as jpb
from services.pb.dsql.journal.v1 import journal_pb2_grpc as jgrpc
from services.pb.dsql.storage.v1 import storage_pb2 as pb
from services.pb.dsql.storage.v1 import storage_pb2_grpc as sgrpc
from services.storage.mvcc import GapError, Store

log = logging.getLogger("dsql.storage")

LEADER_METADATA = "dsql-leader"
READ_WAIT_S = float(os.environ.get("DSQL_STORAGE_READ_WAIT_S", "5"))
GC_INTERVAL_S = 1.0
GC_KEYS_PER_STEP = 2000
GC_MARGIN_S = 60                 # on top of the transaction age limit
BACKOFF_MIN_S = 0.05
BACKOFF_MAX_S = 1.0
GRPC_MESSAGE_BYTES_MAX = 64 * 1024 * 1024
GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", GRPC_MESSAGE_BYTES_MAX),
    ("grpc.max_send_message_length", GRPC_MESSAGE_BYTES_MAX),
]

READS = Counter("dsql_storage_reads_total", "Read calls", ["kind"])
READ_KEYS = Counter("dsql_storage_read_keys_total", "Keys asked for by Get")
READ_WAITS = Counter("dsql_storage_read_waits_total", "Reads that had to wait for the closed timestamp")
READ_WAIT_SECONDS = Histogram("dsql_storage_read_wait_seconds", "Time reads waited for the closed timestamp",
                              buckets=(.0001, .0005, .001, .002, .005, .01, .05, .1, .5, 1, 5))
READ_TIMEOUTS = Counter("dsql_storage_read_timeouts_total", "Reads refused: closed timestamp too old")
APPLIED_INDEX = Gauge("dsql_storage_applied_index", "Last applied log index")
APPLY_LAG = Gauge("dsql_storage_apply_lag_seconds", "Wall clock minus commit_ts of the last applied entry, "
                  "measured when applied")
APPLIED_TS_AGE = Gauge("dsql_storage_applied_ts_age_seconds", "Wall clock minus the last applied commit_ts")
CLOSED_LAG = Gauge("dsql_storage_closed_ts_lag_seconds", "Wall clock minus the closed timestamp "
                   "(negative: the journal promises ahead of the clock)")
APPLIED_ENTRIES = Counter("dsql_storage_applied_entries_total", "Log entries applied")
GC_DROPPED = Counter("dsql_storage_gc_versions_dropped_total", "Old versions garbage-collected")
GC_HORIZON_AGE = Gauge("dsql_storage_gc_horizon_age_seconds", "Wall clock minus the GC horizon")
ROWS_RETURNED = Counter("dsql_storage_rows_returned_total", "Rows returned by Scan", ["pushdown"])
ROWS_EXAMINED = Counter("dsql_storage_rows_examined_total", "Visible rows a Scan looked at", ["pushdown"])
BYTES_RETURNED = Counter("dsql_storage_scan_bytes_returned_total", "Key and value bytes returned by Scan",
                         ["pushdown"])
CHECKPOINTS_INSTALLED = Counter("dsql_storage_checkpoints_installed_total",
                                "Times this replica replaced its database with a peer's checkpoint")
CHECKPOINTS_SERVED = Counter("dsql_storage_checkpoints_served_total", "Checkpoints sent to peer replicas")
LOG_FIRST_METADATA = "dsql-log-first"
REPLICA_SERVICE = "dsql.storage.v1.Replica"
CHUNK_BYTES = 1 << 20
_NAME = struct.Struct("<H")
END_OF_CHECKPOINT = _NAME.pack(0)
CONNECTED = Gauge("dsql_storage_journal_connected", "1 while subscribed to the journal")


class StorageServer(sgrpc.StorageServicer):
    def __init__(self, config: ClusterConfig, az: str):
        self.config = config
        self.az = az
        data_dir = config.az_dir(az, "storage")
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir
        db, incoming = data_dir / "db", data_dir / "db.incoming"
        if not db.exists() and incoming.exists():     # a crash in the middle of a swap
            incoming.rename(db)
        for leftover in (incoming, data_dir / "db.old"):
            shutil.rmtree(leftover, ignore_errors=True)
        self.store = Store(db)
        self._waiters: list[tuple[int, int, asyncio.Future]] = []
        self._seq = itertools.count()
        self._task: asyncio.Task | None = None
        self._gc_task: asyncio.Task | None = None
        self.gc_keep_us = (config.limits.transaction_max_s + GC_MARGIN_S) * 1_000_000
        APPLIED_INDEX.set(self.store.applied_index)
        # Computed when scraped, so heartbeats (hundreds per second) cost no metric updates.
        CLOSED_LAG.set_function(lambda: (wall_us() - self.store.closed_ts) / 1e6)
        APPLIED_TS_AGE.set_function(lambda: (wall_us() - self.store.applied_ts) / 1e6)
        GC_HORIZON_AGE.set_function(lambda: (wall_us() - self.store.gc_horizon) / 1e6)
        log.info("storage %s: applied index %d, applied ts %d", az, self.store.applied_index,
                 self.store.applied_ts)

    # -- lifecycle ---------------------------------------------------------------------------

    def start_background(self) -> None:
        self._task = asyncio.create_task(self._follow())
        self._gc_task = asyncio.create_task(self._gc())

    async def stop(self) -> None:
        for task in (self._task, self._gc_task):
            if task:
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        self.store.close()

    async def _gc(self) -> None:
        """Sweep old versions in small slices on the event loop (atomic w.r.t. applies and reads)."""
        cursor = b""
        while True:
            await asyncio.sleep(GC_INTERVAL_S)
            try:
                cursor, dropped = self.store.gc_step(wall_us() - self.gc_keep_us, cursor, GC_KEYS_PER_STEP)
                if dropped:
                    GC_DROPPED.inc(dropped)
            except Exception:
                log.exception("garbage collection step failed")

    # -- following the journal ---------------------------------------------------------------

    def _journal_targets(self) -> list[str]:
        azs = [self.az] + sorted(a for a in self.config.azs if a != self.az)
        return [self.config.endpoint(a, "journal").grpc_target for a in azs
                if "journal" in self.config.azs[a]]

    async def _follow(self) -> None:
        targets = self._journal_targets()
        pos = 0
        target = targets[0]
        backoff = BACKOFF_MIN_S
        redirects = 0
        while True:
            channel = grpc.aio.insecure_channel(target, options=GRPC_OPTIONS)
            try:
                stub = jgrpc.JournalStub(channel)
                call = stub.Subscribe(jpb.SubscribeRequest(from_index=self.store.applied_index + 1))
                connected = False
                async for batch in call:
                    if not connected:
                        connected = True
                        log.info("subscribed to journal %s from index %d", target,
                                 self.store.applied_index + 1)
                        backoff = BACKOFF_MIN_S
                        redirects = 0
                        CONNECTED.set(1)
                    self._on_batch(batch)
                log.warning("journal %s ended the stream", target)
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as e:
                CONNECTED.set(0)
                first = dict(e.trailing_metadata() or ()).get(LOG_FIRST_METADATA)
                if e.code() == grpc.StatusCode.OUT_OF_RANGE and first:
                    log.warning("journal %s no longer has entry %d (its log starts at %s): copying a "
                                "checkpoint from a peer", target, self.store.applied_index + 1, first)
                    if await self._install_checkpoint(int(first) - 1):
                        continue
                leader = None
                if e.code() == grpc.StatusCode.FAILED_PRECONDITION:
                    for k, v in (e.trailing_metadata() or ()):
                        if k == LEADER_METADATA:
                            leader = v
                if leader and redirects < 3:
                    log.info("journal %s is not the leader; following %s", target, leader)
                    redirects += 1
                    target = leader
                    continue
                log.warning("journal %s: %s %s; retrying in %.2fs", target, e.code().name,
                            e.details(), backoff)
            except GapError as e:
                CONNECTED.set(0)
                log.error("log gap from journal %s: %s", target, e)
            except Exception:
                CONNECTED.set(0)
                log.exception("following journal %s failed", target)
            finally:
                await channel.close()
            await asyncio.sleep(backoff)
            redirects = 0
            backoff = min(backoff * 2, BACKOFF_MAX_S)
            pos = (pos + 1) % len(targets)
            target = targets[pos]

    # -- checkpoints -----------------------------------------------------------------------------

    def replica_handlers(self):
        return grpc.method_handlers_generic_handler(REPLICA_SERVICE, {
            "Checkpoint": grpc.unary_stream_rpc_method_handler(self.Checkpoint)})

    async def Checkpoint(self, request: bytes, context):
        """Stream a consistent checkpoint of this replica's database: per chunk u16 name length,
        name, data (files one after another), then END_OF_CHECKPOINT."""
        loop = asyncio.get_running_loop()
        tmp = pathlib.Path(tempfile.mkdtemp(prefix="checkpoint-", dir=self.data_dir))
        path = tmp / "db"
        try:
            await loop.run_in_executor(None, lambda: RocksCheckpoint(self.store.db).create_checkpoint(str(path)))
            for f in sorted(path.iterdir()):
                name = f.name.encode()
                with open(f, "rb") as fh:
                    while True:
                        chunk = await loop.run_in_executor(None, fh.read, CHUNK_BYTES)
                        yield _NAME.pack(len(name)) + name + chunk
                        if len(chunk) < CHUNK_BYTES:
                            break
            CHECKPOINTS_SERVED.inc()
            yield END_OF_CHECKPOINT
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    async def _install_checkpoint(self, need_index: int) -> bool:
        """Replace the database with a peer's checkpoint that has applied at least need_index."""
        incoming = self.data_dir / "db.incoming"
        for az in sorted(a for a in self.config.azs if a != self.az and "storage" in self.config.azs[a]):
            target = self.config.endpoint(az, "storage").grpc_target
            channel = grpc.aio.insecure_channel(target, options=GRPC_OPTIONS)
            try:
                status = await sgrpc.StorageStub(channel).Status(pb.StatusRequest(), timeout=5)
                if status.applied_index < need_index:
                    continue
                shutil.rmtree(incoming, ignore_errors=True)
                incoming.mkdir()
                call = channel.unary_stream(f"/{REPLICA_SERVICE}/Checkpoint")(b"", timeout=600)
                complete = False
                files = {}
                async for msg in call:
                    if msg == END_OF_CHECKPOINT:
                        complete = True
                        break
                    (n,) = _NAME.unpack_from(msg)
                    name = msg[_NAME.size:_NAME.size + n].decode()
                    if "/" in name or name in ("", ".", ".."):
                        raise ValueError(f"bad file name in checkpoint: {name!r}")
                    fh = files.get(name) or files.setdefault(name, open(incoming / name, "wb"))
                    fh.write(msg[_NAME.size + n:])
                for fh in files.values():
                    fh.flush()
                    os.fsync(fh.fileno())
                    fh.close()
                if not complete:
                    raise RuntimeError("the checkpoint stream ended early")
                _fsync_dir(incoming)
                self._swap_in(incoming)
                if self.store.applied_index < need_index:
                    log.error("checkpoint from %s is at %d, below %d", az, self.store.applied_index, need_index)
                    continue
                CHECKPOINTS_INSTALLED.inc()
                log.info("installed a checkpoint from storage %s: applied index %d", az, self.store.applied_index)
                return True
            except (grpc.aio.AioRpcError, OSError, ValueError, RuntimeError) as e:
                log.warning("checkpoint from storage %s failed: %s", az, e)
            finally:
                await channel.close()
        return False

    def _swap_in(self, incoming: pathlib.Path) -> None:
        """On the event loop, so no read or apply sees half of it."""
        db, old = self.data_dir / "db", self.data_dir / "db.old"
        self.store.close()
        db.rename(old)
        incoming.rename(db)
        _fsync_dir(self.data_dir)
        self.store = Store(db)
        shutil.rmtree(old, ignore_errors=True)
        APPLIED_INDEX.set(self.store.applied_index)
        self._on_batch(jpb.LogBatch(closed_ts=self.store.closed_ts))

    def _on_batch(self, batch: jpb.LogBatch) -> None:
        st = self.store
        if batch.entries:
            n = st.apply(batch.entries, batch.closed_ts)
            if n:
                APPLIED_ENTRIES.inc(n)
                APPLIED_INDEX.set(st.applied_index)
                APPLY_LAG.set((wall_us() - st.applied_ts) / 1e6)
        st.advance_closed(batch.closed_ts)
        w = self._waiters
        closed = st.closed_ts
        while w and w[0][0] <= closed:
            fut = heapq.heappop(w)[2]
            if not fut.done():
                fut.set_result(None)

    async def _wait_closed(self, read_ts: int, context) -> None:
        if read_ts < self.store.gc_horizon:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                                f"snapshot too old: read time {read_ts} is below the garbage "
                                f"collection horizon {self.store.gc_horizon}")
        if read_ts <= self.store.closed_ts:
            return
        READ_WAITS.inc()
        t0 = time.perf_counter()
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (read_ts, next(self._seq), fut))
        try:
            await asyncio.wait_for(fut, READ_WAIT_S)
        except asyncio.TimeoutError:
            READ_TIMEOUTS.inc()
            await context.abort(grpc.StatusCode.UNAVAILABLE,
                                f"storage {self.az} has not caught up to read time {read_ts} "
                                f"(closed {self.store.closed_ts})")
        READ_WAIT_SECONDS.observe(time.perf_counter() - t0)

    # -- rpcs -------------------------------------------------------------------------------

    async def Get(self, request: pb.GetRequest, context) -> pb.GetResponse:
        READS.labels("get").inc()
        READ_KEYS.inc(len(request.keys))
        await self._wait_closed(request.read_ts, context)
        values = self.store.get(request.read_ts, request.keys)
        return pb.GetResponse(values=[pb.OptionalValue(found=True, value=v) if v is not None
                                      else pb.OptionalValue() for v in values])

    async def Scan(self, request: pb.ScanRequest, context) -> pb.ScanResponse:
        READS.labels("scan").inc()
        await self._wait_closed(request.read_ts, context)
        if request.predicates or request.project:
            try:
                row_filter = compile_row_filter(
                    [(p.column_id, p.op, p.kind, p.value) for p in request.predicates],
                    list(request.columns) if request.project else None)
            except (ValueError, TypeError) as e:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad pushdown: {e}")
            rows, more, resume, examined = self.store.scan_filtered(
                request.read_ts, request.start, request.end, row_filter, request.limit, request.reverse)
            label = "yes"
        else:
            rows, more = self.store.scan(request.read_ts, request.start, request.end, request.limit,
                                         request.reverse)
            resume, examined, label = b"", len(rows), "no"
        ROWS_EXAMINED.labels(label).inc(examined)
        ROWS_RETURNED.labels(label).inc(len(rows))
        BYTES_RETURNED.labels(label).inc(sum(len(k) + len(v) for k, v in rows))
        return pb.ScanResponse(rows=[pb.KeyValue(key=k, value=v) for k, v in rows], more=more,
                               resume_key=resume, rows_examined=examined)

    async def Status(self, request, context) -> pb.StatusResponse:
        st = self.store
        return pb.StatusResponse(az=self.az, applied_index=st.applied_index, applied_ts=st.applied_ts,
                                 closed_ts=st.closed_ts)


async def serve(config: ClusterConfig, az: str) -> None:
    ep = config.endpoint(az, "storage")
    ss = StorageServer(config, az)
    server = grpc.aio.server(options=GRPC_OPTIONS)
    sgrpc.add_StorageServicer_to_server(ss, server)
    server.add_generic_rpc_handlers((ss.replica_handlers(),))
    if not server.add_insecure_port(f"{ep.host}:{ep.grpc_port}"):
        raise RuntimeError(f"cannot bind {ep.host}:{ep.grpc_port}")
    ss.start_background()
    await server.start()
    log.info("storage %s serving on %s:%d", az, ep.host, ep.grpc_port)
    stop = asyncio.Event()
    import signal
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        await stop.wait()
    finally:
        await server.stop(1.0)
        await ss.stop()


def _fsync_dir(path: pathlib.Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
