"""Cluster-wide connection quotas, shared by every relay of a cluster through etcd.

Keys under /dsql/relay/quota/<cluster id>/:
    bucket          {"tokens": float, "t": epoch s}   the connection-rate token bucket
    open/<relay>    {"open": n, "t": epoch s}         one relay's open connections (refreshed every HEARTBEAT_S)

An admission reads the prefix, refills the bucket, adds up the open connections of every live relay
(an entry not refreshed for STALE_S belongs to a dead relay and is deleted) and then, in one etcd
transaction that compares every key it read, takes a token and raises this relay's count. A concurrent
admission at another relay changes one of those keys, so the transaction fails and is retried: both
limits hold exactly across relays. When etcd cannot be reached the relay enforces the same limits on
its own connections (it keeps serving rather than refusing everyone) until etcd answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from typing import Callable

from prometheus_client import Counter, Gauge, Histogram

from services.common.config import Limits

log = logging.getLogger("relay.quota")

PREFIX = "/dsql/relay/quota/"
HEARTBEAT_S = 5.0
STALE_S = 20.0
RETRY_ETCD_S = 5.0          # after an etcd failure, use local limits this long before trying again
TXN_ATTEMPTS = 50

CLUSTER_OPEN = Gauge("dsql_relay_cluster_connections_open",
                     "Open connections of the whole cluster, as this relay last saw them in etcd")
QUOTA_MODE = Gauge("dsql_relay_quota_cluster_wide", "1 while quotas are enforced cluster-wide through etcd, "
                                                    "0 while this relay falls back to its own connections")
ADMISSION_SECONDS = Histogram("dsql_relay_admission_seconds", "Time to take a connection slot and token",
                              buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5))
ETCD_ERRORS = Counter("dsql_relay_quota_etcd_errors_total", "etcd failures of the quota accounting")

RATE = "rate"
MAX_CONNECTIONS = "max_connections"


class TokenBucket:
    def __init__(self, rate: float, burst: int):
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.t = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Contention(Exception):
    """Every transaction attempt lost to a concurrent admission."""


class Quotas:
    """This relay's side of the cluster quotas. `store_factory` returns a catalog-style KV store
    (services/compute/catalog.py: get_prefix, txn with mod-revision compares) or None for local only."""

    def __init__(self, limits: Limits, cluster_id: str, relay_id: str,
                 store_factory: Callable[[], object] | None, clock: Callable[[], float] = time.time):
        self.limits = limits
        self.prefix = f"{PREFIX}{cluster_id}/"
        self.bucket_key = self.prefix + "bucket"
        self.clock = clock              # wall clock: the bucket is shared by relays on other machines
        self.key = f"{self.prefix}open/{relay_id}"
        self._factory = store_factory
        self._store = None
        self._etcd_after = 0.0          # monotonic time from which etcd may be tried (again)
        self._lock = asyncio.Lock()     # this relay's key is written under it only
        self._local_bucket = TokenBucket(limits.connection_rate_per_s, limits.connection_burst)
        self._heartbeat: asyncio.Task | None = None
        self._publishing: set[asyncio.Task] = set()     # strong references until done
        self.open = 0                   # connections this relay admitted and has not released

    async def start(self) -> None:
        if self._factory is not None:
            self._heartbeat = asyncio.create_task(self._beat())

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        if self._store is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._store.txn, {}, {}, [self.key])
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._store.close)

    async def admit(self) -> str | None:
        """Reserve one connection: None when admitted (release() it later), else the refusal reason."""
        with ADMISSION_SECONDS.time():
            return await self._admit()

    async def _admit(self) -> str | None:
        async with self._lock:
            store = await self._usable_store()
            if store is not None:
                try:
                    reason = await asyncio.to_thread(self._admit_in_etcd, store, self.clock())
                except Contention:
                    return RATE             # so many concurrent attempts that none got through in time
                except Exception as e:      # noqa: BLE001 - etcd unavailable: fall back below
                    self._failed(e)
                else:
                    if reason is None:
                        self.open += 1
                    return reason
            if not self._local_bucket.take():
                return RATE
            if self.open >= self.limits.max_connections:
                self._local_bucket.tokens += 1      # as in etcd: a refused connection costs no token
                return MAX_CONNECTIONS
            self.open += 1
            return None

    def release(self) -> None:
        self.open -= 1
        if self._store is not None:
            task = asyncio.get_running_loop().create_task(self._publish())
            self._publishing.add(task)
            task.add_done_callback(self._publishing.discard)

    # ------------------------------------------------------------------ etcd side

    def _admit_in_etcd(self, store, now: float) -> str | None:
        lim = self.limits
        for attempt in range(TXN_ATTEMPTS):
            compares: dict[str, int] = {self.bucket_key: 0, self.key: 0}
            stale, others, bucket = [], 0, None
            for key, value, rev in store.get_prefix(self.prefix):
                compares[key] = rev
                try:
                    doc = json.loads(value)
                except ValueError:
                    continue
                if key == self.bucket_key:
                    bucket = doc
                elif key != self.key:
                    if now - doc.get("t", 0) > STALE_S:
                        stale.append(key)
                    else:
                        others += int(doc.get("open", 0))
            CLUSTER_OPEN.set(others + self.open)
            if bucket is None:
                tokens, t = float(lim.connection_burst), now
            else:   # another relay's clock may be slightly ahead: time never runs backwards here
                t = max(now, bucket["t"])
                tokens = min(lim.connection_burst, bucket["tokens"] + max(0.0, now - bucket["t"]) * lim.connection_rate_per_s)
            if tokens < 1:
                return RATE
            if others + self.open >= lim.max_connections:
                return MAX_CONNECTIONS
            puts = {self.bucket_key: json.dumps({"tokens": tokens - 1, "t": t}).encode(),
                    self.key: json.dumps({"open": self.open + 1, "t": now}).encode()}
            if store.txn(compares, puts, stale):
                CLUSTER_OPEN.set(others + self.open + 1)
                return None
            time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))
            now = self.clock()
        raise Contention()

    async def _usable_store(self):
        if self._factory is None or time.monotonic() < self._etcd_after:
            return None
        if self._store is None:
            try:
                self._store = await asyncio.to_thread(self._factory)
            except Exception as e:  # noqa: BLE001
                self._failed(e)
                return None
        QUOTA_MODE.set(1)
        return self._store

    def _failed(self, e: Exception) -> None:
        ETCD_ERRORS.inc()
        QUOTA_MODE.set(0)
        self._etcd_after = time.monotonic() + RETRY_ETCD_S
        log.warning("cluster quota accounting unavailable (%s); enforcing limits on this relay's connections "
                    "for %.0f s", e, RETRY_ETCD_S)

    async def _publish(self) -> None:
        async with self._lock:
            store = await self._usable_store()
            if store is None:
                return
            doc = json.dumps({"open": self.open, "t": self.clock()}).encode()
            try:
                await asyncio.to_thread(store.txn, {}, {self.key: doc})
            except Exception as e:  # noqa: BLE001
                self._failed(e)

    async def _beat(self) -> None:
        while True:
            await self._publish()
            await asyncio.sleep(HEARTBEAT_S)
