"""The peer transport's encoding of Raft messages and of the journal's batch payload."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from services.journal.raft import (
    AppendEntries, AppendEntriesResponse, Entry, EntryKind, Heartbeat, HeartbeatResponse, InstallSnapshot,
    InstallSnapshotResponse, RequestVote, RequestVoteResponse, Snapshot, TimeoutNow,
)
from services.journal.raft import wire

U64 = (1 << 64) - 1

MESSAGES = [
    RequestVote("az1", "az2", 7, 42, 6),
    RequestVote("az1", "az2", 8, 42, 6, pre_vote=True, transfer=True),
    RequestVoteResponse("az2", "az1", 7, True),
    RequestVoteResponse("az2", "az1", 8, False, pre_vote=True),
    AppendEntries("az1", "az3", 7, 41, 6, (), 40),
    AppendEntries("az1", "az3", 7, 41, 6, (Entry(7, 42, b"", EntryKind.NOOP), Entry(7, 43, b"x" * 1000),
                                          Entry(7, 44, b"\x00\xff")), 43),
    AppendEntriesResponse("az3", "az1", 7, True, match_index=44),
    AppendEntriesResponse("az3", "az1", 7, False, reject_index=41, conflict_index=30, conflict_term=5),
    Heartbeat("az1", "az2", U64, U64),
    HeartbeatResponse("az2", "az1", 1),
    InstallSnapshot("az1", "az2", 9, Snapshot(100, 8, b"state" * 100)),
    InstallSnapshotResponse("az2", "az1", 9, 100),
    TimeoutNow("az1", "az2", 9),
    wire.ClosedTs("az1", "az2", 9, 1795700000000000, 77),
    RequestVote("zone-\u00e9", "us-east-1b", 0, 0, 0),
]


@pytest.mark.parametrize("m", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip(m):
    assert wire.decode(wire.encode(m)) == m


def test_every_raft_message_type_is_covered():
    assert {type(m) for m in MESSAGES} == set(wire._TYPES)
    assert len(wire._TYPES) == 10


@pytest.mark.parametrize("m", MESSAGES, ids=lambda m: type(m).__name__)
def test_truncated_or_padded_input_is_refused(m):
    data = wire.encode(m)
    for cut in range(len(data)):
        with pytest.raises(wire.WireError):
            wire.decode(data[:cut])
    with pytest.raises(wire.WireError):
        wire.decode(data + b"\x00")


def test_garbage_is_refused():
    with pytest.raises(wire.WireError):
        wire.decode(b"\x63" + b"\x00" * 20)           # unknown type
    bad_kind = bytearray(wire.encode(AppendEntries("a", "b", 1, 0, 0, (Entry(1, 1, b"p"),), 0)))
    bad_kind[-1 - 1 - 4] = 9                            # EntryKind 9 does not exist
    with pytest.raises(wire.WireError):
        wire.decode(bytes(bad_kind))
    zero_term = wire.encode(AppendEntries("a", "b", 1, 0, 0, (Entry(1, 1, b""),), 0)).replace(
        b"\x01" + b"\x00" * 7 + b"\x01" + b"\x00" * 7, b"\x00" * 8 + b"\x01" + b"\x00" * 7)
    with pytest.raises(wire.WireError):
        wire.decode(zero_term)                          # Entry(term=0) violates the invariant


@given(st.integers(0, U64), st.lists(st.tuples(st.integers(0, U64), st.binary(max_size=64)), max_size=20))
def test_batch_round_trip(bound, items):
    data = wire.encode_batch(bound, items)
    assert wire.decode_batch(data) == (bound, items)
    if data[12:]:
        with pytest.raises(wire.WireError):
            wire.decode_batch(data[:-1])


@given(st.binary(max_size=200))
def test_decode_never_crashes_on_random_bytes(data):
    try:
        wire.decode(data)
    except wire.WireError:
        pass
