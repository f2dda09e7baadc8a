"""The journal replicated with Raft (`journal_replication = "raft"`): one replica per AZ.

    Commit ─▶ (leader, serving) Adjudicator.decide ──conflict──▶ CONFLICT
                   │ commit_ts
                   ▼
             batch of write sets ──one proposal per batch──▶ RaftDriver (persist + fsync,
                   │                                          AppendEntries to the peers)
                   ▼
             committed on a majority (each fsynced) ─▶ applied to the local journal log
                   ▼
             commit-wait until wall clock > commit_ts + max_clock_offset_us ─▶ COMMITTED

Every replica applies committed Raft entries, in order, to its own journal log
(`replica.log`: the same LogEntry records as the static journal, indexes assigned at apply
time so they are identical everywhere) and serves `Subscribe` from it, so storage may tail
any replica. The Raft log (`raft/`, FileStorage) is the durable truth; `replica.log` is a
derived index rebuilt from it at every start (written without fsync).

Leadership. A leader serves Commit only once `node.leader_ready` (its no-op committed) and it
has applied everything committed; it then rebuilds the adjudicator from its log, so it knows
every commit its predecessors may have acknowledged. Others answer NOT_LEADER with the
leader's address (empty while unknown or while the new leader is not yet serving).

Closed timestamps. Only the leader promises. A promise must survive leader changes, so the
leader may promise only up to a *bound* that is itself committed in the Raft log (renewed
every ~BOUND_RENEW_US, BOUND_WINDOW_US ahead of the wall clock); a new leader moves its clock
above the largest bound in its log before assigning any commit_ts, so no later commit lands
at or below a closed timestamp anyone published. The leader's closed timestamp is
  * (first commit_ts not yet applied) - 1, while some decided commit is in flight;
  * otherwise max(last commit_ts, min(now + lead, bound)).
It sends (closed_ts, its applied Raft index) to the followers every closed_ts interval
(a `ClosedTs` notice on the peer transport); a follower forwards it to its subscribers once it
has applied that index itself (every commit <= closed_ts is at or below it). The price of the
bound: the first commits of a new leader commit-wait up to BOUND_WINDOW_US.

Snapshots. Every `raft_snapshot_entries` applied Raft entries a replica fsyncs `replica.log`
and compacts its Raft log with a snapshot of (journal last index, last commit_ts, closed bound):
the journal entries themselves stay in `replica.log`, which is never cut at the head, so
storage may still tail any index. A restart with a snapshot keeps `replica.log` up to the
snapshot's journal index and re-derives the rest from the Raft log. A follower too far behind
gets InstallSnapshot; it then fetches the journal entries it lacks up to the snapshot's
journal index from a peer's `Subscribe` (the leader first), fsyncs them and continues.
`replica.log` keeps at least `journal_retain_entries`: once it holds twice that, a compaction
also cuts its head (never past the last durable snapshot's journal index). A subscriber asking
for an entry below the head gets OUT_OF_RANGE with trailing metadata `dsql-log-first`; storage
then copies a checkpoint from a peer storage replica (services/storage/server.py).

Peer transport: `Journal.Raft`, one client stream per peer carrying RaftEnvelopes (batches
of messages in the compact encoding of raft/wire.py) from a bounded queue that drops when
full (Raft retries). Fault model as in the static journal: an I/O error is fatal.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import random
import struct
import time

import grpc
from prometheus_client import Gauge

from services.common.config import ClusterConfig
from services.common.hlc import HLC, wall_us
from services.journal import server as static
from services.journal.adjudicator import Adjudicator
from services.journal.commit_wait import CommitWaiter
from services.journal.log import Log
from services.journal.raft import EntryKind, FileStorage, RaftConfig, RaftNode, Role
from services.journal.raft import wire
from services.journal.raft.driver import (NotLeaderError, OverloadedError, ProposalLost, ProposalUnknown,
                                          RaftDriver)
from services.pb.dsql.journal.v1 import journal_pb2 as pb

log = logging.getLogger("dsql.journal")

TICK_S = float(os.environ.get("DSQL_RAFT_TICK_S", "0.01"))
RAFT_CONFIG = RaftConfig(heartbeat_ticks=1, election_ticks_min=40, election_ticks_max=80)
BOUND_WINDOW_US = 300_000
BOUND_RENEW_US = 100_000          # renew once the bound is less than WINDOW - RENEW ahead
COMMIT_RESULT_WAIT_S = 10.0       # then answer "outcome unknown"
PEER_QUEUE_MAX = 4096             # messages per peer; beyond: dropped
ENVELOPE_MESSAGES_MAX = 256
PEER_BACKOFF_MIN_S = 0.02
PEER_BACKOFF_MAX_S = 0.5
CLOSED_NOTICES_MAX = 1024
FOLLOWER_TICK_S = 0.01

RAFT_TERM = Gauge("dsql_journal_raft_term", "Current Raft term")
RAFT_ROLE = Gauge("dsql_journal_raft_role", "Raft role: 0 follower, 1 pre-candidate, 2 candidate, 3 leader")
RAFT_COMMIT = Gauge("dsql_journal_raft_commit_index", "Raft commit index")
RAFT_APPLIED = Gauge("dsql_journal_raft_applied_index", "Raft index applied to the local journal log")
RAFT_LAST = Gauge("dsql_journal_raft_last_index", "Last Raft log index (durable)")
RAFT_LAG = Gauge("dsql_journal_raft_replication_lag_entries",
                 "Leader only: entries the follower's log lacks (last index - match index)", ["peer"])
RAFT_FSYNCS = Gauge("dsql_journal_raft_fsyncs", "Raft storage fsyncs since start")
RAFT_DROPPED = Gauge("dsql_journal_raft_dropped_messages", "Peer messages dropped (queue full or "
                     "peer unreachable) since start", ["peer"])
CLOSED_TS = Gauge("dsql_journal_closed_ts_lag_seconds", "Wall clock minus the published closed timestamp")

RAFT_SNAPSHOT = Gauge("dsql_journal_raft_snapshot_index", "Raft index of the last snapshot (the log "
                      "before it is compacted away)")
SNAPSHOT_META = struct.Struct("<QQQ")     # journal last index, last commit_ts, closed bound
FETCH_TIMEOUT_S = 30.0
LOG_FIRST_METADATA = "dsql-log-first"

_ROLE_NUM = {Role.FOLLOWER: 0, Role.PRE_CANDIDATE: 1, Role.CANDIDATE: 2, Role.LEADER: 3}
_BATCH_N = struct.Struct("<QI")


class _MeteredStorage:
    """FileStorage plus the group-commit metrics (write sets per fsync, fsync time)."""

    def __init__(self, inner: FileStorage):
        self.inner = inner
        self._write_sets = 0

    def persist(self, out) -> None:
        for e in out.entries:
            if e.kind == EntryKind.NORMAL and len(e.payload) >= _BATCH_N.size:
                self._write_sets += _BATCH_N.unpack_from(e.payload)[1]
        self.inner.persist(out)

    def sync(self) -> None:
        t0 = time.perf_counter()
        self.inner.sync()
        static.FSYNC_SECONDS.observe(time.perf_counter() - t0)
        if self._write_sets:
            static.FSYNC_BATCH.observe(self._write_sets)
            self._write_sets = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)


class _PeerSender:
    """One client stream to a peer journal, fed from a bounded queue."""

    def __init__(self, src: str, dst: str, target: str):
        self.src, self.dst, self.target = src, dst, target
        self.queue: asyncio.Queue = asyncio.Queue(PEER_QUEUE_MAX)
        self.dropped = 0
        RAFT_DROPPED.labels(dst).set_function(lambda: self.dropped)

    def send(self, data: bytes) -> None:
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            self.dropped += 1

    async def run(self) -> None:
        backoff = PEER_BACKOFF_MIN_S
        while True:
            channel = grpc.aio.insecure_channel(self.target, options=static.GRPC_OPTIONS)
            t0 = time.monotonic()
            try:
                call = channel.stream_unary(f"/{static.SERVICE}/Raft",
                                            request_serializer=pb.RaftEnvelope.SerializeToString,
                                            response_deserializer=pb.RaftAck.FromString)
                stream = call()
                q = self.queue
                while True:
                    items = [await q.get()]
                    while not q.empty() and len(items) < ENVELOPE_MESSAGES_MAX:
                        items.append(q.get_nowait())
                    await stream.write(pb.RaftEnvelope(messages=items))
            except asyncio.CancelledError:
                raise
            except (grpc.aio.AioRpcError, asyncio.InvalidStateError) as e:
                # The peer is down or restarted (the stream ended): reconnect with backoff.
                if time.monotonic() - t0 > 1.0:
                    backoff = PEER_BACKOFF_MIN_S
                log.debug("raft stream to %s ended: %s", self.dst, e)
            except Exception:
                log.exception("raft stream to %s failed", self.dst)
            finally:
                await channel.close()
            # Whatever queued up meanwhile is stale; Raft resends what matters.
            while not self.queue.empty():
                self.queue.get_nowait()
                self.dropped += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, PEER_BACKOFF_MAX_S)


class RaftJournalServer:
    def __init__(self, config: ClusterConfig, az: str, *, lead_us: int | None = None,
                 raft_config: RaftConfig = RAFT_CONFIG, tick_s: float = TICK_S):
        self.config = config
        self.az = az
        self.targets = {a: config.endpoint(a, "journal").grpc_target
                        for a in config.azs if "journal" in config.azs[a]}
        self.peers = sorted(a for a in self.targets if a != az)
        if lead_us is None:
            lead_us = int(os.environ.get("DSQL_CLOSED_TS_LEAD_US", config.closed_ts_interval_ms * 1000))
        self.lead_us = lead_us
        self.interval_s = max(config.closed_ts_interval_ms, 1) / 1000.0
        self.commit_wait_us = config.max_clock_offset_us
        self.history_us = config.limits.transaction_max_s * 1_000_000
        data_dir = config.az_dir(az, "journal")
        data_dir.mkdir(parents=True, exist_ok=True)
        static_log = data_dir / "journal.log"
        if static_log.exists() and static_log.stat().st_size > 0 and not (data_dir / "raft").exists():
            # Commits of a static-mode journal: starting an empty Raft group here would
            # silently hide them from storage (whose applied index is already past 0).
            raise SystemExit(f"{static_log} holds a static-mode journal; this cluster must keep "
                             "journal_replication = \"static\" (no migration to Raft yet)")
        self.raft_storage = FileStorage(data_dir / "raft")
        loaded = self.raft_storage.load()
        # The applied view is re-derived from the Raft log at every start, after the snapshot.
        replica = data_dir / "replica.log"
        if loaded.snapshot is None and replica.exists():
            replica.unlink()
        self.log = Log(replica)
        self.snapshot_entries = config.raft_snapshot_entries
        self.retain_entries = config.journal_retain_entries
        self._compact_at = 0
        node = RaftNode(az, self.peers, loaded.hard_state, loaded.raft_log(), raft_config, random.Random())
        self.driver = RaftDriver(node, _MeteredStorage(self.raft_storage), send=self._send_message,
                                 apply=self._apply, restore=self._restore, tick_seconds=tick_s)
        self.node = node
        self.hlc = HLC()
        self.adj: Adjudicator | None = None
        self.serving_term = 0          # > 0: leader of this term with the adjudicator rebuilt
        self.closed_bound = 0          # largest closed-ts bound applied from the log
        self.applied_raft = 0          # Raft index applied to self.log
        self.last_ts = 0               # commit_ts of the last applied journal entry
        self.published = 0             # highest closed ts handed to subscribers
        self.follower_closed = 0
        self._closed_notices: collections.deque = collections.deque()  # (raft index, closed ts)
        self._batch: list[tuple[int, bytes, asyncio.Future]] = []      # decided, not yet proposed
        self._inflight: collections.deque = collections.deque()        # [first ts, done] per proposal
        self._renewing = False
        self._cache: dict[int, tuple[bytes, int]] = {}
        self._senders = {p: _PeerSender(az, p, self.targets[p]) for p in self.peers}
        self._tasks: list[asyncio.Task] = []
        self._wake: asyncio.Event | None = None
        self._heartbeat: bytes | None = None
        self._waiter: CommitWaiter | None = None
        self._stopping = False
        self._log_needs = 0            # journal index replica.log must reach (fill_log)
        if loaded.snapshot is not None:
            self._install(loaded.snapshot)
        RAFT_TERM.set_function(lambda: self.node.term)
        RAFT_ROLE.set_function(lambda: _ROLE_NUM[self.node.role])
        RAFT_COMMIT.set_function(lambda: self.node.commit_index)
        RAFT_APPLIED.set_function(lambda: self.applied_raft)
        RAFT_LAST.set_function(lambda: self.node.log.last_index)
        RAFT_SNAPSHOT.set_function(lambda: self.node.log.snapshot_index)
        RAFT_FSYNCS.set_function(lambda: self.driver.fsyncs)
        CLOSED_TS.set_function(lambda: (wall_us() - self.published) / 1e6 if self.published else 0)
        static.IS_LEADER.set_function(lambda: 1 if self.serving else 0)
        static.LAST_INDEX.set_function(lambda: self.log.last_index)
        for p in self.peers:
            RAFT_LAG.labels(p).set_function(lambda p=p: self._lag(p))
        log.info("journal %s (raft): term %d, %d log entries, peers %s", az, node.term,
                 node.log.last_index, self.peers)

    # -- lifecycle ---------------------------------------------------------------------------

    def start_background(self) -> None:
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._waiter = CommitWaiter(loop)
        self._tasks.append(asyncio.create_task(self.driver.run()))
        self._tasks.append(asyncio.create_task(self._ticker()))
        for s in self._senders.values():
            self._tasks.append(asyncio.create_task(s.run()))

    async def stop(self) -> None:
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._waiter:
            self._waiter.stop()
        self.raft_storage.close()
        self.log.close()

    def handlers(self):
        return grpc.method_handlers_generic_handler(static.SERVICE, {
            "Commit": grpc.unary_unary_rpc_method_handler(
                self.Commit, request_deserializer=pb.CommitRequest.FromString,
                response_serializer=pb.CommitResponse.SerializeToString),
            "Subscribe": grpc.unary_stream_rpc_method_handler(
                self.Subscribe, request_deserializer=pb.SubscribeRequest.FromString,
                response_serializer=lambda b: b),
            "Status": grpc.unary_unary_rpc_method_handler(
                self.Status, request_deserializer=pb.StatusRequest.FromString,
                response_serializer=pb.StatusResponse.SerializeToString),
            "Raft": grpc.stream_unary_rpc_method_handler(
                self.Raft, request_deserializer=pb.RaftEnvelope.FromString,
                response_serializer=pb.RaftAck.SerializeToString),
        })

    # -- Raft plumbing -------------------------------------------------------------------------

    def _send_message(self, m) -> None:
        sender = self._senders.get(m.dst)
        if sender is not None:
            sender.send(wire.encode(m))

    async def Raft(self, request_iterator, context) -> pb.RaftAck:
        async for env in request_iterator:
            for data in env.messages:
                try:
                    m = wire.decode(data)
                except wire.WireError as e:
                    log.warning("bad raft message from %s: %s", context.peer(), e)
                    continue
                if m.dst != self.az or m.src not in self._senders:
                    continue
                if isinstance(m, wire.ClosedTs):
                    self._on_closed_notice(m)
                else:
                    self.driver.receive(m)
        return pb.RaftAck()

    async def _restore(self, snapshot) -> None:
        """InstallSnapshot from the leader (the driver waits for it): this replica was too far behind."""
        log.info("journal %s installs a snapshot at Raft index %d (applied %d)", self.az, snapshot.index,
                 self.applied_raft)
        self._install(snapshot)
        await self.fill_log()
        self._notify()

    def _install(self, snapshot) -> None:
        """Make the state machine the snapshot's. replica.log must then hold exactly its journal
        entries: a longer log is truncated; a shorter one is completed by fill_log()."""
        journal_index, last_ts, bound = SNAPSHOT_META.unpack(snapshot.data)
        self._cache.clear()
        if self.log.last_index > journal_index:
            self.log.truncate(journal_index)
        self._log_needs = journal_index
        self.applied_raft = snapshot.index
        self.last_ts = max(self.last_ts, last_ts)
        self.closed_bound = max(self.closed_bound, bound)

    async def fill_log(self) -> None:
        """Copy the journal entries the last snapshot stands for but replica.log lacks from a
        peer's replica log (the leader first), retrying until one has them."""
        upto = self._log_needs
        have = self.log.last_index
        while self.log.last_index < upto:
            for peer in sorted(self.peers, key=lambda p: p != self.node.leader_id):
                try:
                    await self._fetch_from(peer, upto)
                except grpc.aio.AioRpcError as e:
                    first = dict(e.trailing_metadata() or ()).get(LOG_FIRST_METADATA)
                    if e.code() == grpc.StatusCode.OUT_OF_RANGE and first and int(first) <= upto + 1:
                        # The peer cut its log past ours: continue at its first entry.
                        self.log.reset(int(first))
                        log.info("journal %s continues its log at %s, the first entry %s keeps", self.az,
                                 first, peer)
                        continue
                    log.warning("fetching journal entries from %s: %s", peer, e.code().name)
                if self.log.last_index >= upto:
                    break
            else:
                await asyncio.sleep(0.5)
        if self.log.last_index > have:
            self.log.sync()
            log.info("journal %s fetched entries %d..%d from its peers", self.az, have + 1, upto)

    async def _fetch_from(self, peer: str, upto: int) -> None:
        from services.pb.dsql.journal.v1 import journal_pb2_grpc as jgrpc
        async with grpc.aio.insecure_channel(self.targets[peer], options=static.GRPC_OPTIONS) as ch:
            call = jgrpc.JournalStub(ch).Subscribe(pb.SubscribeRequest(from_index=self.log.last_index + 1),
                                                   timeout=FETCH_TIMEOUT_S)
            async for batch in call:
                entries = [e.SerializeToString() for e in batch.entries[:upto - self.log.last_index]]
                self.log.append(entries, sync=False)
                if self.log.last_index >= upto:
                    call.cancel()
                    return

    def _maybe_compact(self, index: int) -> None:
        if index - max(self.node.log.snapshot_index, self._compact_at) < self.snapshot_entries:
            return
        self._compact_at = index
        self.log.sync()               # the snapshot stands for these entries: make them durable
        self.driver.compact(index, SNAPSHOT_META.pack(self.log.last_index, self.last_ts, self.closed_bound))
        # Cut the journal log's head, never past the last snapshot already durable (a restart
        # keeps replica.log up to that snapshot's journal index and re-derives the rest).
        log_len = self.log.last_index - self.log.first_index + 1
        durable = self.node.log.snapshot
        if log_len > 2 * self.retain_entries and durable is not None:
            first = min(self.log.last_index - self.retain_entries + 1, SNAPSHOT_META.unpack(durable.data)[0] + 1)
            if first > self.log.first_index:
                self.log.cut_head(first)
                self._cache = {k: v for k, v in self._cache.items() if k >= first}
                log.info("journal %s log now starts at entry %d", self.az, first)

    def _apply(self, entry) -> None:
        """A committed Raft entry, in order (on the driver's task, after its fsync)."""
        self.applied_raft = entry.index
        if entry.kind == EntryKind.NORMAL and entry.payload:
            bound, items = wire.decode_batch(entry.payload)
            if bound > self.closed_bound:
                self.closed_bound = bound
            if items:
                first = self.log.last_index + 1
                records = [b"\x08" + static._varint(first + i) + p for i, (_, p) in enumerate(items)]
                try:
                    self.log.append(records, sync=False)
                except BaseException:
                    log.critical("journal log append failed; exiting", exc_info=True)
                    os._exit(70)
                for i, (ts, _) in enumerate(items):
                    self._cache[first + i] = (records[i], ts)
                self.last_ts = items[-1][0]
                drop = self.log.last_index - static.CACHE_ENTRIES_MAX
                while self._cache and (k := next(iter(self._cache))) <= drop:
                    del self._cache[k]
        notices = self._closed_notices
        while notices and notices[0][0] <= self.applied_raft:
            _, closed = notices.popleft()
            if closed > self.follower_closed:
                self.follower_closed = closed
        if not self.serving:
            self._heartbeat = static.encode_batch([], self.closed_ts())
        self._maybe_compact(entry.index)
        self._notify()

    def _lag(self, peer: str) -> int:
        node = self.node
        if node.role is not Role.LEADER or peer not in node.progress:
            return 0
        return node.log.last_index - node.progress[peer].match

    # -- leadership ----------------------------------------------------------------------------

    @property
    def serving(self) -> bool:
        return self.serving_term > 0 and self.node.role is Role.LEADER and self.node.term == self.serving_term

    def _check_serving(self) -> bool:
        """Serving leader? Start serving once the new leader has applied everything committed."""
        node = self.node
        if self.serving:
            return True
        if self.serving_term:
            self._stop_serving()
        if node.leader_ready and self.applied_raft == node.commit_index:
            self._start_serving(node.term)
            return True
        return False

    def _start_serving(self, term: int) -> None:
        t0 = time.perf_counter()
        adj = Adjudicator(self.hlc, self.history_us)
        adj.rebuild(self.log.iter_backwards(), self.last_ts)
        # Every commit_ts from now on is above any closed timestamp ever published.
        self.hlc.update(max(self.closed_bound, self.published, self.last_ts))
        self.adj = adj
        self.serving_term = term
        log.info("journal %s leads term %d: %d journal entries, last commit_ts %d, bound %d (%.1f ms)",
                 self.az, term, self.log.last_index, self.last_ts, self.closed_bound,
                 (time.perf_counter() - t0) * 1000)
        self._renew_bound()

    def _stop_serving(self) -> None:
        log.info("journal %s no longer leads (term %d, now %d, leader %s)", self.az, self.serving_term,
                 self.node.term, self.node.leader_id)
        self.serving_term = 0
        self.adj = None
        batch, self._batch = self._batch, []
        for _, _, fut in batch:
            if not fut.done():
                fut.set_result("not_leader")

    def _leader_target(self) -> str:
        lid = self.node.leader_id
        if lid is None or lid == self.az:
            return ""
        return self.targets.get(lid, "")

    def _renew_bound(self) -> None:
        if self._renewing:
            return
        self._renewing = True
        asyncio.get_running_loop().create_task(self._propose_bound(wall_us() + BOUND_WINDOW_US))

    async def _propose_bound(self, bound: int) -> None:
        try:
            await self.driver.propose(wire.encode_batch(bound, []))
        except (NotLeaderError, OverloadedError, ProposalLost, ProposalUnknown):
            pass
        finally:
            self._renewing = False

    # -- closed timestamp ----------------------------------------------------------------------

    def _leader_closed(self) -> int:
        while self._inflight and self._inflight[0][1]:
            self._inflight.popleft()
        if self._inflight:
            c = self._inflight[0][0] - 1
        elif self._batch:
            c = self._batch[0][0] - 1
        else:
            c = max(min(wall_us() + self.lead_us, self.closed_bound), self.last_ts)
            self.hlc.update(c)
        return c

    def closed_ts(self) -> int:
        c = self._leader_closed() if self.serving else self.follower_closed
        if c > self.published:
            self.published = c
        return self.published

    def _on_closed_notice(self, m: wire.ClosedTs) -> None:
        if m.term < self.node.term:
            return
        if m.index <= self.applied_raft:
            if m.closed_ts > self.follower_closed:
                self.follower_closed = m.closed_ts
                if not self.serving:
                    self._heartbeat = static.encode_batch([], self.closed_ts())
                    self._notify()
            return
        n = self._closed_notices
        if n and n[-1][0] >= m.index:
            # keep the deque sorted by index; a newer notice for an index we also wait for wins
            if n[-1][0] == m.index and m.closed_ts > n[-1][1]:
                n[-1] = (m.index, m.closed_ts)
            return
        if len(n) >= CLOSED_NOTICES_MAX:
            n.popleft()
        n.append((m.index, m.closed_ts))

    def _notify(self) -> None:
        ev = self._wake
        if ev is not None:
            self._wake = asyncio.Event()
            ev.set()

    async def _ticker(self) -> None:
        serving = False
        while True:
            # A follower only watches for its own election here (its subscribers are woken
            # by the leader's notices), so it need not wake every closed-ts interval.
            await asyncio.sleep(self.interval_s if serving else max(self.interval_s, FOLLOWER_TICK_S))
            try:
                serving = self._check_serving()
                closed = self.closed_ts()
                if serving:
                    if self.closed_bound - wall_us() < BOUND_WINDOW_US - BOUND_RENEW_US:
                        self._renew_bound()
                    for p in self.peers:
                        self._send_message(wire.ClosedTs(self.az, p, self.node.term, closed, self.applied_raft))
                    self._heartbeat = static.encode_batch([], closed)
                    self._notify()
                # A follower's subscribers are woken by the leader's notices instead.
            except Exception:
                log.exception("closed-timestamp tick failed")

    # -- commit ------------------------------------------------------------------------------

    async def Commit(self, req: pb.CommitRequest, context) -> pb.CommitResponse:
        if not self._check_serving():
            return pb.CommitResponse(outcome=pb.CommitResponse.NOT_LEADER, leader=self._leader_target())
        t0 = time.perf_counter()
        if req.start_ts > wall_us() + self.commit_wait_us + static.START_TS_AHEAD_US_MAX:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"start_ts {req.start_ts} is ahead of the journal's clock")
        written = tuple(m.key for m in req.writes)
        ts, conflict_key = self.adj.decide(req.start_ts, written, tuple(req.check_keys))
        if conflict_key is not None:
            static.CONFLICTS.inc()
            return pb.CommitResponse(outcome=pb.CommitResponse.CONFLICT, conflict_key=conflict_key)
        if written:
            payload = pb.LogEntry(commit_ts=ts, writes=req.writes).SerializeToString()
            fut = asyncio.get_running_loop().create_future()
            self._batch.append((ts, payload, fut))
            if len(self._batch) == 1:
                asyncio.get_running_loop().call_soon(self._flush_batch)
            try:
                result = await asyncio.wait_for(asyncio.shield(fut), COMMIT_RESULT_WAIT_S)
            except asyncio.TimeoutError:
                result = "unknown"
            if result == "not_leader":
                return pb.CommitResponse(outcome=pb.CommitResponse.NOT_LEADER, leader=self._leader_target())
            if result == "overloaded":
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "journal overloaded, retry")
            if result != "committed":
                await context.abort(grpc.StatusCode.UNKNOWN, "the outcome of the commit is unknown "
                                    "(leadership changed while it replicated)")
        await self._waiter.wait_past(ts + self.commit_wait_us)
        while (wait_us := ts + self.commit_wait_us - wall_us()) >= 0:
            await asyncio.sleep((wait_us + 1) / 1e6)
        static.COMMITS.inc()
        static.COMMIT_SECONDS.observe(time.perf_counter() - t0)
        return pb.CommitResponse(outcome=pb.CommitResponse.COMMITTED, commit_ts=ts)

    def _flush_batch(self) -> None:
        batch, self._batch = self._batch, []
        if not batch:
            return
        if not self.serving:
            for _, _, fut in batch:
                if not fut.done():
                    fut.set_result("not_leader")
            return
        rec = [batch[0][0], False]
        self._inflight.append(rec)
        payload = wire.encode_batch(0, [(ts, p) for ts, p, _ in batch])
        asyncio.get_running_loop().create_task(self._propose(payload, batch, rec))

    async def _propose(self, payload: bytes, batch, rec) -> None:
        try:
            await self.driver.propose(payload)
            result = "committed"
        except (NotLeaderError, ProposalLost):
            result = "not_leader"           # certainly not committed
        except OverloadedError:
            result = "overloaded"
        except (ProposalUnknown, asyncio.CancelledError):
            result = "unknown"
        except Exception:
            log.exception("proposal failed")
            result = "unknown"
        # Only now may the closed timestamp pass this batch (applied, or never to commit).
        rec[1] = True
        for _, _, fut in batch:
            if not fut.done():
                fut.set_result(result)

    # -- subscribe ---------------------------------------------------------------------------

    async def _payloads(self, first: int, last: int) -> tuple[list[bytes], int]:
        out = []
        size = 0
        i = first
        ts = 0
        while i <= last and len(out) < static.BATCH_ENTRIES_MAX and size < static.BATCH_BYTES_MAX:
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
        out = await loop.run_in_executor(None, self.log.read_payloads, first,
                                         min(static.BATCH_ENTRIES_MAX, last - first + 1), static.BATCH_BYTES_MAX)
        if not out:                 # the head was cut meanwhile
            return [], 0
        return out, pb.LogEntry.FromString(out[-1]).commit_ts

    async def _below_head(self, nxt: int, context) -> None:
        first = self.log.first_index
        await context.abort(grpc.StatusCode.OUT_OF_RANGE,
                            f"from_index {nxt} is below the first entry this replica keeps ({first})",
                            trailing_metadata=((LOG_FIRST_METADATA, str(first)),))

    async def Subscribe(self, req: pb.SubscribeRequest, context):
        nxt = max(1, req.from_index)
        if nxt < self.log.first_index:
            await self._below_head(nxt, context)
        if nxt > self.log.last_index + 1:
            await context.abort(grpc.StatusCode.OUT_OF_RANGE,
                                f"from_index {nxt} is past the end of this replica's log "
                                f"({self.log.last_index})")
        static.SUBSCRIBERS.inc()
        peer = context.peer()
        log.info("subscriber %s from index %d", peer, nxt)
        try:
            while True:
                last = self.log.last_index
                if nxt < self.log.first_index:         # the head was cut under a slow subscriber
                    await self._below_head(nxt, context)
                if nxt <= last:
                    payloads, last_ts = await self._payloads(nxt, last)
                    if not payloads:
                        continue
                    nxt += len(payloads)
                    closed = max(self.closed_ts(), last_ts) if nxt > self.log.last_index else last_ts
                    yield static.encode_batch(payloads, closed)
                    continue
                ev = self._wake
                await ev.wait()
                if nxt > self.log.last_index:
                    hb = self._heartbeat
                    yield hb if hb is not None else static.encode_batch([], self.closed_ts())
        finally:
            static.SUBSCRIBERS.dec()
            log.info("subscriber %s gone at index %d", peer, nxt)

    # -- status ------------------------------------------------------------------------------

    async def Status(self, req, context) -> pb.StatusResponse:
        node = self.node
        role = {Role.LEADER: "leader", Role.FOLLOWER: "follower"}.get(node.role, "candidate")
        leader = self.targets[self.az] if node.role is Role.LEADER else self._leader_target()
        return pb.StatusResponse(
            az=self.az, role=role, last_index=self.log.last_index, last_commit_ts=self.last_ts,
            leader=leader, replication="raft", term=node.term, commit_index=node.commit_index,
            applied_index=self.applied_raft, closed_ts=self.published)
