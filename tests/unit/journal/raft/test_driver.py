"""The asyncio driver: three nodes in one event loop, wired by an in-process transport."""

from __future__ import annotations

import asyncio
import random

import pytest

from services.journal.raft import HardState, MemoryStorage, RaftConfig, RaftLog, RaftNode, Role
from services.journal.raft.driver import NotLeaderError, RaftDriver

CONFIG = RaftConfig(heartbeat_ticks=1, election_ticks_min=5, election_ticks_max=10)


class Group:
    def __init__(self, ids=("az1", "az2", "az3"), seed=1):
        self.ids = list(ids)
        self.applied: dict[str, list[bytes]] = {i: [] for i in self.ids}
        self.drivers: dict[str, RaftDriver] = {}
        self.down: set[str] = set()
        rng = random.Random(seed)
        for i in self.ids:
            node = RaftNode(i, [p for p in self.ids if p != i], HardState(), RaftLog(), CONFIG,
                            random.Random(rng.getrandbits(32)))
            self.drivers[i] = RaftDriver(node, MemoryStorage(), send=self.send,
                                         apply=lambda e, i=i: self.applied[i].append(e.payload),
                                         tick_seconds=0.002)
        self.tasks = {i: asyncio.create_task(d.run()) for i, d in self.drivers.items()}

    def send(self, m):
        if m.dst not in self.down and m.src not in self.down:
            self.drivers[m.dst].receive(m)

    async def leader(self, timeout_seconds=5.0, excluding=()):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        while loop.time() < deadline:
            for i, d in self.drivers.items():
                if i not in excluding and i not in self.down and d.node.role is Role.LEADER:
                    return i
            await asyncio.sleep(0.005)
        raise AssertionError("no leader")

    async def stop(self):
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


def test_proposals_commit_in_batches_and_followers_redirect():
    """Concurrent proposals all commit, in one order on every node, with far fewer fsyncs
    than proposals (group commit); a follower answers NotLeaderError naming the leader and
    compacts its log when asked."""

    async def scenario():
        g = Group()
        try:
            for _ in range(2000):   # until a follower has heard from the leader
                leader = await g.leader()
                follower = next(i for i in g.ids if i != leader)
                if g.drivers[follower].node.leader_id == leader:
                    break
                await asyncio.sleep(0.002)
            with pytest.raises(NotLeaderError) as redirect:
                await g.drivers[follower].propose(b"x")
            assert redirect.value.leader_id == leader
            fsyncs = g.drivers[leader].fsyncs
            entries = await asyncio.gather(*[g.drivers[leader].propose(b"p%d" % k) for k in range(200)])
            assert [e.payload for e in entries] == [b"p%d" % k for k in range(200)]
            assert g.drivers[leader].fsyncs - fsyncs < 50
            for _ in range(200):
                if all(len(g.applied[i]) >= len(g.applied[leader]) for i in g.ids):
                    break
                await asyncio.sleep(0.005)
            assert g.applied[follower] == g.applied[leader]
            driver = g.drivers[follower]
            driver.compact(100, b"state@100")
            for _ in range(1000):   # a few turns of its loop
                if driver.storage.snapshot is not None:
                    break
                await asyncio.sleep(0.002)
            assert driver.storage.snapshot.index == 100 and driver.node.log.snapshot_index == 100
        finally:
            await g.stop()

    asyncio.run(scenario())


def test_a_new_leader_takes_over_when_the_leader_goes_away():
    """With the leader cut off, the other two elect a leader that commits new proposals."""

    async def scenario():
        g = Group(seed=2)
        try:
            old = await g.leader()
            await g.drivers[old].propose(b"before")
            g.down.add(old)
            new = await g.leader(excluding=(old,))
            entry = await g.drivers[new].propose(b"after")
            assert entry.term > 1
        finally:
            await g.stop()

    asyncio.run(scenario())
