"""gRPC glue of the journal: Commit, Subscribe, Status.

Life of a commit on the leader (all on the event loop thread, so the
adjudicator needs no lock):

    Commit ─▶ Adjudicator.decide ──conflict──▶ CONFLICT
                   │ commit_ts, next log index
                   ▼
             pending list ──▶ flusher task: Log.append (one write + one fsync for
                   │          everything pending, in a worker thread) ─▶ durable_index
                   ▼
             commit-wait until wall clock > commit_ts + max_clock_offset_us ─▶ COMMITTED

Subscribers (storage) only ever see durable entries. Every batch carries a
closed timestamp:
  * while some assigned entry is not yet durable: (its commit_ts - 1);
  * otherwise a promise about `lead_us` ahead of the wall clock (the HLC is
    advanced so every later commit is above it). Leading the clock lets a
    reader at "now" be served without waiting for the next heartbeat; the price
    is that commit-wait lasts about `lead_us` (it overlaps the fsync).
A ticker wakes every subscriber each `closed_ts_interval_ms`; an idle one
sends an empty batch (heartbeat).

This is the static mode (`journal_replication = "static"`); the Raft-replicated
journal is services/journal/replicated.py, chosen by `serve`. Here the journal
of the first AZ in sorted order leads. A follower answers Commit with NOT_LEADER + the leader's address,
and refuses Subscribe with FAILED_PRECONDITION and trailing metadata
`dsql-leader: host:port` (storage then subscribes to that address).

Fault model: an I/O error while appending is fatal (the process exits), since
acknowledged commits must be durable and unacknowledged ones may still be in
the log; on restart the log is the truth.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import time

import grpc
from prometheus_client import Counter, Gauge, Histogram

from services.common.config import ClusterConfig
from services.common.hlc import HLC, wall_us
from services.journal.adjudicator import Adjudicator
from services.journal.commit_wait import CommitWaiter
from services.journal.log import Log
from services.pb.dsql.journal.v1 import journal_pb2 as pb

log = logging.getLogger("dsql.journal")

SERVICE = "dsql.journal.v1.Journal"
LEADER_METADATA = "dsql-leader"
BATCH_ENTRIES_MAX = 1000
BATCH_BYTES_MAX = 1 << 20
CACHE_ENTRIES_MAX = 10_000
START_TS_AHEAD_US_MAX = 1_000_000      # beyond max_clock_offset_us
GRPC_MESSAGE_BYTES_MAX = 64 * 1024 * 1024
GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", GRPC_MESSAGE_BYTES_MAX),
    ("grpc.max_send_message_length", GRPC_MESSAGE_BYTES_MAX),
]

COMMITS = Counter("dsql_journal_commits_total", "Transactions committed")
CONFLICTS = Counter("dsql_journal_conflicts_total", "Transactions refused by the adjudicator (OC000)")
COMMIT_SECONDS = Histogram("dsql_journal_commit_seconds", "Commit latency inside the journal",
                           buckets=(.0005, .001, .002, .003, .005, .0075, .01, .02, .05, .1, .25, 1))
FSYNC_BATCH = Histogram("dsql_journal_fsync_batch_entries", "Entries per group-commit fsync",
                        buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024))
FSYNC_SECONDS = Histogram("dsql_journal_fsync_seconds", "Write+fsync time of one group commit",
                          buckets=(.0001, .0005, .001, .002, .005, .01, .02, .05, .1))
LAST_INDEX = Gauge("dsql_journal_last_index", "Last durable log index")
SUBSCRIBERS = Gauge("dsql_journal_subscribers", "Open Subscribe streams")
IS_LEADER = Gauge("dsql_journal_is_leader", "1 on the leader")


def leader_az(config: ClusterConfig) -> str:
    return sorted(config.azs)[0]


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_batch(payloads: list[bytes], closed_ts: int) -> bytes:
    """A serialized LogBatch built from already-serialized LogEntry payloads (no re-encoding)."""
    parts = []
    for p in payloads:
        parts.append(b"\x0a")
        parts.append(_varint(len(p)))
        parts.append(p)
    if closed_ts:
        parts.append(b"\x10")
        parts.append(_varint(closed_ts))
    return b"".join(parts)


class JournalServer:
    def __init__(self, config: ClusterConfig, az: str, *, lead_us: int | None = None):
        self.config = config
        self.az = az
        self.leader_az = leader_az(config)
        self.is_leader = az == self.leader_az
        self.leader_target = config.endpoint(self.leader_az, "journal").grpc_target
        if lead_us is None:
            lead_us = int(os.environ.get("DSQL_CLOSED_TS_LEAD_US", config.closed_ts_interval_ms * 1000))
        self.lead_us = lead_us
        self.interval_s = max(config.closed_ts_interval_ms, 1) / 1000.0
        self.commit_wait_us = config.max_clock_offset_us
        data_dir = config.az_dir(az, "journal")
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = Log(data_dir / "journal.log")
        if self.log.truncated_bytes:
            log.warning("cut %d bytes of torn tail off %s", self.log.truncated_bytes, self.log.path)
        self.hlc = HLC()
        self.adj = Adjudicator(self.hlc, config.limits.transaction_max_s * 1_000_000)
        last_ts = 0
        if self.log.last_index:
            last_ts = self.log.read_entries(self.log.last_index, 1)[0].commit_ts
        self.adj.rebuild(self.log.iter_backwards(), last_ts)
        # A closed timestamp promised before a crash was at most (wall clock then + lead);
        # promising again now puts every new commit above it as long as the wall clock did
        # not step back across the restart.
        self.adj.promise_closed(self.lead_us + self.commit_wait_us)
        self.durable_index = self.log.last_index
        self.assigned_index = self.log.last_index
        self.last_durable_ts = last_ts
        self._pending: list[tuple[int, int, bytes, asyncio.Future]] = []
        self._undurable: list[tuple[int, int]] = []     # (index, commit_ts) assigned, not yet fsynced
        self._undurable_head = 0
        self._cache: dict[int, tuple[bytes, int]] = {}  # index -> (payload, commit_ts)
        self._io = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="journal-io")
        self._wake: asyncio.Event | None = None
        self._flush_needed: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []
        self._waiter: CommitWaiter | None = None
        self._heartbeat: bytes | None = None
        LAST_INDEX.set(self.durable_index)
        IS_LEADER.set(1 if self.is_leader else 0)
        log.info("journal %s: %s, last index %d, last commit_ts %d", az,
                 "leader" if self.is_leader else f"follower of {self.leader_target}",
                 self.durable_index, last_ts)

    # -- lifecycle ---------------------------------------------------------------------------

    def start_background(self) -> None:
        self._wake = asyncio.Event()
        self._flush_needed = asyncio.Event()
        self._waiter = CommitWaiter(asyncio.get_running_loop())
        if self.is_leader:
            self._tasks.append(asyncio.create_task(self._flusher()))
            self._tasks.append(asyncio.create_task(self._ticker()))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self._waiter:
            self._waiter.stop()
        self._io.shutdown(wait=True)
        self.log.close()

    def handlers(self):
        return grpc.method_handlers_generic_handler(SERVICE, {
            "Commit": grpc.unary_unary_rpc_method_handler(
                self.Commit, request_deserializer=pb.CommitRequest.FromString,
                response_serializer=pb.CommitResponse.SerializeToString),
            "Subscribe": grpc.unary_stream_rpc_method_handler(
                self.Subscribe, request_deserializer=pb.SubscribeRequest.FromString,
                response_serializer=lambda b: b),
            "Status": grpc.unary_unary_rpc_method_handler(
                self.Status, request_deserializer=pb.StatusRequest.FromString,
                response_serializer=pb.StatusResponse.SerializeToString),
        })

    # -- closed timestamp ----------------------------------------------------------------------

    def closed_ts(self) -> int:
        if self._undurable_head < len(self._undurable):
            return self._undurable[self._undurable_head][1] - 1
        return self.adj.promise_closed(self.lead_us)

    def _notify(self) -> None:
        ev = self._wake
        self._wake = asyncio.Event()
        ev.set()

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            # One heartbeat message per tick, shared by every idle subscriber.
            self._heartbeat = encode_batch([], self.closed_ts())
            self._notify()

    # -- commit ------------------------------------------------------------------------------

    async def Commit(self, req: pb.CommitRequest, context) -> pb.CommitResponse:
        if not self.is_leader:
            return pb.CommitResponse(outcome=pb.CommitResponse.NOT_LEADER, leader=self.leader_target)
        t0 = time.perf_counter()
        if req.start_ts > wall_us() + self.commit_wait_us + START_TS_AHEAD_US_MAX:
            # A start time from a clock far ahead would drag every later commit_ts (and so
            # every commit-wait) into the future; refuse it instead.
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"start_ts {req.start_ts} is ahead of the journal's clock")
        written = tuple(m.key for m in req.writes)
        ts, conflict_key = self.adj.decide(req.start_ts, written, tuple(req.check_keys))
        if conflict_key is not None:
            CONFLICTS.inc()
            return pb.CommitResponse(outcome=pb.CommitResponse.CONFLICT, conflict_key=conflict_key)
        if written:
            index = self.assigned_index + 1
            self.assigned_index = index
            payload = pb.LogEntry(index=index, commit_ts=ts, writes=req.writes).SerializeToString()
            fut = asyncio.get_running_loop().create_future()
            self._pending.append((index, ts, payload, fut))
            self._undurable.append((index, ts))
            self._flush_needed.set()
            await fut                   # durable and commit-waited (see _flusher)
        else:
            await self._waiter.wait_past(ts + self.commit_wait_us)
        # Commit-wait: acknowledge only once commit_ts is in the past on every clock.
        while (wait_us := ts + self.commit_wait_us - wall_us()) >= 0:
            await asyncio.sleep((wait_us + 1) / 1e6)
        COMMITS.inc()
        COMMIT_SECONDS.observe(time.perf_counter() - t0)
        return pb.CommitResponse(outcome=pb.CommitResponse.COMMITTED, commit_ts=ts)

    async def _flusher(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._flush_needed.wait()
            self._flush_needed.clear()
            batch = self._pending
            if not batch:
                continue
            self._pending = []
            t0 = time.perf_counter()
            try:
                await loop.run_in_executor(self._io, self.log.append, [b[2] for b in batch])
            except BaseException:
                log.critical("log append failed; exiting so no unlogged commit is acknowledged",
                             exc_info=True)
                os._exit(70)
            FSYNC_SECONDS.observe(time.perf_counter() - t0)
            FSYNC_BATCH.observe(len(batch))
            for index, ts, payload, _ in batch:
                self._cache[index] = (payload, ts)
            self.durable_index = batch[-1][0]
            self.last_durable_ts = batch[-1][1]
            self._undurable_head += len(batch)
            if self._undurable_head > 1024:
                del self._undurable[:self._undurable_head]
                self._undurable_head = 0
            drop = self.durable_index - CACHE_ENTRIES_MAX
            while self._cache and (first := next(iter(self._cache))) <= drop:
                del self._cache[first]
            LAST_INDEX.set(self.durable_index)
            # Commit-wait for the whole group at once: its last entry has the highest ts.
            self._waiter.resolve_after(batch[-1][1] + self.commit_wait_us, [b[3] for b in batch])
            self._notify()

    # -- subscribe ---------------------------------------------------------------------------

    async def _payloads(self, first: int, last: int) -> tuple[list[bytes], int]:
        """Durable entries first..(<= last), bounded per batch; returns (payloads, last ts)."""
        out = []
        size = 0
        i = first
        while i <= last and len(out) < BATCH_ENTRIES_MAX and size < BATCH_BYTES_MAX:
            hit = self._cache.get(i)
            if hit is None:
                break
            out.append(hit[0])
            size += len(hit[0])
            ts = hit[1]
            i += 1
        if out:
            return out, ts
        loop = asyncio.get_running_loop()
        out = await loop.run_in_executor(
            None, self.log.read_payloads, first, min(BATCH_ENTRIES_MAX, last - first + 1), BATCH_BYTES_MAX)
        ts = pb.LogEntry.FromString(out[-1]).commit_ts
        return out, ts

    async def Subscribe(self, req: pb.SubscribeRequest, context):
        if not self.is_leader:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                                f"not leader; leader={self.leader_target}",
                                trailing_metadata=((LEADER_METADATA, self.leader_target),))
        nxt = max(1, req.from_index)
        if nxt > self.durable_index + 1:
            await context.abort(grpc.StatusCode.OUT_OF_RANGE,
                                f"from_index {nxt} is past the end of the log ({self.durable_index})")
        SUBSCRIBERS.inc()
        peer = context.peer()
        log.info("subscriber %s from index %d", peer, nxt)
        try:
            while True:
                durable = self.durable_index
                if nxt <= durable:
                    payloads, last_ts = await self._payloads(nxt, durable)
                    nxt += len(payloads)
                    # Caught up: everything assigned is either sent or covered by closed_ts().
                    closed = self.closed_ts() if nxt > self.durable_index else last_ts
                    yield encode_batch(payloads, closed)
                    continue
                ev = self._wake
                await ev.wait()
                if nxt > self.durable_index:
                    hb = self._heartbeat
                    yield hb if hb is not None else encode_batch([], self.closed_ts())
        finally:
            SUBSCRIBERS.dec()
            log.info("subscriber %s gone at index %d", peer, nxt)

    # -- status ------------------------------------------------------------------------------

    async def Status(self, req, context) -> pb.StatusResponse:
        return pb.StatusResponse(
            az=self.az, role="leader" if self.is_leader else "follower",
            last_index=self.durable_index, last_commit_ts=self.last_durable_ts,
            leader=self.leader_target, replication="static")


async def serve(config: ClusterConfig, az: str, *, ready=None) -> None:
    ep = config.endpoint(az, "journal")
    if config.journal_replication == "raft":
        from services.journal.replicated import RaftJournalServer
        js = RaftJournalServer(config, az)
    else:
        js = JournalServer(config, az)
    server = grpc.aio.server(options=GRPC_OPTIONS)
    server.add_generic_rpc_handlers((js.handlers(),))
    bound = server.add_insecure_port(f"{ep.host}:{ep.grpc_port}")
    if not bound:
        raise RuntimeError(f"cannot bind {ep.host}:{ep.grpc_port}")
    if hasattr(js, "fill_log"):
        await js.fill_log()        # a restart after a snapshot whose entries never reached replica.log
    js.start_background()
    await server.start()
    log.info("journal %s serving on %s:%d", az, ep.host, ep.grpc_port)
    if ready is not None:
        ready.set()
    stop = asyncio.Event()
    _install_signal_handlers(stop)
    try:
        await stop.wait()
    finally:
        await server.stop(1.0)
        await js.stop()


def _install_signal_handlers(stop: asyncio.Event) -> None:
    import signal
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
