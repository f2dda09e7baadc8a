"""A hand-driven cluster for scripted tests of the Raft core: messages move only when a test
says so, so each test can stage exactly the interleaving it is about."""

from __future__ import annotations

import random

from services.journal.raft import (
    Entry, HardState, MemoryStorage, Outputs, RaftConfig, RaftNode, Role, Snapshot,
)

CONFIG = RaftConfig(heartbeat_ticks=1, election_ticks_min=5, election_ticks_max=10)


class Cluster:
    def __init__(self, ids=("a", "b", "c"), config: RaftConfig = CONFIG, *, logs=None, terms=None,
                 buggify: frozenset[str] = frozenset(), seed: int = 0, storage=None):
        self.ids = list(ids)
        self.config = config
        self.buggify = buggify
        self.rng = random.Random(seed)
        self.storage = {i: (storage or (lambda _: MemoryStorage()))(i) for i in self.ids}
        for i in self.ids:
            entries = [Entry(term, index + 1) for index, term in enumerate((logs or {}).get(i, []))]
            term = (terms or {}).get(i, entries[-1].term if entries else 0)
            if term:
                self.storage[i].save_hard_state(HardState(term, None))
            if entries:
                self.storage[i].append(entries)
            self.storage[i].sync()
        self.nodes: dict[str, RaftNode | None] = {}
        self.applied: dict[str, list[Entry]] = {i: [] for i in self.ids}
        self.restored: dict[str, Snapshot | None] = {i: None for i in self.ids}
        self.inflight: list = []
        self.cut: set[tuple[str, str]] = set()
        self.outputs: list[tuple[str, Outputs]] = []
        for i in self.ids:
            self.start(i)

    def start(self, i: str, storage=None) -> None:
        if storage is not None:
            self.storage[i] = storage
        loaded = self.storage[i].load()
        self.nodes[i] = RaftNode(i, [p for p in self.ids if p != i], loaded.hard_state, loaded.raft_log(),
                                 self.config, random.Random(self.rng.getrandbits(32)), buggify=self.buggify)

    def stop(self, i: str) -> None:
        self.nodes[i] = None
        self.inflight = [m for m in self.inflight if m.dst != i and m.src != i]

    def isolate(self, i: str) -> None:
        for p in self.ids:
            if p != i:
                self.cut.add((i, p))
                self.cut.add((p, i))

    def heal(self) -> None:
        self.cut.clear()

    def handle(self, i: str, out: Outputs) -> Outputs:
        self.outputs.append((i, out))
        self.storage[i].persist(out)
        self.storage[i].sync()
        self.inflight.extend(out.messages)
        if out.restore is not None:
            self.restored[i] = out.restore
            self.applied[i] = []
        self.applied[i].extend(out.committed)
        return out

    def deliver(self, steps_max: int = 10_000, only=None) -> int:
        """Deliver messages (those passing `only`) until none is left; returns how many."""
        delivered = 0
        while steps_max > 0:
            ready = [m for m in self.inflight if only is None or only(m)]
            if not ready:
                return delivered
            m = ready[0]
            self.inflight.remove(m)
            steps_max -= 1
            node = self.nodes.get(m.dst)
            if node is None or (m.src, m.dst) in self.cut:
                continue
            delivered += 1
            self.handle(m.dst, node.step(m))
        raise AssertionError("messages never stop")

    def tick(self, ids=None, n: int = 1, deliver: bool = True) -> None:
        for _ in range(n):
            for i in ids or self.ids:
                if self.nodes[i] is not None:
                    self.handle(i, self.nodes[i].tick())
            if deliver:
                self.deliver()

    def elect(self, i: str, only=None) -> RaftNode:
        """Tick only node i until it campaigns, then let the election finish (delivering
        only the messages that pass `only`)."""
        node = self.nodes[i]
        for _ in range(self.config.election_ticks_max * 10):
            self.handle(i, node.tick())
            if node.role is not Role.FOLLOWER:
                self.deliver(only=only)
                if node.role is Role.LEADER:
                    break
        assert node.role is Role.LEADER, (i, node.role)
        return node

    def leader(self) -> RaftNode | None:
        leaders = [n for n in self.nodes.values() if n is not None and n.role is Role.LEADER]
        return max(leaders, key=lambda n: n.term) if leaders else None

    def propose(self, i: str, payload: bytes) -> Outputs:
        out = self.nodes[i].propose(payload)
        assert isinstance(out, Outputs), out
        return self.handle(i, out)
