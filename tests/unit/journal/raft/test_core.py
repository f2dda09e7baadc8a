"""Scripted tests of the Raft core: each stages one interleaving by hand."""

from __future__ import annotations

import dataclasses
import random

import pytest

from services.journal.raft import (
    AppendEntries, AppendEntriesResponse, Entry, EntryKind, HardState, InstallSnapshot, NotLeader, Outputs,
    Overloaded, RaftLog, RaftNode, RequestVote, RequestVoteResponse, Role,
)

from .cluster import CONFIG, Cluster


def payloads(entries):
    return [e.payload for e in entries if e.kind is EntryKind.NORMAL]


def test_one_leader_is_elected_and_a_proposal_commits_everywhere():
    """A proposal is persisted before its AppendEntries go out, and every node applies it."""
    c = Cluster()
    leader = c.elect("a")
    assert leader.term == 1 and all(c.nodes[i].leader_id == "a" for i in "bc")
    assert leader.leader_ready   # its no-op is committed
    out = c.propose("a", b"x")
    assert [e.payload for e in out.entries] == [b"x"] and out.must_sync
    assert {m.dst for m in out.messages if isinstance(m, AppendEntries)} == {"b", "c"}
    assert (out.proposed_index, out.proposed_term) == (2, 1)   # after the leader's no-op
    c.deliver()
    c.tick(n=2)   # heartbeats carry the commit index to the followers
    for i in "abc":
        assert payloads(c.applied[i]) == [b"x"], i


def test_a_follower_redirects_to_the_leader():
    """propose() on a follower names the leader; during an election the leader is unknown."""
    c = Cluster()
    c.elect("a")
    assert c.nodes["b"].propose(b"x") == NotLeader("a", 1)
    c2 = Cluster()
    assert c2.nodes["b"].propose(b"x") == NotLeader(None, 0)


def test_vote_is_persisted_in_the_same_outputs_as_the_grant():
    """A granted vote comes with the hard state to fsync before the response is sent."""
    node = RaftNode("b", ["a", "c"], HardState(), RaftLog(), CONFIG, random.Random(1))
    out = node.step(RequestVote("a", "b", 1, 0, 0))
    assert out.hard_state == HardState(1, "a")
    assert out.messages == [RequestVoteResponse("b", "a", 1, True)]
    # the same term, another candidate: refused
    out = node.step(RequestVote("c", "b", 1, 0, 0))
    assert out.messages == [RequestVoteResponse("b", "c", 1, False)] and out.hard_state is None


def test_restart_keeps_term_vote_and_log():
    """A node rebuilt from its storage has the term, vote and log it persisted."""
    c = Cluster()
    c.elect("a")
    c.propose("a", b"x")
    c.deliver()
    c.stop("b")
    c.start("b")
    b = c.nodes["b"]
    assert b.term == 1 and b.voted_for == "a" and b.log.last_index == 2


def test_pre_vote_keeps_an_isolated_node_from_disrupting_the_leader():
    """With PreVote a node cut off for a long time does not raise its term, so rejoining
    does not depose the leader."""
    c = Cluster()
    c.elect("a")
    c.isolate("c")
    c.tick(n=60)
    assert c.nodes["c"].term == 1 and c.nodes["c"].role is Role.PRE_CANDIDATE
    assert not c.nodes["c"].leader_ready
    c.heal()
    c.tick(n=20)
    assert c.leader().id == "a" and c.nodes["a"].term == 1


def test_without_pre_vote_the_isolated_node_does_disrupt():
    """The contrast: without PreVote the rejoining node's higher term deposes the leader."""
    c = Cluster(config=dataclasses.replace(CONFIG, pre_vote=False))
    c.elect("a")
    c.isolate("c")
    c.tick(n=60)
    assert c.nodes["c"].term > 3
    c.heal()
    c.tick(n=40)
    assert c.leader().term > 1


def test_check_quorum_makes_an_isolated_leader_step_down():
    """A leader that hears from no majority for election_ticks_min ticks steps down, and the
    rest elect a new leader."""
    c = Cluster()
    c.elect("a")
    c.isolate("a")
    c.tick(n=CONFIG.election_ticks_min * 2 + 1)
    assert c.nodes["a"].role is Role.FOLLOWER
    c.tick(n=CONFIG.election_ticks_max * 3)
    assert c.leader().id in ("b", "c")
    assert isinstance(c.nodes["a"].propose(b"x"), NotLeader)


def test_fast_backtracking_skips_a_whole_conflicting_term_per_round_trip():
    """A follower with 50 stale entries of one term is repaired in a few round trips."""
    c = Cluster(logs={"a": [1, 1, 3], "b": [1, 1, 3], "c": [1, 1] + [2] * 50}, terms={"c": 2})
    c.elect("a")
    rejections = sum(1 for _, out in c.outputs for m in out.messages
                     if isinstance(m, AppendEntriesResponse) and not m.success)
    assert rejections <= 3, rejections
    c.tick(n=2)
    assert c.nodes["c"].log.last_index == c.nodes["a"].log.last_index
    assert c.nodes["c"].log.term_at(3) == 3


def _figure8(buggify):
    """Figure 8 of the Raft paper with three nodes. a led term 2 and wrote index 2 only to
    itself; c led term 3 and wrote another index 2 only to itself. Now a leads term 4 and
    copies its index 2 to b - a majority holds it, but it is from term 2."""
    config = dataclasses.replace(CONFIG, append_entries_max=1, inflight_appends_max=1)
    c = Cluster(config=config, logs={"a": [1, 2], "b": [1], "c": [1, 3]}, terms={"a": 3, "b": 3, "c": 3},
                buggify=buggify)
    c.isolate("c")

    def noop_would_land(m):
        return (isinstance(m, AppendEntries) and any(e.term == 4 for e in m.entries)
                and c.nodes[m.dst].log.term_at(m.prev_log_index) == m.prev_log_term)

    # everything gets through except the no-op of term 4 landing on b
    a = c.elect("a", only=lambda m: not noop_would_land(m))
    assert a.term == 4
    assert c.nodes["b"].log.term_at(2) == 2
    assert not a.leader_ready   # its no-op is not committed
    committed_by_a = a.commit_index
    # a crashes; c comes back and, with the higher last term, wins b's vote
    c.stop("a")
    c.heal()
    c.tick(["b"], n=CONFIG.election_ticks_max + 1, deliver=False)   # b's lease on a runs out
    c.inflight.clear()
    c.elect("c")
    c.tick(["c"], n=2)
    return committed_by_a, c


def test_only_current_term_entries_are_committed_by_counting():
    """Figure 8: the term-2 entry on a majority is not committed, so c may overwrite it."""
    committed_by_a, c = _figure8(frozenset())
    assert committed_by_a < 2
    assert c.nodes["b"].log.term_at(2) == 3 and c.nodes["b"].commit_index >= 2


def test_figure8_bug_commits_an_entry_that_is_later_overwritten():
    """The same run with the bug: a commits index 2 (term 2), then c overwrites it on b - the
    state machine safety violation that the rule prevents."""
    committed_by_a, c = _figure8(frozenset({"commit_prior_term"}))
    assert committed_by_a == 2
    assert c.nodes["b"].log.term_at(2) == 3 and c.nodes["b"].commit_index >= 2
    applied_at_2 = {i: [e.term for e in c.applied[i] if e.index == 2] for i in "ab"}
    assert applied_at_2 == {"a": [2], "b": [3]}   # two different entries applied at index 2


def test_a_lagging_follower_gets_the_snapshot():
    """Once the leader compacted past what a follower has, it sends InstallSnapshot; the
    follower restores the opaque snapshot blob and continues from there."""
    c = Cluster()
    c.elect("a")
    c.stop("c")
    for k in range(10):
        c.propose("a", b"p%d" % k)
        c.deliver()
    c.tick(n=2)
    a = c.nodes["a"]
    c.handle("a", a.compact(a.applied_index, b"state-at-%d" % a.applied_index))
    assert a.log.snapshot_index == 11 and not a.log.entries
    c.start("c")
    c.tick(n=3)
    sent = [m for _, out in c.outputs for m in out.messages if isinstance(m, InstallSnapshot)]
    assert sent and sent[0].snapshot.data == b"state-at-11"
    assert c.restored["c"].data == b"state-at-11"
    c.propose("a", b"after")
    c.deliver()
    c.tick(n=2)
    assert payloads(c.applied["c"]) == [b"after"]
    assert c.storage["c"].snapshot.index == 11


def test_leadership_transfer():
    """transfer_leadership hands over to an up-to-date follower, refusing proposals meanwhile."""
    c = Cluster()
    c.elect("a")
    c.propose("a", b"x")
    out = c.handle("a", c.nodes["a"].transfer_leadership("b"))
    assert isinstance(c.nodes["a"].propose(b"y"), NotLeader)
    c.deliver()
    assert c.leader().id == "b" and c.nodes["b"].term == 2
    assert out is not None


def test_bounds_on_appends_and_proposals():
    """AppendEntries carry at most append_entries_max entries; a leader with
    uncommitted_entries_max entries waiting answers Overloaded; oversized payloads raise."""
    config = dataclasses.replace(CONFIG, append_entries_max=3, uncommitted_entries_max=5, payload_bytes_max=10)
    c = Cluster(config=config)
    c.elect("a")
    c.stop("b")
    c.stop("c")
    a = c.nodes["a"]
    results = [a.propose(b"p") for _ in range(6)]
    assert isinstance(results[-1], Overloaded)
    with pytest.raises(ValueError):
        a.propose(b"x" * 11)
    c.start("b")
    c.start("c")
    c.tick(n=config.append_retry_ticks + 3)   # the appends sent while b and c were down are lost
    sizes = [len(m.entries) for _, out in c.outputs for m in out.messages if isinstance(m, AppendEntries)]
    assert max(sizes) == 3


def test_propose_many_is_one_batch():
    """propose_many appends consecutive entries in one Outputs (one fsync, one round trip)."""
    c = Cluster()
    c.elect("a")
    out = c.nodes["a"].propose_many([b"1", b"2", b"3"])
    assert [e.index for e in out.entries] == [2, 3, 4] and out.proposed_index == 2
    assert all(len(m.entries) == 3 for m in out.messages if isinstance(m, AppendEntries))


def test_a_stale_append_does_not_truncate():
    """A delayed AppendEntries with fewer entries than the follower has leaves the log alone."""
    node = RaftNode("b", ["a", "c"], HardState(1, "a"), RaftLog(None, [Entry(1, 1), Entry(1, 2), Entry(1, 3)]),
                    CONFIG, random.Random(1))
    out = node.step(AppendEntries("a", "b", 1, 0, 0, (Entry(1, 1),), 0))
    assert node.log.last_index == 3 and not out.entries
    assert out.messages[0].success and out.messages[0].match_index == 1


def test_single_node_commits_alone():
    """A one-node group commits on its own; the entry is in the same Outputs as the commit."""
    node = RaftNode("a", [], HardState(), RaftLog(), CONFIG, random.Random(1))
    for _ in range(CONFIG.election_ticks_max):
        node.tick()
    assert node.role is Role.LEADER
    out = node.propose(b"x")
    assert isinstance(out, Outputs) and [e.payload for e in out.entries] == [b"x"]
    assert out.committed[-1].payload == b"x"


def test_a_follower_commits_only_what_the_append_verified():
    """The follower's stale suffix (term 2 beyond index 2) is not committed just because the
    leader's commit index is higher: only entries the AppendEntries proved equal are."""
    stale = [Entry(1, 1), Entry(2, 2), Entry(2, 3), Entry(2, 4)]
    node = RaftNode("b", ["a", "c"], HardState(3, None), RaftLog(None, stale), CONFIG, random.Random(1))
    out = node.step(AppendEntries("a", "b", 3, 1, 1, (Entry(2, 2),), leader_commit=4))
    assert node.commit_index == 2 and [e.index for e in out.committed] == [1, 2]
    assert out.messages[0].match_index == 2
