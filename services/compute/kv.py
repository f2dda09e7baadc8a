"""The compute's transaction client (sync, thread-safe), used by the SQL engine.

    kv = KV(config, az)
    txn = kv.begin()                       # start_ts from the compute's hybrid-logical clock
    txn.get([k1, k2])                      # -> [v1 | None, v2 | None]; one storage Get
    for k, v in txn.scan(start, end): ...  # storage Scan pages merged with buffered writes
    txn.put(k, v); txn.delete(k); txn.add_check_key(k)
    txn.commit()                           # -> commit_ts, or None when nothing was written
    txn.rollback()
    kv.close()

Reads run at start_ts against this AZ's storage; when it is unavailable the
next AZ's storage is tried (every AZ holds a full replica and serves a read at
start_ts only once it has applied every commit at or below it, so any replica
gives the same answer). A replica that failed is tried last for the next
STORAGE_AVOID_S, so a dead or lagging own-AZ storage costs one failed call, not
one per read. Writes are buffered here and sent at commit as one
write set to the journal leader, which answers NOT_LEADER + address when asked
elsewhere. With the static journal, commits use wait_for_ready, so a journal
that is restarting is waited for (up to COMMIT_TIMEOUT_S) instead of failing.
With Raft (journal_replication = "raft") any journal may lead: an unreachable
journal or an unknown leader (election) makes the commit try the next journal
until COMMIT_TIMEOUT_S. A commit whose outcome is unknown (the call failed
after it may have been sent) raises 08007, and the next commit starts at the next
journal: the one that failed is likely dead, partitioned or deposed.

One KV per process; a Transaction belongs to one thread at a time.
"""

from __future__ import annotations

import bisect
import threading
import time
from typing import Iterator

import grpc

from services.common.config import ClusterConfig
from services.common.errors import PgError, mutation_conflict, schema_conflict
from services.common.hlc import HLC
from services.pb.dsql.journal.v1 import journal_pb2 as jpb
from services.pb.dsql.journal.v1 import journal_pb2_grpc as jgrpc
from services.pb.dsql.storage.v1 import storage_pb2 as spb
from services.pb.dsql.storage.v1 import storage_pb2_grpc as sgrpc

READ_TIMEOUT_S = 10.0           # per storage call (storage itself waits at most ~5 s for closed ts)
READ_RETRY_S = 5.0              # how long to keep trying replicas when all are unavailable
COMMIT_TIMEOUT_S = 15.0
COMMIT_RETRY_PAUSE_S = 0.05     # between journals while no leader is known (Raft mode)
REDIRECTS_MAX = 5
STORAGE_AVOID_S = 2.0           # a storage replica that failed is tried last for this long
SCAN_PAGE_ROWS = 1000
GRPC_MESSAGE_BYTES_MAX = 64 * 1024 * 1024
GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", GRPC_MESSAGE_BYTES_MAX),
    ("grpc.max_send_message_length", GRPC_MESSAGE_BYTES_MAX),
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 1000),
]
_RETRYABLE_READ = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)

# Schema version keys: a DDL commits a write of its schema's key through the journal; a writing
# transaction puts the keys of the schemas it wrote into its check set, so the adjudicator
# refuses DML that raced a DDL on the same schema (40001 OC001), atomically with the commit.
# Object id 0xFFFFFFFF is never allocated to a table or index.
SCHEMA_KEY_PREFIX = b"\xff\xff\xff\xffschema\x00"


def schema_key(schema: str) -> bytes:
    return SCHEMA_KEY_PREFIX + schema.encode("utf-8")


def conflict_error(conflict_key: bytes) -> PgError:
    """The client's error for a key the adjudicator found committed after start_ts."""
    if conflict_key.startswith(SCHEMA_KEY_PREFIX):
        return schema_conflict()
    return mutation_conflict()


def storage_unavailable(detail: str) -> PgError:
    return PgError("storage is unavailable, retry as needed", sqlstate="08006", detail=detail)


def commit_unknown(detail: str) -> PgError:
    return PgError("the outcome of the commit is unknown", sqlstate="08007", detail=detail)


class KV:
    def __init__(self, config: ClusterConfig, az: str):
        self.config = config
        self.az = az
        self.hlc = HLC()
        self._lock = threading.Lock()
        self._channels: dict[str, grpc.Channel] = {}
        self._storage_stubs: dict[str, sgrpc.StorageStub] = {}
        self._journal_stubs: dict[str, jgrpc.JournalStub] = {}
        others = sorted(a for a in config.azs if a != az)
        self._storage_targets = [config.endpoint(a, "storage").grpc_target
                                 for a in [az] + others if "storage" in config.azs[a]]
        self._journal_targets = [config.endpoint(a, "journal").grpc_target
                                 for a in sorted(config.azs) if "journal" in config.azs[a]]
        self._leader = self._journal_targets[0]   # static leader: the first AZ's journal; under
                                                  # Raft a first guess, corrected by redirects
        self._storage_failed: dict[str, float] = {}   # target -> monotonic time of its last failure
        self._closed = False

    # -- public -----------------------------------------------------------------------------------

    def begin(self) -> Transaction:
        return Transaction(self, self.hlc.now())

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for ch in self._channels.values():
                ch.close()
            self._channels.clear()
            self._storage_stubs.clear()
            self._journal_stubs.clear()

    # -- plumbing ---------------------------------------------------------------------------------

    def _channel(self, target: str) -> grpc.Channel:
        ch = self._channels.get(target)
        if ch is None:
            if self._closed:
                raise RuntimeError("KV is closed")
            ch = self._channels[target] = grpc.insecure_channel(target, options=GRPC_OPTIONS)
        return ch

    def _storage(self, target: str) -> sgrpc.StorageStub:
        stub = self._storage_stubs.get(target)
        if stub is None:
            with self._lock:
                stub = self._storage_stubs.get(target)
                if stub is None:
                    stub = self._storage_stubs[target] = sgrpc.StorageStub(self._channel(target))
        return stub

    def _journal(self, target: str) -> jgrpc.JournalStub:
        stub = self._journal_stubs.get(target)
        if stub is None:
            with self._lock:
                stub = self._journal_stubs.get(target)
                if stub is None:
                    stub = self._journal_stubs[target] = jgrpc.JournalStub(self._channel(target))
        return stub

    def _read(self, method: str, request):
        """Call Get or Scan on this AZ's storage, failing over to the other replicas."""
        deadline = time.monotonic() + READ_RETRY_S
        errors = []
        while True:
            targets = self._storage_order()
            for target in targets:
                try:
                    resp = getattr(self._storage(target), method)(request, timeout=READ_TIMEOUT_S)
                except grpc.RpcError as e:
                    if e.code() == grpc.StatusCode.FAILED_PRECONDITION:
                        raise PgError(e.details() or "snapshot too old", sqlstate="72000") from None
                    if e.code() not in _RETRYABLE_READ:
                        raise PgError(f"storage error: {e.details()}", sqlstate="XX000") from None
                    errors.append(f"{target}: {e.code().name} {e.details()}")
                    self._storage_failed[target] = time.monotonic()
                    continue
                self._storage_failed.pop(target, None)
                return resp
            if time.monotonic() >= deadline:
                raise storage_unavailable("; ".join(errors[-len(targets):]))
            time.sleep(0.05)

    def _storage_order(self) -> list[str]:
        """Own AZ first (the cheapest hop), but replicas that failed lately go last."""
        failed = self._storage_failed
        if not failed:
            return self._storage_targets
        now = time.monotonic()
        return sorted(self._storage_targets, key=lambda t: now - failed.get(t, -1e9) < STORAGE_AVOID_S)

    def _commit(self, request: jpb.CommitRequest) -> jpb.CommitResponse:
        if self.config.journal_replication != "raft":
            return self._commit_static(request)
        # Raft: any journal may lead. Follow NOT_LEADER redirects; when the leader is unknown
        # (an election) or unreachable, try the other journals, for at most COMMIT_TIMEOUT_S.
        # A call that failed after it may have been delivered has an unknown outcome (08007).
        deadline = time.monotonic() + COMMIT_TIMEOUT_S
        targets = self._journal_targets
        target = self._leader
        pos = targets.index(target) if target in targets else 0
        errors = []
        redirects = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise commit_unknown("no journal leader found: " + "; ".join(errors[-len(targets):]))
            try:
                resp = self._journal(target).Commit(request, timeout=remaining)
            except grpc.RpcError as e:
                code = e.code()
                if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
                    raise PgError(f"commit refused: {e.details()}", sqlstate="XX000") from None
                if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    raise PgError("the journal is overloaded, retry", sqlstate="53000") from None
                if not _never_sent(e):
                    # Next time start at another journal: this one may be dead, cut off or deposed.
                    self._leader = targets[(targets.index(target) + 1) % len(targets) if target in targets else 0]
                    raise commit_unknown(f"journal {target}: {code.name} {e.details()}") from None
                errors.append(f"{target}: {code.name}")
                pos = (targets.index(target) + 1) % len(targets) if target in targets else pos
                target = targets[pos]
                time.sleep(COMMIT_RETRY_PAUSE_S)
                continue
            if resp.outcome == jpb.CommitResponse.NOT_LEADER:
                redirects += 1
                if resp.leader and resp.leader != target:
                    target = resp.leader
                    if redirects > REDIRECTS_MAX:       # stale hints bouncing: slow down
                        time.sleep(COMMIT_RETRY_PAUSE_S)
                else:                   # election in progress or leader not yet serving
                    errors.append(f"{target}: no leader known")
                    pos = (pos + 1) % len(targets)
                    target = targets[pos]
                    time.sleep(COMMIT_RETRY_PAUSE_S)
                continue
            self._leader = target
            return resp

    def _commit_static(self, request: jpb.CommitRequest) -> jpb.CommitResponse:
        target = self._leader
        for _ in range(REDIRECTS_MAX):
            try:
                resp = self._journal(target).Commit(request, timeout=COMMIT_TIMEOUT_S, wait_for_ready=True)
            except grpc.RpcError as e:
                if e.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
                    raise PgError(f"commit refused: {e.details()}", sqlstate="XX000") from None
                raise commit_unknown(f"journal {target}: {e.code().name} {e.details()}") from None
            if resp.outcome == jpb.CommitResponse.NOT_LEADER:
                if resp.leader:
                    target = resp.leader
                    self._leader = target
                continue
            return resp
        raise commit_unknown("no journal leader found")


def _never_sent(e: grpc.RpcError) -> bool:
    """The call failed before any byte reached a server (no connection could be made), so
    the commit certainly did not happen and may be sent elsewhere."""
    if e.code() != grpc.StatusCode.UNAVAILABLE:
        return False
    details = (e.details() or "").lower()
    return "failed to connect" in details or "connection refused" in details


_DELETED = None


class Transaction:
    """Buffered writes over snapshot reads at start_ts (snapshot isolation)."""

    def __init__(self, kv: KV, start_ts: int):
        self.kv = kv
        self.start_ts = start_ts
        self._writes: dict[bytes, bytes | None] = {}
        self._sorted: list[bytes] | None = []
        self._check: set[bytes] = set()
        self.write_count = 0
        self.write_bytes = 0
        self.commit_ts: int | None = None
        self._finished = False

    # -- reads ----------------------------------------------------------------------------------

    def get(self, keys: list[bytes]) -> list[bytes | None]:
        self._check_open()
        out: list[bytes | None] = [None] * len(keys)
        missing_idx = []
        writes = self._writes
        for i, k in enumerate(keys):
            if k in writes:
                out[i] = writes[k]
            else:
                missing_idx.append(i)
        if missing_idx:
            resp = self.kv._read("Get", spb.GetRequest(read_ts=self.start_ts,
                                                       keys=[keys[i] for i in missing_idx]))
            for i, ov in zip(missing_idx, resp.values):
                if ov.found:
                    out[i] = ov.value
        return out

    def scan(self, start: bytes, end: bytes, reverse: bool = False,
             limit: int | None = None, pushdown=None) -> Iterator[tuple[bytes, bytes]]:
        """Rows of [start, end) (end b"" = unbounded) at start_ts with this transaction's own
        writes overlaid. Buffered writes are captured when scan() is called, so writing while
        iterating does not disturb the iteration.

        pushdown: (predicates, columns | None) for storage (services/common/pushdown.py): stored
        rows are filtered and projected there; buffered writes are always returned whole and
        unfiltered (a buffered delete still hides the stored row), so the caller re-checks."""
        self._check_open()
        keys = self._sorted_keys()
        lo = bisect.bisect_left(keys, start)
        hi = bisect.bisect_left(keys, end) if end else len(keys)
        buffered = [(k, self._writes[k]) for k in keys[lo:hi]]
        if reverse:
            buffered.reverse()
        deletes = sum(1 for _, v in buffered if v is None)
        return self._scan(start, end, reverse, limit, buffered, deletes, pushdown)

    def _scan(self, start, end, reverse, limit, buffered, deletes, pushdown=None):
        if limit is not None and limit <= 0:
            return
        page = 0 if limit is None else min(SCAN_PAGE_ROWS, limit + deletes)
        emitted = 0
        b = 0
        nb = len(buffered)
        for k, v in self._storage_rows(start, end, reverse, page, pushdown):
            # Emit buffered rows that come before k.
            while b < nb and (buffered[b][0] > k if reverse else buffered[b][0] < k):
                bk, bv = buffered[b]
                b += 1
                if bv is not None:
                    yield bk, bv
                    emitted += 1
                    if limit is not None and emitted >= limit:
                        return
            if b < nb and buffered[b][0] == k:
                bv = buffered[b][1]
                b += 1
                if bv is None:
                    continue
                v = bv
            yield k, v
            emitted += 1
            if limit is not None and emitted >= limit:
                return
        while b < nb:
            bk, bv = buffered[b]
            b += 1
            if bv is not None:
                yield bk, bv
                emitted += 1
                if limit is not None and emitted >= limit:
                    return

    def _storage_rows(self, start, end, reverse, page, pushdown=None):
        extra = {}
        if pushdown is not None and (pushdown[0] or pushdown[1] is not None):
            preds, columns = pushdown
            extra["predicates"] = [spb.ColumnPredicate(column_id=c, op=op, kind=kind, value=val)
                                   for c, op, kind, val in preds]
            if columns is not None:
                extra["project"] = True
                extra["columns"] = list(columns)
        while True:
            resp = self.kv._read("Scan", spb.ScanRequest(read_ts=self.start_ts, start=start, end=end,
                                                         limit=page, reverse=reverse, **extra))
            for row in resp.rows:
                yield row.key, row.value
            if extra:                   # filtered: resume after the last key storage examined
                if not resp.more:
                    return
                last = resp.resume_key if resp.resume_key else resp.rows[-1].key
            else:
                if not resp.more or not resp.rows:
                    return
                last = resp.rows[-1].key
            if reverse:
                end = last
            else:
                start = last + b"\x00"

    # -- writes ---------------------------------------------------------------------------------

    def put(self, key: bytes, value: bytes) -> None:
        self._check_open()
        self._buffer(key, bytes(value))

    def delete(self, key: bytes) -> None:
        self._check_open()
        self._buffer(key, _DELETED)

    def _buffer(self, key: bytes, value: bytes | None) -> None:
        writes = self._writes
        if key in writes:
            self.write_bytes -= len(writes[key] or b"")
        else:
            self.write_count += 1
            self.write_bytes += len(key)
            if self._sorted is not None:
                if not self._sorted or key > self._sorted[-1]:
                    self._sorted.append(key)
                else:
                    self._sorted = None       # re-sort lazily on the next scan
        self.write_bytes += len(value or b"")
        writes[key] = value

    def add_check_key(self, key: bytes) -> None:
        self._check_open()
        self._check.add(bytes(key))

    def _sorted_keys(self) -> list[bytes]:
        if self._sorted is None:
            self._sorted = sorted(self._writes)
        return self._sorted

    # -- end ------------------------------------------------------------------------------------

    def commit(self) -> int | None:
        self._check_open()
        self._finished = True
        if not self._writes:
            return None
        req = jpb.CommitRequest(
            start_ts=self.start_ts,
            writes=[jpb.Mutation(key=k, delete=True) if v is None else jpb.Mutation(key=k, value=v)
                    for k, v in self._writes.items()],
            check_keys=[k for k in self._check if k not in self._writes])
        resp = self.kv._commit(req)
        if resp.outcome == jpb.CommitResponse.CONFLICT:
            raise conflict_error(resp.conflict_key)
        self.kv.hlc.update(resp.commit_ts)
        self.commit_ts = resp.commit_ts
        return resp.commit_ts

    def rollback(self) -> None:
        self._finished = True
        self._writes.clear()
        self._sorted = []

    def _check_open(self) -> None:
        if self._finished:
            raise RuntimeError("transaction already finished")
