"""Values that cross the boundary of the Raft core: log entries, messages, outputs.

Everything here is a plain frozen dataclass, so the core stays free of I/O and the
simulator (or the gRPC glue) can copy, drop, duplicate and reorder messages at will.
Node ids are strings (the journal uses the AZ name).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class EntryKind(enum.IntEnum):
    NORMAL = 0  # an application payload (the journal: one batch of write sets)
    NOOP = 1    # appended by every new leader so that it can commit entries of earlier terms


@dataclass(frozen=True, slots=True)
class Entry:
    term: int
    index: int
    payload: bytes = b""
    kind: EntryKind = EntryKind.NORMAL

    def __post_init__(self) -> None:
        assert self.term >= 1 and self.index >= 1, self


@dataclass(frozen=True, slots=True)
class HardState:
    """What must survive a crash besides the log: the current term and the vote cast in it."""

    term: int = 0
    voted_for: str | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state machine after applying every entry up to `index` (which has term `term`).

    `data` is opaque to Raft: the application produces it (RaftNode.compact) and consumes
    it (Outputs.restore)."""

    index: int
    term: int
    data: bytes


class Role(enum.Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre_candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


# ---------------------------------------------------------------------------------------
# Messages. Every message carries its sender, its destination and the sender's term
# (for a granted pre-vote: the term the pre-candidate asked about).
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestVote:
    src: str
    dst: str
    term: int
    last_log_index: int
    last_log_term: int
    pre_vote: bool = False
    transfer: bool = False  # sent after TimeoutNow: bypasses the leader lease


@dataclass(frozen=True, slots=True)
class RequestVoteResponse:
    src: str
    dst: str
    term: int
    granted: bool
    pre_vote: bool = False


@dataclass(frozen=True, slots=True)
class AppendEntries:
    src: str
    dst: str
    term: int
    prev_log_index: int
    prev_log_term: int
    entries: tuple[Entry, ...]
    leader_commit: int


@dataclass(frozen=True, slots=True)
class AppendEntriesResponse:
    src: str
    dst: str
    term: int
    success: bool
    # success: the follower's log matches the leader's up to match_index.
    match_index: int = 0
    # failure: the prev_log_index that was rejected (lets the leader drop stale rejections),
    # and the fast-backtracking hint: the first index of conflict_term in the follower's
    # log, or (conflict_term == 0) the follower's last index + 1.
    reject_index: int = 0
    conflict_index: int = 0
    conflict_term: int = 0


@dataclass(frozen=True, slots=True)
class Heartbeat:
    src: str
    dst: str
    term: int
    # min(leader commit, what the leader knows matches on this follower): safe to commit
    # without a log check.
    commit: int


@dataclass(frozen=True, slots=True)
class HeartbeatResponse:
    src: str
    dst: str
    term: int


@dataclass(frozen=True, slots=True)
class InstallSnapshot:
    src: str
    dst: str
    term: int
    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class InstallSnapshotResponse:
    src: str
    dst: str
    term: int
    match_index: int


@dataclass(frozen=True, slots=True)
class TimeoutNow:
    """Leadership transfer: the leader tells an up-to-date follower to campaign at once."""

    src: str
    dst: str
    term: int


Message = (RequestVote | RequestVoteResponse | AppendEntries | AppendEntriesResponse | Heartbeat
           | HeartbeatResponse | InstallSnapshot | InstallSnapshotResponse | TimeoutNow)


# ---------------------------------------------------------------------------------------
# Outputs of one step(), tick(), propose() or compact() call.
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateChange:
    role: Role
    term: int
    leader_id: str | None


@dataclass(slots=True)
class Outputs:
    """What the driver must do, in this order (numbered fields):

    1. persist   `hard_state`, then `snapshot`, then `entries` (RaftStorage.persist does
                 exactly that), then **fsync** (RaftStorage.sync) if `must_sync`;
    2. send      `messages` - only once step 1 is durable: a vote, an append
                 acknowledgement or a leader's own count towards a majority all promise
                 that the state is on disk;
    3. apply     first `restore` (replace the state machine with the snapshot), then
                 `committed` in order. Committed entries are durable on a majority, and
                 on this node once step 1 is done.
    `state` is informational (role/term/leader changed during the call).

    A driver may batch several Outputs (group commit): persist all of them in order, one
    sync, then send all their messages in order, then apply in order.
    """

    hard_state: HardState | None = None
    snapshot: Snapshot | None = None
    entries: list[Entry] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    restore: Snapshot | None = None
    committed: list[Entry] = field(default_factory=list)
    state: StateChange | None = None
    # set by propose(): where the new entry went. It is committed iff an entry with this
    # index *and term* shows up in `committed` (another term there: the proposal was lost).
    proposed_index: int = 0
    proposed_term: int = 0

    @property
    def must_sync(self) -> bool:
        return self.hard_state is not None or self.snapshot is not None or bool(self.entries)

    def is_empty(self) -> bool:
        return not (self.must_sync or self.messages or self.restore or self.committed or self.state)


@dataclass(frozen=True, slots=True)
class NotLeader:
    """propose() on a node that is not (or no longer able to act as) the leader.

    `leader_id` is the node believed to lead `term` (None: unknown, e.g. an election or a
    leadership transfer is in progress) - the journal answers NOT_LEADER with its address."""

    leader_id: str | None
    term: int


@dataclass(frozen=True, slots=True)
class Overloaded:
    """propose() refused because `uncommitted_entries_max` entries already wait for a majority."""

    uncommitted: int
