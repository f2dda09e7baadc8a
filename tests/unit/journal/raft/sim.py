"""A deterministic simulator for the Raft core: one seed, one exact history.

Everything random comes from one `random.Random(seed)`: the network (loss, duplication,
delay and so reordering, partitions including one-way ones, heals), crashes (at rest, or
between a write and its fsync, tearing the last append), restarts, clients proposing, the
application compacting its log, leadership transfers, and each node's own rng. Time is an
integer of microsteps; a node ticks every `tick_microsteps` (with jitter). The driver for
each node does what the journal server will do: persist, fsync, send, apply.

After every node step the checkers run (`Checker`):
  * election safety      at most one leader per term
  * log matching         an (index, term) pair always names the same entry with the same
                         predecessor term (so equal pairs mean equal prefixes); plus a full
                         pairwise comparison of the logs every `full_check_ticks`
  * leader completeness  a leader of term T holds every entry committed in a term < T
  * state machine safety nodes apply the same entry at each index (a hash chain over the
                         applied entries, which is also the snapshot blob, so a restore from a
                         snapshot is checked too)
  * liveness             once everything heals, a client's proposal commits within
                         a bound (a few election timeouts plus what the replication bounds
                         need to move the backlog) and every node applies it

A failure raises SimFailure naming the seed; RAFT_SEED=<seed> replays it with a trace.
"""

from __future__ import annotations

import hashlib
import heapq
import random
import traceback
from dataclasses import dataclass, field, replace

from services.journal.raft import (
    EntryKind, MemoryStorage, NotLeader, Outputs, Overloaded, RaftConfig, RaftNode, Role,
)

GENESIS = b"\0" * 16
LONG_SEED_BASE = 1_000_000   # seeds at or above this run the long scenario


class SimFailure(AssertionError):
    def __init__(self, seed: int, checker: str, detail: str, trace: list[str]):
        self.seed = seed
        self.checker = checker
        self.detail = detail
        tail = "\n".join(trace[-60:])
        replay = f"RAFT_SEED={seed} .venv/bin/python -m pytest -q tests/unit/journal/raft/test_sim.py"
        super().__init__(f"seed {seed}: {checker}: {detail}\nreplay: {replay}"
                         + (f"\nlast events:\n{tail}" if tail else ""))


@dataclass
class Scenario:
    nodes: int = 3
    chaos_ticks: int = 150
    tick_microsteps: int = 10
    delay_microsteps_max: int = 15
    loss: float = 0.05
    duplicate: float = 0.03
    partition_per_tick: float = 0.02
    heal_per_tick: float = 0.05
    crash_per_tick: float = 0.005       # per node
    crash_mid_write: float = 0.01       # per persisting step: crash between write and fsync
    restart_ticks_max: int = 30
    propose_per_tick: float = 0.5
    transfer_per_tick: float = 0.005
    compact_entries: int = 20           # the application snapshots this often (0: never)
    # once healed, a proposal must commit within liveness_elections election timeouts plus
    # the time the bounds need to move the backlog (round trips of append_entries_max x
    # inflight_appends_max entries)
    liveness_elections: int = 8
    full_check_ticks: int = 25
    raft: RaftConfig = field(default_factory=lambda: RaftConfig(
        heartbeat_ticks=1, election_ticks_min=6, election_ticks_max=12, append_entries_max=8,
        inflight_appends_max=4, append_retry_ticks=4, uncommitted_entries_max=256))
    buggify: frozenset[str] = frozenset()
    send_before_sync: bool = False      # a driver bug: proves the crash model has teeth

    @classmethod
    def for_seed(cls, seed: int, **overrides) -> "Scenario":
        """Vary the shape of the run with the seed, so that many seeds cover many shapes."""
        rng = random.Random(f"scenario-{seed}")
        long = seed >= LONG_SEED_BASE
        tick_microsteps = 10
        delay_microsteps_max = rng.choice([3, 15, 40])
        rtt_ticks_max = -(-2 * delay_microsteps_max // tick_microsteps)
        election_ticks_min = max(6, 3 * rtt_ticks_max)
        raft = RaftConfig(
            heartbeat_ticks=rng.choice([1, 1, 2]),
            # Raft's timing requirement: round trip << election timeout (else no liveness)
            election_ticks_min=election_ticks_min,
            election_ticks_max=election_ticks_min + rng.choice([3, 6, 10]) * election_ticks_min // 6,
            append_entries_max=rng.choice([1, 2, 8, 64]),
            append_bytes_max=rng.choice([64, 1 << 20]),
            inflight_appends_max=rng.choice([1, 2, 4, 16]),
            append_retry_ticks=rtt_ticks_max + rng.choice([1, 3]),   # a retry timer above the round trip
            uncommitted_entries_max=rng.choice([8, 256]),
            pre_vote=rng.random() < 0.85,
            check_quorum=rng.random() < 0.85,
        )
        calm = rng.random() < 0.2
        s = cls(
            nodes=rng.choice([3, 3, 3, 5]) if not long else rng.choice([3, 5]),
            chaos_ticks=rng.randint(60, 200) if not long else rng.randint(500, 900),
            tick_microsteps=tick_microsteps,
            delay_microsteps_max=delay_microsteps_max,
            loss=0.0 if calm else rng.choice([0.01, 0.05, 0.2]),
            duplicate=rng.choice([0.0, 0.03, 0.1]),
            partition_per_tick=0.0 if calm else rng.choice([0.01, 0.03, 0.08]),
            heal_per_tick=rng.choice([0.03, 0.1]),
            crash_per_tick=0.0 if calm else rng.choice([0.002, 0.01, 0.03]),
            crash_mid_write=0.0 if calm else rng.choice([0.0, 0.01, 0.05]),
            propose_per_tick=rng.choice([0.2, 0.5, 2.0]),
            compact_entries=rng.choice([0, 5, 20, 100]),
            raft=raft,
        )
        return replace(s, **overrides)


class SimNode:
    __slots__ = ("id", "storage", "node", "applied", "chain", "restart_at", "crashes")

    def __init__(self, node_id: str):
        self.id = node_id
        self.storage = MemoryStorage()
        self.node: RaftNode | None = None
        self.applied = 0
        self.chain = GENESIS        # hash chain over applied entries: the state machine
        self.restart_at = -1
        self.crashes = 0


def chain_next(chain: bytes, term: int, payload: bytes) -> bytes:
    return hashlib.blake2b(chain + term.to_bytes(8, "little") + payload, digest_size=16).digest()


def encode_snapshot(index: int, chain: bytes) -> bytes:
    return index.to_bytes(8, "little") + chain


def decode_snapshot(data: bytes) -> tuple[int, bytes]:
    return int.from_bytes(data[:8], "little"), data[8:]


class Checker:
    def __init__(self, sim: "Simulator"):
        self.sim = sim
        self.leaders: dict[int, str] = {}                       # term -> leader
        self.entries: dict[tuple[int, int], tuple] = {}         # (index, term) -> (payload, kind, prev term)
        self.committed: dict[int, tuple[int, bytes]] = {}       # index -> (term, chain after it)
        self.committed_max = 0

    def fail(self, checker: str, detail: str) -> None:
        raise SimFailure(self.sim.seed, checker, detail, self.sim.trace)

    def after_step(self, sn: SimNode, out: Outputs) -> None:
        node = sn.node
        if node.role is Role.LEADER:
            leader = self.leaders.setdefault(node.term, node.id)
            if leader != node.id:
                self.fail("election safety", f"term {node.term} has leaders {leader} and {node.id}")
            if out.state is not None and out.state.role is Role.LEADER:
                self.check_leader_has_committed(node)
        log = node.log
        for e in out.entries:
            key = (e.index, e.term)
            value = (e.payload, e.kind, log.term_at(e.index - 1))
            seen = self.entries.setdefault(key, value)
            if seen != value:
                self.fail("log matching", f"{node.id} has entry {key} = {value!r}, elsewhere {seen!r}")

    def check_leader_has_committed(self, node: RaftNode) -> None:
        log = node.log
        for index in range(log.snapshot_index + 1, self.committed_max + 1):
            if index in self.committed:
                term = self.committed[index][0]
                if term < node.term and log.term_at(index) != term:
                    self.fail("leader completeness",
                              f"{node.id} leads term {node.term} without committed entry {index} (term {term})")

    def on_apply(self, sn: SimNode, index: int, term: int, chain: bytes) -> None:
        seen = self.committed.setdefault(index, (term, chain))
        if seen != (term, chain):
            self.fail("state machine safety",
                      f"{sn.id} applied index {index} term {term}, another node applied term {seen[0]} there"
                      " (or a different history before it)")
        if index > self.committed_max:
            self.committed_max = index
            for other in self.sim.nodes:
                leader = other.node
                if leader is not None and leader.role is Role.LEADER and leader.term > term:
                    if index > leader.log.snapshot_index and leader.log.term_at(index) != term:
                        self.fail("leader completeness",
                                  f"{leader.id} leads term {leader.term} without committed entry {index}")

    def on_restore(self, sn: SimNode, index: int, chain: bytes) -> None:
        seen = self.committed.get(index)
        if seen is not None and seen[1] != chain:
            self.fail("state machine safety", f"{sn.id} restored a snapshot at {index} with another history")

    def full_log_matching(self) -> None:
        live = [sn.node for sn in self.sim.nodes if sn.node is not None]
        for i, a in enumerate(live):
            for b in live[i + 1:]:
                lo = max(a.log.first_index, b.log.first_index)
                hi = min(a.log.last_index, b.log.last_index)
                top = 0
                for index in range(hi, lo - 1, -1):
                    if a.log.term_at(index) == b.log.term_at(index):
                        top = index
                        break
                for index in range(lo, top + 1):
                    if a.log.entry(index) != b.log.entry(index):
                        self.fail("log matching", f"{a.id} and {b.id} agree at {top} but differ at {index}")


class Simulator:
    def __init__(self, seed: int, scenario: Scenario | None = None, trace: bool = False):
        self.seed = seed
        self.scenario = scenario or Scenario.for_seed(seed)
        self.rng = random.Random(seed)
        self.tracing = trace
        self.trace: list[str] = []
        self.ids = [f"n{i + 1}" for i in range(self.scenario.nodes)]
        self.nodes = [SimNode(i) for i in self.ids]
        self.by_id = {sn.id: sn for sn in self.nodes}
        self.now = 0
        self.seq = 0
        self.queue: list[tuple] = []      # (time, seq, kind, arg)
        self.blocked: set[tuple[str, str]] = set()
        self.loss = self.scenario.loss
        self.duplicate = self.scenario.duplicate
        self.chaos = True
        self.checker = Checker(self)
        self.proposals = 0
        self.leader_hint: str | None = None
        self.stats = {"delivered": 0, "dropped": 0, "crashes": 0, "torn": 0, "elections": 0, "snapshots_sent": 0,
                      "committed": 0, "transfers": 0}
        for sn in self.nodes:
            self.start(sn)
            self.schedule(self.rng.randint(1, self.scenario.tick_microsteps), "tick", sn.id)

    # -------------------------------------------------------------- plumbing

    def log(self, text: str) -> None:
        if self.tracing:
            self.trace.append(f"{self.now:7d} {text}")

    def schedule(self, at: int, kind: str, arg) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (at, self.seq, kind, arg))

    def start(self, sn: SimNode) -> None:
        loaded = sn.storage.load()
        sn.node = RaftNode(sn.id, [i for i in self.ids if i != sn.id], loaded.hard_state, loaded.raft_log(),
                           self.scenario.raft, random.Random(self.rng.getrandbits(64)),
                           buggify=self.scenario.buggify)
        if loaded.snapshot is not None:
            sn.applied, sn.chain = decode_snapshot(loaded.snapshot.data)
            assert sn.applied == loaded.snapshot.index
        else:
            sn.applied, sn.chain = 0, GENESIS
        sn.restart_at = -1
        self.log(f"{sn.id} start term={loaded.hard_state.term} vote={loaded.hard_state.voted_for} "
                 f"log=({sn.node.log.snapshot_index},{sn.node.log.last_index}]")

    def crash(self, sn: SimNode, mid_write: bool) -> None:
        if mid_write:
            self.stats["torn"] += 1
        sn.storage.crash(self.rng)
        sn.node = None
        sn.crashes += 1
        self.stats["crashes"] += 1
        down_ticks = self.rng.randint(1, self.scenario.restart_ticks_max)
        sn.restart_at = self.now + down_ticks * self.scenario.tick_microsteps
        self.schedule(sn.restart_at, "restart", sn.id)
        self.log(f"{sn.id} CRASH{' mid-write' if mid_write else ''}")

    def send(self, m) -> None:
        if self.rng.random() < self.loss:
            self.stats["dropped"] += 1
            return
        copies = 2 if self.rng.random() < self.duplicate else 1
        for _ in range(copies):
            self.schedule(self.now + self.rng.randint(1, self.scenario.delay_microsteps_max), "msg", m)

    # -------------------------------------------------------------- the driver (what the journal server does)

    def handle(self, sn: SimNode, out: Outputs) -> None:
        node = sn.node
        sn.storage.persist(out)
        if self.scenario.send_before_sync:
            for m in out.messages:
                self.send(m)
            out.messages = []
        if out.must_sync and self.chaos and self.rng.random() < self.scenario.crash_mid_write:
            self.crash(sn, mid_write=True)     # the messages were never sent, nothing applied
            return
        sn.storage.sync()
        self.checker.after_step(sn, out)
        if out.state is not None:
            self.log(f"{sn.id} {out.state.role.value} term={out.state.term} leader={out.state.leader_id}")
            if out.state.role is Role.LEADER:
                self.stats["elections"] += 1
                self.leader_hint = sn.id
        for m in out.messages:
            self.send(m)
        if out.restore is not None:
            index, chain = decode_snapshot(out.restore.data)
            assert index == out.restore.index
            self.checker.on_restore(sn, index, chain)
            sn.applied, sn.chain = index, chain
            self.log(f"{sn.id} restore snapshot at {index}")
        for e in out.committed:
            assert e.index == sn.applied + 1, (sn.id, e.index, sn.applied)
            sn.chain = chain_next(sn.chain, e.term, e.payload)
            sn.applied = e.index
            self.checker.on_apply(sn, e.index, e.term, sn.chain)
        if out.committed:
            self.stats["committed"] = max(self.stats["committed"], sn.applied)
        every = self.scenario.compact_entries
        if every and sn.applied - node.log.snapshot_index >= every and sn.node is node:
            self.handle(sn, node.compact(sn.applied, encode_snapshot(sn.applied, sn.chain)))

    def deliver(self, m) -> None:
        sn = self.by_id[m.dst]
        if sn.node is None or (m.src, m.dst) in self.blocked:
            self.stats["dropped"] += 1
            return
        self.stats["delivered"] += 1
        if type(m).__name__ == "InstallSnapshot":
            self.stats["snapshots_sent"] += 1
        if self.tracing:
            self.log(f"{m.src}->{m.dst} {m}")
        self.handle(sn, sn.node.step(m))

    def propose(self, payload: bytes) -> None:
        live = [sn for sn in self.nodes if sn.node is not None]
        if not live:
            return
        target = self.by_id.get(self.leader_hint) if self.leader_hint else None
        if target is None or target.node is None or self.rng.random() < 0.1:
            target = self.rng.choice(live)
        result = target.node.propose(payload)
        if isinstance(result, NotLeader):
            self.leader_hint = result.leader_id
            return
        if isinstance(result, Overloaded):
            return
        self.log(f"{target.id} propose {payload!r} -> index {result.proposed_index} term {result.proposed_term}")
        self.handle(target, result)

    def chaos_tick(self) -> None:
        s = self.scenario
        rng = self.rng
        if rng.random() < s.partition_per_tick:
            kind = rng.randrange(3)
            if kind == 0:      # isolate one node
                victim = rng.choice(self.ids)
                for other in self.ids:
                    if other != victim:
                        self.blocked.add((victim, other))
                        self.blocked.add((other, victim))
                self.log(f"PARTITION isolate {victim}")
            elif kind == 1:    # split in two
                side = [i for i in self.ids if rng.random() < 0.5]
                for a in side:
                    for b in self.ids:
                        if b not in side:
                            self.blocked.add((a, b))
                            self.blocked.add((b, a))
                self.log(f"PARTITION split {side}")
            else:              # one way
                a, b = rng.sample(self.ids, 2)
                self.blocked.add((a, b))
                self.log(f"PARTITION one-way {a}-x->{b}")
        if self.blocked and rng.random() < s.heal_per_tick:
            self.blocked.clear()
            self.log("HEAL")
        for sn in self.nodes:
            if sn.node is not None and rng.random() < s.crash_per_tick:
                self.crash(sn, mid_write=False)
        if rng.random() < s.transfer_per_tick:
            leaders = [sn for sn in self.nodes if sn.node is not None and sn.node.role is Role.LEADER]
            if leaders:
                sn = rng.choice(leaders)
                target = rng.choice(sn.node.peers)
                self.stats["transfers"] += 1
                self.log(f"{sn.id} transfer leadership to {target}")
                out = sn.node.transfer_leadership(target)
                if isinstance(out, Outputs):
                    self.handle(sn, out)
        n = s.propose_per_tick
        while n > 0:
            if rng.random() < n:
                self.proposals += 1
                self.propose(f"{self.seed}:{self.proposals}".encode())
            n -= 1

    def run_until(self, end: int, stop=None) -> bool:
        s = self.scenario
        full_every = s.full_check_ticks * s.tick_microsteps
        next_full = self.now + full_every
        while self.queue and self.queue[0][0] <= end:
            at, _, kind, arg = heapq.heappop(self.queue)
            self.now = at
            if kind == "msg":
                self.deliver(arg)
            elif kind == "tick":
                sn = self.by_id[arg]
                if sn.node is not None:
                    self.handle(sn, sn.node.tick())
                self.schedule(at + s.tick_microsteps + self.rng.choice((-1, 0, 0, 1)), "tick", arg)
                if arg == self.ids[0]:
                    if self.chaos:
                        self.chaos_tick()
                    if stop is not None and stop():
                        return True
            elif kind == "restart":
                sn = self.by_id[arg]
                if sn.node is None and sn.restart_at == at:
                    self.start(sn)
            if at >= next_full:
                next_full = at + full_every
                self.checker.full_log_matching()
        self.now = end
        return False

    # -------------------------------------------------------------- the scenario

    def run(self) -> dict:
        try:
            return self._run()
        except SimFailure:
            raise
        except Exception as error:   # an assertion inside the core: still name the seed
            where = traceback.format_exc(limit=-3)
            raise SimFailure(self.seed, "assertion", f"{error!r}\n{where}", self.trace) from error

    def _run(self) -> dict:
        s = self.scenario
        self.run_until(s.chaos_ticks * s.tick_microsteps)
        # heal everything; from now on the cluster must make progress
        self.chaos = False
        self.blocked.clear()
        self.loss = 0.0
        self.log("HEAL ALL")
        for sn in self.nodes:
            if sn.node is None:
                self.start(sn)
        healed_at = self.now
        payload = f"{self.seed}:liveness".encode()
        committed = self.committed_index_of(payload)
        live_ticks = s.liveness_elections * s.raft.election_ticks_max + self.backlog_ticks()
        deadline = self.now + live_ticks * s.tick_microsteps
        while committed is None and self.now < deadline:
            self.propose(payload)
            self.run_until(self.now + 3 * s.tick_microsteps)
            committed = self.committed_index_of(payload)
        self.stats["heal_to_commit_ticks"] = (self.now - healed_at) // s.tick_microsteps
        self.stats["liveness_bound_ticks"] = live_ticks
        if committed is None:
            self.checker.fail("liveness", f"a proposal did not commit within {live_ticks} ticks of the heal")
        if not self.run_until(deadline, stop=lambda: all(sn.applied >= committed for sn in self.nodes)):
            lag = {sn.id: sn.applied for sn in self.nodes}
            self.checker.fail("liveness", f"not every node applied index {committed} within {live_ticks}"
                                          f" ticks of the heal: {lag}")
        self.checker.full_log_matching()
        self.stats["heal_to_converge_ticks"] = (self.now - healed_at) // s.tick_microsteps
        self.stats["proposals"] = self.proposals
        return self.stats

    def backlog_ticks(self) -> int:
        """Ticks the replication bounds need to bring the most lagging node up to date."""
        s = self.scenario
        logs = [sn.node.log for sn in self.nodes]
        behind = max(log.last_index for log in logs) - min(
            sn.node.commit_index if s.compact_entries else 0 for sn in self.nodes)
        if s.compact_entries:
            behind = min(behind, s.compact_entries * 2 + s.raft.uncommitted_entries_max)
        per_round_trip = s.raft.append_entries_max * s.raft.inflight_appends_max
        rtt_ticks = -(-2 * s.delay_microsteps_max // s.tick_microsteps) + 1
        return -(-behind // per_round_trip) * rtt_ticks

    def committed_index_of(self, payload: bytes) -> int | None:
        for sn in self.nodes:
            node = sn.node
            if node is None:
                continue
            log = node.log
            for index in range(max(log.first_index, 1), min(node.commit_index, log.last_index) + 1):
                e = log.entry(index)
                if e.kind is EntryKind.NORMAL and e.payload == payload:
                    return index
        return None


def run_seed(seed: int, trace: bool = False, **overrides) -> dict:
    return Simulator(seed, Scenario.for_seed(seed, **overrides), trace=trace).run()
