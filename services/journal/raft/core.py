"""The Raft consensus core as a pure state machine (see README.md for a walk-through).

    out = node.step(message)      # a message from a peer
    out = node.tick()             # one logical clock tick (the driver decides how long that is)
    out = node.propose(payload)   # leader only; else NotLeader / Overloaded
    out = node.compact(index, data)

Each call returns Outputs: persist, fsync, then send, then apply (see messages.Outputs).
Nothing here touches sockets, clocks, threads or global randomness: time is `tick()`,
randomness is the injected `rng`, so a seeded simulator replays any run exactly.

Raft as in Ongaro's thesis, with the usual production extensions (as in etcd/raft):
PreVote (a rejoining node cannot bump the term and depose a healthy leader), CheckQuorum
(a leader that cannot hear from a majority for election_ticks_min ticks steps down) and the
matching follower lease (a follower that heard from a leader in the last election_ticks_min
ticks ignores vote requests), fast log backtracking with conflict index/term, a no-op on
election so that only current-term entries are committed by counting (Figure 8),
pipelined replication with a bounded in-flight window, snapshots and InstallSnapshot,
and leadership transfer (TimeoutNow).

`buggify` switches on known bugs, deterministically, so that tests can prove that the
simulator's checkers catch them. It is empty in production.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from .log import RaftLog
from .messages import (
    AppendEntries, AppendEntriesResponse, Entry, EntryKind, HardState, Heartbeat, HeartbeatResponse,
    InstallSnapshot, InstallSnapshotResponse, Message, NotLeader, Outputs, Overloaded, RequestVote,
    RequestVoteResponse, Role, Snapshot, StateChange, TimeoutNow,
)

BUGS = frozenset({
    "vote_twice",               # grant a vote although this term's vote went to someone else
    "volatile_vote",            # do not persist voted_for (a restart forgets the vote)
    "commit_without_majority",  # the leader commits whatever it has appended
    "commit_prior_term",        # commit by counting replicas of an earlier term's entry (Figure 8)
    "ack_before_append",        # acknowledge an AppendEntries without appending its entries
})


@dataclass(frozen=True, slots=True)
class RaftConfig:
    heartbeat_ticks: int = 1
    election_ticks_min: int = 10
    election_ticks_max: int = 20
    pre_vote: bool = True
    check_quorum: bool = True
    append_entries_max: int = 64            # entries per AppendEntries
    append_bytes_max: int = 1 << 20         # payload bytes per AppendEntries (>= 1 entry always)
    inflight_appends_max: int = 8           # pipelined AppendEntries per follower
    append_retry_ticks: int = 5             # no progress from a follower this long: probe again
    uncommitted_entries_max: int = 4096     # propose() answers Overloaded beyond this
    payload_bytes_max: int = 16 << 20       # one proposal
    snapshot_bytes_max: int = 256 << 20     # one InstallSnapshot (not chunked yet)
    apply_entries_max: int = 4096           # committed entries handed out per call

    def __post_init__(self) -> None:
        assert 1 <= self.heartbeat_ticks < self.election_ticks_min <= self.election_ticks_max
        assert self.append_entries_max >= 1 and self.append_bytes_max >= 1
        assert self.inflight_appends_max >= 1 and self.append_retry_ticks >= 1
        assert self.uncommitted_entries_max >= 1 and self.apply_entries_max >= 1
        assert self.payload_bytes_max >= 1 and self.snapshot_bytes_max >= 1


class _Mode(enum.Enum):
    PROBE = 0       # one AppendEntries at a time until we find where the logs match
    REPLICATE = 1   # logs match at `match`: stream up to inflight_appends_max appends
    SNAPSHOT = 2    # an InstallSnapshot is in flight


class _Progress:
    """The leader's view of one follower."""

    __slots__ = ("next", "match", "mode", "inflight", "probe_sent", "active", "stall_ticks")

    def __init__(self, next_index: int):
        self.next = next_index
        self.match = 0
        self.mode = _Mode.PROBE
        self.inflight: list[int] = []   # last index of each in-flight AppendEntries
        self.probe_sent = False
        self.active = True             # heard from since the last check-quorum round
        self.stall_ticks = 0           # ticks without progress while we wait for it

    def to_probe(self) -> None:
        self.mode = _Mode.PROBE
        self.next = self.match + 1
        self.inflight = []
        self.probe_sent = False
        self.stall_ticks = 0


class RaftNode:
    def __init__(self, node_id: str, peers, persistent_state: HardState, log: RaftLog,
                 config: RaftConfig, rng: random.Random, *, buggify: frozenset[str] = frozenset()):
        peers = tuple(sorted(peers))
        assert node_id not in peers and len(set(peers)) == len(peers), (node_id, peers)
        assert buggify <= BUGS, buggify - BUGS
        assert log.last_term <= persistent_state.term, "the term is made durable before any entry of it"
        self.id = node_id
        self.peers = peers
        self.quorum = (len(peers) + 1) // 2 + 1
        self.config = config
        self.rng = rng
        self.bugs = buggify
        self.term = persistent_state.term
        self.voted_for = persistent_state.voted_for
        self._persisted_hard_state = persistent_state
        self.log = log
        # Not persisted: after a restart the state machine is the snapshot, and the rest is
        # learnt again from the leader.
        self.commit_index = log.snapshot_index
        self.applied_index = log.snapshot_index
        self.role = Role.FOLLOWER
        self.leader_id: str | None = None
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.election_timeout = 0
        self._reset_election_timeout()
        self.votes: dict[str, bool] = {}
        self.progress: dict[str, _Progress] = {}
        self.transfer_target: str | None = None
        self._out: Outputs | None = None
        self._before: tuple = ()

    # ------------------------------------------------------------------ public API

    def step(self, m: Message) -> Outputs:
        self._begin()
        assert m.dst == self.id, m
        if m.src in self.peers:
            self._step(m)
        return self._finish()

    def tick(self) -> Outputs:
        self._begin()
        if self.role is Role.LEADER:
            self._tick_leader()
        else:
            self.election_elapsed += 1
            if self.election_elapsed >= self.election_timeout:
                self._campaign(transfer=False)
        return self._finish()

    def propose(self, payload: bytes) -> Outputs | NotLeader | Overloaded:
        return self.propose_many([payload])

    def propose_many(self, payloads) -> Outputs | NotLeader | Overloaded:
        """Append several payloads as consecutive entries (one persist, one replication
        round): proposed_index is the first one's index."""
        assert payloads
        for payload in payloads:
            if len(payload) > self.config.payload_bytes_max:
                raise ValueError(f"proposal of {len(payload)} bytes > payload_bytes_max")
        if self.role is not Role.LEADER or self.transfer_target is not None:
            return NotLeader(self.leader_id if self.role is not Role.LEADER else None, self.term)
        uncommitted = self.log.last_index - self.commit_index
        if uncommitted + len(payloads) > self.config.uncommitted_entries_max:
            return Overloaded(uncommitted)
        self._begin()
        first = self.log.last_index + 1
        self._append_local([Entry(self.term, first + i, bytes(p)) for i, p in enumerate(payloads)])
        for peer in self.peers:
            self._send_append(peer)
        self._maybe_commit()
        out = self._finish()
        out.proposed_index = first
        out.proposed_term = self.term
        return out

    def compact(self, index: int, data: bytes) -> Outputs:
        """The application's state machine, having applied every entry up to `index`, is
        `data`: make it the snapshot and drop the log up to there."""
        assert self.log.snapshot_index < index <= self.applied_index, (index, self.log.snapshot_index,
                                                                       self.applied_index)
        assert len(data) <= self.config.snapshot_bytes_max
        self._begin()
        term = self.log.term_at(index)
        assert term is not None
        snapshot = Snapshot(index, term, bytes(data))
        self.log.install(snapshot)
        self._out.snapshot = snapshot
        return self._finish()

    def transfer_leadership(self, target: str) -> Outputs | NotLeader:
        """Hand leadership to `target` once it has our whole log; proposals are refused
        meanwhile. Gives up after election_ticks_min ticks."""
        if self.role is not Role.LEADER:
            return NotLeader(self.leader_id, self.term)
        assert target in self.peers, target
        self._begin()
        self.transfer_target = target
        self.election_elapsed = 0
        if self.progress[target].match == self.log.last_index:
            self._send(TimeoutNow(self.id, target, self.term))
        else:
            self._send_append(target)
        return self._finish()

    @property
    def hard_state(self) -> HardState:
        return HardState(self.term, self.voted_for)

    @property
    def leader_ready(self) -> bool:
        """Leader, and an entry of its own term (the no-op) is committed - so every entry of
        earlier terms is committed and has been handed out for applying. Before that, a new
        leader's state machine may still lack commits of its predecessor (the adjudicator
        must not check conflicts or assign timestamps yet)."""
        return self.role is Role.LEADER and self.log.term_at(self.commit_index) == self.term

    # ------------------------------------------------------------------ output plumbing

    def _begin(self) -> None:
        assert self._out is None, "RaftNode is not reentrant"
        self._out = Outputs()
        self._before = (self.role, self.term, self.leader_id)

    def _finish(self) -> Outputs:
        out = self._out
        self._out = None
        voted_for = None if "volatile_vote" in self.bugs else self.voted_for
        hard_state = HardState(self.term, voted_for)
        if hard_state != self._persisted_hard_state:
            assert hard_state.term >= self._persisted_hard_state.term
            out.hard_state = hard_state
            self._persisted_hard_state = hard_state
        if self.applied_index < self.commit_index:
            hi = min(self.commit_index, self.applied_index + self.config.apply_entries_max)
            out.committed = self.log.entries[self.applied_index - self.log.snapshot_index:
                                             hi - self.log.snapshot_index]
            assert out.committed[0].index == self.applied_index + 1 and out.committed[-1].index == hi
            self.applied_index = hi
        if (self.role, self.term, self.leader_id) != self._before:
            out.state = StateChange(self.role, self.term, self.leader_id)
        # invariants that hold between calls
        assert self.log.snapshot_index <= self.applied_index <= self.commit_index <= self.log.last_index
        assert self.log.last_term <= self.term
        assert self.role is not Role.LEADER or (self.leader_id == self.id and self.voted_for == self.id
                                                or "volatile_vote" in self.bugs)
        return out

    def _send(self, m: Message) -> None:
        self._out.messages.append(m)

    def _append_local(self, entries: list[Entry]) -> None:
        self.log.append(entries)
        pending = self._out.entries
        if pending and entries[0].index <= pending[-1].index:
            del pending[entries[0].index - pending[0].index:]
        pending.extend(entries)

    # ------------------------------------------------------------------ roles

    def _reset_election_timeout(self) -> None:
        self.election_timeout = self.rng.randint(self.config.election_ticks_min, self.config.election_ticks_max)

    def _become_follower(self, term: int, leader_id: str | None) -> None:
        assert term >= self.term
        if term > self.term:
            self.term = term
            self.voted_for = None
        self.role = Role.FOLLOWER
        self.leader_id = leader_id
        self.votes = {}
        self.progress = {}
        self.transfer_target = None
        self.election_elapsed = 0
        self._reset_election_timeout()

    def _campaign(self, transfer: bool) -> None:
        self.election_elapsed = 0
        self._reset_election_timeout()
        self.leader_id = None
        self.progress = {}
        self.votes = {self.id: True}
        pre_vote = self.config.pre_vote and not transfer
        if pre_vote:
            self.role = Role.PRE_CANDIDATE
            term = self.term + 1
        else:
            self.role = Role.CANDIDATE
            self.term += 1
            self.voted_for = self.id
            term = self.term
        if self.quorum == 1:
            self._won_votes()
            return
        for peer in self.peers:
            self._send(RequestVote(self.id, peer, term, self.log.last_index, self.log.last_term,
                                   pre_vote=pre_vote, transfer=transfer))

    def _won_votes(self) -> None:
        if self.role is Role.PRE_CANDIDATE:
            self._campaign_real()
        else:
            self._become_leader()

    def _campaign_real(self) -> None:
        self.role = Role.CANDIDATE
        self.term += 1
        self.voted_for = self.id
        self.votes = {self.id: True}
        if self.quorum == 1:
            self._become_leader()
            return
        for peer in self.peers:
            self._send(RequestVote(self.id, peer, self.term, self.log.last_index, self.log.last_term))

    def _become_leader(self) -> None:
        assert self.role is Role.CANDIDATE
        self.role = Role.LEADER
        self.leader_id = self.id
        self.votes = {}
        self.heartbeat_elapsed = 0
        self.election_elapsed = 0
        self.transfer_target = None
        next_index = self.log.last_index + 1
        self.progress = {peer: _Progress(next_index) for peer in self.peers}
        # Entries of earlier terms are committed only indirectly, through this no-op.
        self._append_local([Entry(self.term, next_index, b"", EntryKind.NOOP)])
        for peer in self.peers:
            self._send_append(peer)
        self._maybe_commit()

    def _in_lease(self) -> bool:
        return (self.config.check_quorum and self.leader_id is not None
                and self.election_elapsed < self.config.election_ticks_min)

    # ------------------------------------------------------------------ step

    def _step(self, m: Message) -> None:
        from_leader = isinstance(m, (AppendEntries, Heartbeat, InstallSnapshot, TimeoutNow))
        if m.term > self.term:
            if isinstance(m, RequestVote):
                if not m.transfer and self._in_lease():
                    return   # we heard from a live leader recently: do not let this one depose it
                if not m.pre_vote:
                    self._become_follower(m.term, None)
            elif isinstance(m, RequestVoteResponse) and m.pre_vote and m.granted:
                pass         # a granted pre-vote carries the term we asked about
            else:
                self._become_follower(m.term, m.src if from_leader else None)
        elif m.term < self.term:
            if from_leader:
                # a deposed leader (e.g. back from a partition): tell it the term so it steps down
                self._send(HeartbeatResponse(self.id, m.src, self.term))
            elif isinstance(m, RequestVote) and m.pre_vote:
                self._send(RequestVoteResponse(self.id, m.src, self.term, False, pre_vote=True))
            return

        if isinstance(m, RequestVote):
            self._on_request_vote(m)
        elif isinstance(m, RequestVoteResponse):
            self._on_vote_response(m)
        elif isinstance(m, AppendEntries):
            if self._accept_leader(m.src):
                self._on_append(m)
        elif isinstance(m, Heartbeat):
            if self._accept_leader(m.src):
                if m.commit > self.commit_index:
                    self._commit_to(min(m.commit, self.log.last_index))
                self._send(HeartbeatResponse(self.id, m.src, self.term))
        elif isinstance(m, InstallSnapshot):
            if self._accept_leader(m.src):
                self._on_install_snapshot(m)
        elif isinstance(m, TimeoutNow):
            if self._accept_leader(m.src):
                self._campaign(transfer=True)
        elif self.role is Role.LEADER:
            pr = self.progress[m.src]
            pr.active = True
            if isinstance(m, AppendEntriesResponse):
                self._on_append_response(m, pr)
            elif isinstance(m, HeartbeatResponse):
                if pr.match < self.log.last_index:
                    self._send_append(m.src)
            elif isinstance(m, InstallSnapshotResponse):
                if m.match_index > pr.match:
                    pr.match = m.match_index
                if pr.mode is _Mode.SNAPSHOT:
                    pr.to_probe()
                self._maybe_commit()
                self._send_append(m.src)

    def _accept_leader(self, leader: str) -> bool:
        """m comes from the leader of our term: follow it."""
        if self.role is Role.LEADER:
            # two leaders in one term: only possible with an injected bug; the simulator's
            # election-safety checker reports it
            assert self.bugs, ("two leaders in term", self.term, self.id, leader)
            return False
        if self.role is not Role.FOLLOWER or self.leader_id != leader:
            self._become_follower(self.term, leader)
        self.election_elapsed = 0
        return True

    def _on_request_vote(self, m: RequestVote) -> None:
        if m.pre_vote:
            can_vote = m.term > self.term or self.voted_for == m.src or (
                self.voted_for is None and self.leader_id is None)
        else:
            can_vote = self.voted_for == m.src or (self.voted_for is None and self.leader_id is None)
            if "vote_twice" in self.bugs and self.role is Role.FOLLOWER:
                can_vote = True
        log_ok = (m.last_log_term, m.last_log_index) >= (self.log.last_term, self.log.last_index)
        granted = can_vote and log_ok
        if granted and not m.pre_vote:
            self.voted_for = m.src
            self.election_elapsed = 0
        term = m.term if (granted and m.pre_vote) else self.term
        self._send(RequestVoteResponse(self.id, m.src, term, granted, pre_vote=m.pre_vote))

    def _on_vote_response(self, m: RequestVoteResponse) -> None:
        if m.pre_vote:
            if self.role is not Role.PRE_CANDIDATE or (m.granted and m.term != self.term + 1):
                return   # not campaigning, or a grant from an older round
        elif self.role is not Role.CANDIDATE or m.term != self.term:
            return
        self.votes.setdefault(m.src, m.granted)
        granted = sum(1 for v in self.votes.values() if v)
        rejected = len(self.votes) - granted
        if granted >= self.quorum:
            self._won_votes()
        elif rejected >= self.quorum:
            self._become_follower(self.term, None)

    def _on_append(self, m: AppendEntries) -> None:
        prev = m.prev_log_index
        entries = m.entries
        last_new = m.prev_log_index + len(m.entries)
        if prev < self.commit_index:
            # the prefix up to our commit index matches the leader's log (leader completeness)
            skip = min(self.commit_index - prev, len(entries))
            entries = entries[skip:]
            prev += skip
        elif self.log.term_at(prev) != m.prev_log_term:
            if prev > self.log.last_index:
                conflict_index, conflict_term = self.log.last_index + 1, 0
            else:
                conflict_term = self.log.term_at(prev)
                conflict_index = self.log.first_index_of_term(prev)
            self._send(AppendEntriesResponse(self.id, m.src, self.term, False, reject_index=prev,
                                             conflict_index=conflict_index, conflict_term=conflict_term))
            return
        for i, entry in enumerate(entries):
            if self.log.term_at(entry.index) != entry.term:
                new = list(entries[i:])
                assert new[0].index > self.commit_index, "a committed entry would be overwritten"
                if "ack_before_append" not in self.bugs:
                    self._append_local(new)
                break
        verified = min(last_new, self.log.last_index) if "ack_before_append" in self.bugs else last_new
        self._commit_to(min(m.leader_commit, verified))
        self._send(AppendEntriesResponse(self.id, m.src, self.term, True, match_index=last_new))

    def _on_install_snapshot(self, m: InstallSnapshot) -> None:
        s = m.snapshot
        if s.index <= self.commit_index:
            match = self.commit_index
        elif self.log.term_at(s.index) == s.term:
            self._commit_to(s.index)
            match = s.index
        else:
            assert not self._out.entries
            self.log.install(s)
            self._out.snapshot = s
            self._out.restore = s
            self.commit_index = self.applied_index = s.index
            match = s.index
        self._send(InstallSnapshotResponse(self.id, m.src, self.term, match))

    def _commit_to(self, index: int) -> None:
        assert index <= self.log.last_index, (index, self.log.last_index)
        if index > self.commit_index:
            self.commit_index = index

    # ------------------------------------------------------------------ leader

    def _tick_leader(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self.config.election_ticks_min:
            self.election_elapsed = 0
            if self.config.check_quorum:
                active = 1 + sum(1 for pr in self.progress.values() if pr.active)
                for pr in self.progress.values():
                    pr.active = False
                if active < self.quorum:
                    self._become_follower(self.term, None)
                    return
            self.transfer_target = None   # a transfer that has not happened by now has failed
        for peer in self.peers:
            pr = self.progress[peer]
            waiting = pr.mode is _Mode.SNAPSHOT or (pr.mode is _Mode.REPLICATE and pr.inflight)
            pr.stall_ticks = pr.stall_ticks + 1 if waiting else 0
            if pr.stall_ticks >= self.config.append_retry_ticks:
                pr.to_probe()   # something was lost: find the match point again
                self._send_append(peer)
        if self.heartbeat_elapsed >= self.config.heartbeat_ticks:
            self.heartbeat_elapsed = 0
            for peer in self.peers:
                pr = self.progress[peer]
                if pr.mode is _Mode.PROBE:
                    pr.probe_sent = False   # the heartbeat response will trigger the next probe
                self._send(Heartbeat(self.id, peer, self.term, min(pr.match, self.commit_index)))

    def _send_append(self, peer: str) -> None:
        """Send what the follower lacks, as far as the mode and the bounds allow."""
        pr = self.progress[peer]
        config = self.config
        while True:
            if pr.mode is _Mode.SNAPSHOT:
                return
            if pr.mode is _Mode.PROBE and pr.probe_sent:
                return
            if pr.mode is _Mode.REPLICATE and len(pr.inflight) >= config.inflight_appends_max:
                return
            prev = pr.next - 1
            if prev < self.log.snapshot_index:
                pr.mode = _Mode.SNAPSHOT
                pr.stall_ticks = 0
                self._send(InstallSnapshot(self.id, peer, self.term, self.log.snapshot))
                return
            entries = self.log.slice(pr.next, self.log.last_index, config.append_entries_max,
                                     config.append_bytes_max) if pr.next <= self.log.last_index else []
            if pr.mode is _Mode.REPLICATE and not entries:
                return
            self._send(AppendEntries(self.id, peer, self.term, prev, self.log.term_at(prev), tuple(entries),
                                     self.commit_index))
            if pr.mode is _Mode.PROBE:
                pr.probe_sent = True
                return
            pr.next = entries[-1].index + 1
            pr.inflight.append(entries[-1].index)

    def _on_append_response(self, m: AppendEntriesResponse, pr: _Progress) -> None:
        if m.success:
            if m.match_index > pr.match:
                pr.match = m.match_index
                pr.stall_ticks = 0
                if pr.mode is not _Mode.REPLICATE:
                    pr.mode = _Mode.REPLICATE
                    pr.inflight = []
                pr.next = max(pr.next, pr.match + 1)
                pr.inflight = [i for i in pr.inflight if i > pr.match]
                self._maybe_commit()
                if self.transfer_target == m.src and pr.match == self.log.last_index:
                    self._send(TimeoutNow(self.id, m.src, self.term))
            elif pr.mode is _Mode.PROBE and m.match_index == pr.match and pr.probe_sent:
                pr.mode = _Mode.REPLICATE   # the probe confirmed the current match point
                pr.inflight = []
                pr.next = pr.match + 1
            self._send_append(m.src)
            return
        if pr.mode is _Mode.SNAPSHOT or m.reject_index <= pr.match:
            return   # stale
        if pr.mode is _Mode.PROBE and m.reject_index != pr.next - 1:
            return   # stale
        if m.conflict_term == 0:
            hint = m.conflict_index
        else:
            j = min(m.reject_index, self.log.last_index)
            while j > self.log.snapshot_index and self.log.term_at(j) > m.conflict_term:
                j -= 1
            if j > self.log.snapshot_index and self.log.term_at(j) == m.conflict_term:
                hint = j + 1
            else:
                hint = m.conflict_index
        pr.to_probe()
        pr.next = max(pr.match + 1, min(hint, m.reject_index))
        self._send_append(m.src)

    def _maybe_commit(self) -> None:
        if self.role is not Role.LEADER:
            return
        if "commit_without_majority" in self.bugs:
            self._commit_to(self.log.last_index)
            return
        matches = sorted([self.log.last_index] + [pr.match for pr in self.progress.values()], reverse=True)
        index = matches[self.quorum - 1]
        if index <= self.commit_index:
            return
        if self.log.term_at(index) == self.term or "commit_prior_term" in self.bugs:
            self._commit_to(index)
