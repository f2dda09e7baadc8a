"""Compact binary encoding of the nine Raft messages (plus the journal's closed-timestamp
notice) for the peer transport (`Journal.Raft`, one bytes item per message).

    u8 type | str src | str dst | u64 term | type-specific fields
    str   = u16 length | utf-8
    entry = u64 term | u64 index | u8 kind | u32 length | payload
    snap  = u64 index | u64 term | u32 length | data

Little-endian, no versioning beyond the type byte (replicas of one cluster run one build).
`decode` raises WireError on anything malformed; a peer's garbage never reaches the core.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .messages import (
    AppendEntries, AppendEntriesResponse, Entry, EntryKind, Heartbeat, HeartbeatResponse, InstallSnapshot,
    InstallSnapshotResponse, RequestVote, RequestVoteResponse, Snapshot, TimeoutNow,
)


class WireError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ClosedTs:
    """Not Raft: the journal leader's closed timestamp for followers to forward to their
    subscribers once they have applied Raft index `index` (every commit with a timestamp
    <= closed_ts is at or below it)."""

    src: str
    dst: str
    term: int
    closed_ts: int
    index: int


_U8 = struct.Struct("<B")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_HEAD_TAIL = struct.Struct("<Q")
_VOTE = struct.Struct("<QQBB")          # last_log_index, last_log_term, pre_vote, transfer
_VOTE_RESP = struct.Struct("<BB")       # granted, pre_vote
_APPEND = struct.Struct("<QQQI")        # prev_log_index, prev_log_term, leader_commit, n entries
_ENTRY = struct.Struct("<QQBI")         # term, index, kind, payload length
_APPEND_RESP = struct.Struct("<BQQQQ")  # success, match, reject, conflict_index, conflict_term
_SNAP = struct.Struct("<QQI")           # index, term, data length
_TWO_U64 = struct.Struct("<QQ")

_TYPES = {RequestVote: 1, RequestVoteResponse: 2, AppendEntries: 3, AppendEntriesResponse: 4,
          Heartbeat: 5, HeartbeatResponse: 6, InstallSnapshot: 7, InstallSnapshotResponse: 8,
          TimeoutNow: 9, ClosedTs: 10}


def _str(s: str) -> bytes:
    b = s.encode("utf-8")
    return _U16.pack(len(b)) + b


def encode(m) -> bytes:
    t = _TYPES[type(m)]
    parts = [_U8.pack(t), _str(m.src), _str(m.dst), _U64.pack(m.term)]
    if t == 1:
        parts.append(_VOTE.pack(m.last_log_index, m.last_log_term, m.pre_vote, m.transfer))
    elif t == 2:
        parts.append(_VOTE_RESP.pack(m.granted, m.pre_vote))
    elif t == 3:
        parts.append(_APPEND.pack(m.prev_log_index, m.prev_log_term, m.leader_commit, len(m.entries)))
        for e in m.entries:
            parts.append(_ENTRY.pack(e.term, e.index, int(e.kind), len(e.payload)))
            parts.append(e.payload)
    elif t == 4:
        parts.append(_APPEND_RESP.pack(m.success, m.match_index, m.reject_index, m.conflict_index,
                                       m.conflict_term))
    elif t == 5:
        parts.append(_U64.pack(m.commit))
    elif t == 7:
        s = m.snapshot
        parts.append(_SNAP.pack(s.index, s.term, len(s.data)))
        parts.append(s.data)
    elif t == 8:
        parts.append(_U64.pack(m.match_index))
    elif t == 10:
        parts.append(_TWO_U64.pack(m.closed_ts, m.index))
    return b"".join(parts)


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes):
        self.buf = memoryview(buf)
        self.pos = 0

    def take(self, st: struct.Struct) -> tuple:
        if self.pos + st.size > len(self.buf):
            raise WireError("truncated message")
        v = st.unpack_from(self.buf, self.pos)
        self.pos += st.size
        return v

    def bytes(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise WireError("truncated message")
        b = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return b

    def str(self) -> str:
        (n,) = self.take(_U16)
        try:
            return self.bytes(n).decode("utf-8")
        except UnicodeDecodeError:
            raise WireError("bad node id") from None


def decode(data: bytes):
    r = _Reader(data)
    (t,) = r.take(_U8)
    if t not in range(1, 11):
        raise WireError(f"unknown message type {t}")
    src = r.str()
    dst = r.str()
    (term,) = r.take(_U64)
    try:
        if t == 1:
            li, lt, pre, tr = r.take(_VOTE)
            m = RequestVote(src, dst, term, li, lt, bool(pre), bool(tr))
        elif t == 2:
            granted, pre = r.take(_VOTE_RESP)
            m = RequestVoteResponse(src, dst, term, bool(granted), bool(pre))
        elif t == 3:
            pi, pt, commit, n = r.take(_APPEND)
            entries = []
            for _ in range(n):
                et, ei, kind, length = r.take(_ENTRY)
                entries.append(Entry(et, ei, r.bytes(length), EntryKind(kind)))
            m = AppendEntries(src, dst, term, pi, pt, tuple(entries), commit)
        elif t == 4:
            ok, match, reject, ci, ct = r.take(_APPEND_RESP)
            m = AppendEntriesResponse(src, dst, term, bool(ok), match, reject, ci, ct)
        elif t == 5:
            (commit,) = r.take(_U64)
            m = Heartbeat(src, dst, term, commit)
        elif t == 6:
            m = HeartbeatResponse(src, dst, term)
        elif t == 7:
            index, sterm, length = r.take(_SNAP)
            m = InstallSnapshot(src, dst, term, Snapshot(index, sterm, r.bytes(length)))
        elif t == 8:
            (match,) = r.take(_U64)
            m = InstallSnapshotResponse(src, dst, term, match)
        elif t == 9:
            m = TimeoutNow(src, dst, term)
        else:
            closed, index = r.take(_TWO_U64)
            m = ClosedTs(src, dst, term, closed, index)
    except (AssertionError, ValueError) as e:     # Entry invariants, bad EntryKind
        if isinstance(e, WireError):
            raise
        raise WireError(f"bad message: {e}") from None
    if r.pos != len(r.buf):
        raise WireError("trailing bytes")
    return m


# -- the journal's Raft entry payload: one group-committed batch ------------------------------
#
#   u64 closed_bound | u32 n | n x (u64 commit_ts | u32 length | LogEntry without its index)
#
# closed_bound (0: none) is the leader's durable permission to publish closed timestamps up to
# it; every later leader assigns commit timestamps above the largest bound in the log. The
# journal index of each LogEntry is assigned when the entry is applied (the same everywhere).

_BATCH_HEAD = struct.Struct("<QI")
_ITEM = struct.Struct("<QI")


def encode_batch(closed_bound: int, items: list[tuple[int, bytes]]) -> bytes:
    parts = [_BATCH_HEAD.pack(closed_bound, len(items))]
    for ts, e in items:
        parts.append(_ITEM.pack(ts, len(e)))
        parts.append(e)
    return b"".join(parts)


def decode_batch(data: bytes) -> tuple[int, list[tuple[int, bytes]]]:
    r = _Reader(data)
    bound, n = r.take(_BATCH_HEAD)
    out = []
    for _ in range(n):
        ts, length = r.take(_ITEM)
        out.append((ts, r.bytes(length)))
    if r.pos != len(r.buf):
        raise WireError("trailing bytes in batch")
    return bound, out
