"""Cluster-wide connection quotas (services/relay/quota.py) over the in-process etcd stand-in
(the catalog's MemoryStore, with etcd's compare-on-mod-revision transactions)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

from services.common.config import Limits
from services.compute.catalog import MemoryStore
from services.relay import quota
from services.relay.quota import MAX_CONNECTIONS, RATE, Quotas


def relays(store, n=2, clock=time.time, **limits):
    lim = Limits(**{"connection_rate_per_s": 1000.0, "connection_burst": 1000, **limits})
    return [Quotas(lim, "c1", f"r{i}", lambda: store, clock=clock) for i in range(n)]


async def admit_all(q, n):
    return [await q.admit() for _ in range(n)]


def test_max_connections_across_relays():
    async def run():
        store = MemoryStore()
        a, b = relays(store, max_connections=3)
        assert await admit_all(a, 2) == [None, None]
        assert await b.admit() is None
        assert await b.admit() == MAX_CONNECTIONS and await a.admit() == MAX_CONNECTIONS
        a.release()
        await asyncio.sleep(0.05)                    # the release is published in the background
        assert await b.admit() is None
        assert await a.admit() == MAX_CONNECTIONS
        assert (a.open, b.open) == (1, 2)
    asyncio.run(run())


def test_rate_bucket_is_shared_and_refills():
    async def run():
        store = MemoryStore()
        now = [1_000_000.0]
        a, b = relays(store, clock=lambda: now[0], connection_burst=4, connection_rate_per_s=20.0)
        assert await admit_all(a, 2) + await admit_all(b, 2) == [None] * 4
        assert await a.admit() == RATE and await b.admit() == RATE
        now[0] += 0.11                               # 20/s: two tokens (and a bit) come back
        assert [await a.admit(), await b.admit()] == [None, None]
        assert await a.admit() == RATE
    asyncio.run(run())


def test_clusters_do_not_share_quotas():
    async def run():
        store = MemoryStore()
        lim = Limits(max_connections=1)
        a, b = Quotas(lim, "c1", "r", lambda: store), Quotas(lim, "c2", "r", lambda: store)
        assert [await a.admit(), await b.admit(), await a.admit()] == [None, None, MAX_CONNECTIONS]
    asyncio.run(run())


def test_stale_relay_entries_are_ignored_and_deleted():
    async def run():
        store = MemoryStore()
        dead = quota.PREFIX + "c1/open/dead"
        store.txn({}, {dead: json.dumps({"open": 5, "t": time.time() - quota.STALE_S - 1}).encode()})
        live = quota.PREFIX + "c1/open/live"
        store.txn({}, {live: json.dumps({"open": 1, "t": time.time()}).encode()})
        (a,) = relays(store, n=1, max_connections=3)
        assert await admit_all(a, 3) == [None, None, MAX_CONNECTIONS]
        assert store.get(dead) is None and store.get(live) is not None
    asyncio.run(run())


class BrokenStore:
    def get_prefix(self, prefix):
        raise ConnectionError("etcd is down")

    def txn(self, *a, **kw):
        raise ConnectionError("etcd is down")


def test_etcd_failure_falls_back_to_local_limits():
    async def run():
        (a,) = relays(BrokenStore(), n=1, max_connections=2)
        assert await admit_all(a, 3) == [None, None, MAX_CONNECTIONS]
        a.release()
        assert await a.admit() is None
        lim = Limits(connection_burst=2, connection_rate_per_s=0.001)
        q = Quotas(lim, "c1", "x", None)                   # no etcd configured at all
        assert await admit_all(q, 3) == [None, None, RATE]
    asyncio.run(run())


def test_concurrent_relays_never_exceed_the_limit():
    """Four relays, each in its own thread and event loop, race 30 admissions each for 25 slots."""
    store = MemoryStore()
    qs = relays(store, n=4, max_connections=25)
    results: list = []

    def run(q):
        results.extend(asyncio.run(admit_all(q, 30)))
    threads = [threading.Thread(target=run, args=(q,)) for q in qs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results.count(None) == 25 and results.count(MAX_CONNECTIONS) == 95
    assert sum(q.open for q in qs) == 25
    counts = [json.loads(v)["open"] for k, v, _ in store.get_prefix(quota.PREFIX + "c1/open/")]
    assert sum(counts) == 25
