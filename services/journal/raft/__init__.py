"""Raft for the journal: a pure consensus core, its durable storage, and nothing else.

See README.md in this folder for the life of one proposal through the core, and
docs/rfcs/20261126_raft_journal.md for the design.
"""

from .core import BUGS, RaftConfig, RaftNode
from .log import RaftLog
from .messages import (
    AppendEntries, AppendEntriesResponse, Entry, EntryKind, HardState, Heartbeat, HeartbeatResponse,
    InstallSnapshot, InstallSnapshotResponse, Message, NotLeader, Outputs, Overloaded, RequestVote,
    RequestVoteResponse, Role, Snapshot, StateChange, TimeoutNow,
)
from .storage import FileStorage, Loaded, MemoryStorage, RaftStorage, StorageCorrupt

__all__ = [
    "AppendEntries", "AppendEntriesResponse", "BUGS", "Entry", "EntryKind", "FileStorage", "HardState",
    "Heartbeat", "HeartbeatResponse", "InstallSnapshot", "InstallSnapshotResponse", "Loaded", "MemoryStorage",
    "Message", "NotLeader", "Outputs", "Overloaded", "RaftConfig", "RaftLog", "RaftNode", "RaftStorage",
    "RequestVote", "RequestVoteResponse", "Role", "Snapshot", "StateChange", "StorageCorrupt", "TimeoutNow",
]
