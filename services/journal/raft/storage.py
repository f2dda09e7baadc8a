"""Durable storage for one Raft node: term and vote, the snapshot, the log.

`RaftStorage` is what the driver calls with each Outputs:

    storage.persist(out)   # hard_state, snapshot, entries - in that order
    storage.sync()         # fsync: only now may out.messages be sent

Two implementations:

* `MemoryStorage` - for the simulator. Writes sit in a pending list until sync(); crash()
  keeps a random *prefix* of them (writes reach the disk in order, an fsync barrier
  makes everything before it durable) and may tear the last one (a partial append).
* `FileStorage` - for the journal. A directory holding

      hardstate              term + vote, replaced atomically (tmp, fsync, rename, fsync dir)
      snapshot               index, term, log generation, data; replaced atomically likewise
      g<gen>-<seq>.log       the log of the current generation, append-only segments of
                             records  u32 len | u32 crc32(payload) | payload
                             payload = u64 term | u64 index | u8 kind | data

  Truncation is logical: a record whose index is <= the last one replaces the suffix
  from there (replay does the same), so a write never modifies bytes already written.
  A crash can tear the tail: at open the first bad record (short, oversized, wrong CRC)
  and everything after it is cut off. That is safe because sync() makes everything
  written before it durable and nothing is acknowledged before sync(), so everything
  from the first bad record on was never acknowledged.
  Compaction (save_snapshot) writes the entries that survive the snapshot into a new
  generation, then points the snapshot file at it (the atomic switch), then deletes
  the old generation.

  save_hard_state and save_snapshot are durable when they return (they are rare): this
  keeps the order the core relies on - a term is on disk before any entry of that term.
"""

from __future__ import annotations

import abc
import os
import random
import struct
import zlib
from dataclasses import dataclass, field

from .log import RaftLog
from .messages import Entry, EntryKind, HardState, Outputs, Snapshot


@dataclass
class Loaded:
    hard_state: HardState = field(default_factory=HardState)
    snapshot: Snapshot | None = None
    entries: list[Entry] = field(default_factory=list)

    def raft_log(self) -> RaftLog:
        return RaftLog(self.snapshot, list(self.entries))


def _apply_append(entries: list[Entry], snapshot: Snapshot | None, new: list[Entry]) -> None:
    """The storage semantics of append: cut the suffix from new[0].index, then extend."""
    base = snapshot.index if snapshot is not None else 0
    first = new[0].index
    last = base + len(entries)
    assert base < first <= last + 1, ("append leaves a gap or rewrites the snapshot", first, base, last)
    del entries[first - base - 1:]
    entries.extend(new)


def _apply_snapshot(entries: list[Entry], snapshot: Snapshot | None, new: Snapshot) -> list[Entry]:
    """Keep the entries after new.index if the log continues the snapshot, else none."""
    base = snapshot.index if snapshot is not None else 0
    assert new.index > base, (new.index, base)
    offset = new.index - base - 1
    if 0 <= offset < len(entries) and entries[offset].term == new.term:
        return entries[offset + 1:]
    return []


class RaftStorage(abc.ABC):
    @abc.abstractmethod
    def load(self) -> Loaded:
        """What is durable now (after a restart: what survived)."""

    @abc.abstractmethod
    def save_hard_state(self, hard_state: HardState) -> None: ...

    @abc.abstractmethod
    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Drop the log up to snapshot.index (all of it if it does not continue the snapshot)."""

    @abc.abstractmethod
    def append(self, entries: list[Entry]) -> None:
        """Append; entries[0].index may be <= the last index: the suffix from there is cut."""

    @abc.abstractmethod
    def sync(self) -> None:
        """Make every earlier write durable."""

    def truncate(self, from_index: int) -> None:
        """Cut the log from `from_index` on (append does this implicitly)."""
        raise NotImplementedError

    def persist(self, out: Outputs) -> None:
        if out.hard_state is not None:
            self.save_hard_state(out.hard_state)
        if out.snapshot is not None:
            self.save_snapshot(out.snapshot)
        if out.entries:
            self.append(out.entries)


class MemoryStorage(RaftStorage):
    """In-memory storage that loses unsynced writes on crash(), possibly tearing the last."""

    def __init__(self) -> None:
        self.hard_state = HardState()
        self.snapshot: Snapshot | None = None
        self.entries: list[Entry] = []
        self.pending: list[tuple[str, object]] = []
        self.syncs = 0

    def load(self) -> Loaded:
        assert not self.pending, "load() after crash() or sync()"
        return Loaded(self.hard_state, self.snapshot, list(self.entries))

    def save_hard_state(self, hard_state: HardState) -> None:
        self.pending.append(("hard_state", hard_state))

    def save_snapshot(self, snapshot: Snapshot) -> None:
        self.pending.append(("snapshot", snapshot))

    def append(self, entries: list[Entry]) -> None:
        self.pending.append(("append", list(entries)))

    def truncate(self, from_index: int) -> None:
        self.pending.append(("truncate", from_index))

    def _apply(self, op: str, arg) -> None:
        if op == "hard_state":
            self.hard_state = arg
        elif op == "snapshot":
            self.entries = _apply_snapshot(self.entries, self.snapshot, arg)
            self.snapshot = arg
        elif op == "append":
            _apply_append(self.entries, self.snapshot, arg)
        elif op == "truncate":
            base = self.snapshot.index if self.snapshot is not None else 0
            del self.entries[max(0, arg - base - 1):]
        else:
            raise AssertionError(op)

    def sync(self) -> None:
        for op, arg in self.pending:
            self._apply(op, arg)
        self.pending = []
        self.syncs += 1

    def crash(self, rng: random.Random) -> None:
        """Lose the writes since the last sync, except a random prefix; the first lost write
        may be torn (an append that got some of its records to disk)."""
        keep = rng.randint(0, len(self.pending))
        for op, arg in self.pending[:keep]:
            self._apply(op, arg)
        if keep < len(self.pending) and self.pending[keep][0] == "append" and rng.random() < 0.5:
            entries = self.pending[keep][1]
            torn = rng.randint(0, len(entries) - 1)
            if torn:
                _apply_append(self.entries, self.snapshot, entries[:torn])
        self.pending = []


# ------------------------------------------------------------------------------ files

_RECORD_HEADER = struct.Struct("<II")
_ENTRY_HEADER = struct.Struct("<QQB")
_HARD_STATE = struct.Struct("<QH")
_SNAPSHOT_HEADER = struct.Struct("<QQQQ")
_CRC = struct.Struct("<I")
_NO_VOTE = 0xFFFF
_TRUNCATE_KIND = 255   # a record (term 0) that cuts the log from its index on
RECORD_BYTES_MAX = 64 << 20


class StorageCorrupt(Exception):
    """A file that was written atomically does not verify: an operating error (bad disk)."""


def _encode_entry(entry: Entry) -> bytes:
    payload = _ENTRY_HEADER.pack(entry.term, entry.index, int(entry.kind)) + entry.payload
    return _RECORD_HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(directory: str, name: str, data: bytes) -> None:
    tmp = os.path.join(directory, name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(directory, name))
    _fsync_dir(directory)


class FileStorage(RaftStorage):
    def __init__(self, directory: str | os.PathLike, *, segment_bytes_max: int = 64 << 20):
        assert segment_bytes_max >= 1
        self.dir = os.fspath(directory)
        self.segment_bytes_max = segment_bytes_max
        os.makedirs(self.dir, exist_ok=True)
        self.hard_state = self._read_hard_state()
        self.snapshot, self.generation = self._read_snapshot()
        self.entries: list[Entry] = []
        self._fd: int | None = None          # the active segment
        self._fd_bytes = 0
        self._seq = 0
        self._dirty = False
        self._new_file = False
        self._recover()

    # -- open

    def _read_hard_state(self) -> HardState:
        path = os.path.join(self.dir, "hardstate")
        if not os.path.exists(path):
            return HardState()
        data = open(path, "rb").read()
        if len(data) < _HARD_STATE.size + _CRC.size or zlib.crc32(data[:-4]) != _CRC.unpack(data[-4:])[0]:
            raise StorageCorrupt(path)
        term, vote_len = _HARD_STATE.unpack_from(data)
        vote = None if vote_len == _NO_VOTE else data[_HARD_STATE.size:_HARD_STATE.size + vote_len].decode()
        return HardState(term, vote)

    def _read_snapshot(self) -> tuple[Snapshot | None, int]:
        path = os.path.join(self.dir, "snapshot")
        if not os.path.exists(path):
            return None, 0
        data = open(path, "rb").read()
        if len(data) < _SNAPSHOT_HEADER.size + _CRC.size or zlib.crc32(data[:-4]) != _CRC.unpack(data[-4:])[0]:
            raise StorageCorrupt(path)
        index, term, generation, size = _SNAPSHOT_HEADER.unpack_from(data)
        body = data[_SNAPSHOT_HEADER.size:-4]
        if len(body) != size:
            raise StorageCorrupt(path)
        return Snapshot(index, term, body), generation

    def _segments(self) -> list[tuple[int, int, str]]:
        out = []
        for name in os.listdir(self.dir):
            if name.startswith("g") and name.endswith(".log"):
                gen, seq = name[1:-4].split("-")
                out.append((int(gen), int(seq), name))
        return sorted(out)

    def _recover(self) -> None:
        base = self.snapshot.index if self.snapshot is not None else 0
        segments = self._segments()
        changed = False
        for gen, _, name in segments:
            if gen != self.generation:   # an old generation, or a new one never switched to
                os.remove(os.path.join(self.dir, name))
                changed = True
        current = [(seq, name) for gen, seq, name in segments if gen == self.generation]
        cut = False
        for seq, name in current:
            path = os.path.join(self.dir, name)
            if cut:
                os.remove(path)
                changed = True
                continue
            data = open(path, "rb").read()
            offset = 0
            while offset < len(data):
                entry, size = self._decode_at(data, offset)
                if entry is None:
                    break
                if isinstance(entry, int):    # a truncation record
                    if entry <= base:
                        break
                    del self.entries[entry - base - 1:]
                    offset += size
                    continue
                if entry.index <= base or entry.index > base + len(self.entries) + 1:
                    break     # cannot follow what came before: treat as the torn tail
                _apply_append(self.entries, self.snapshot, [entry])
                offset += size
            if offset < len(data):
                with open(path, "r+b") as f:
                    f.truncate(offset)
                    f.flush()
                    os.fsync(f.fileno())
                cut = True
            self._seq = seq
            self._fd_bytes = offset
        if changed:
            _fsync_dir(self.dir)
        RaftLog(self.snapshot, self.entries)   # asserts contiguity and monotone terms
        self._open_segment(reuse=bool(current))

    @staticmethod
    def _decode_at(data: bytes, offset: int) -> tuple[Entry | int | None, int]:
        if offset + _RECORD_HEADER.size > len(data):
            return None, 0
        length, crc = _RECORD_HEADER.unpack_from(data, offset)
        start = offset + _RECORD_HEADER.size
        if length < _ENTRY_HEADER.size or length > RECORD_BYTES_MAX or start + length > len(data):
            return None, 0
        payload = data[start:start + length]
        if zlib.crc32(payload) != crc:
            return None, 0
        term, index, kind = _ENTRY_HEADER.unpack_from(payload)
        if kind == _TRUNCATE_KIND and term == 0 and index >= 1:
            return index, _RECORD_HEADER.size + length
        if term < 1 or index < 1 or kind not in (0, 1):
            return None, 0
        return Entry(term, index, payload[_ENTRY_HEADER.size:], EntryKind(kind)), _RECORD_HEADER.size + length

    def _segment_path(self, generation: int, seq: int) -> str:
        return os.path.join(self.dir, f"g{generation:08d}-{seq:08d}.log")

    def _open_segment(self, reuse: bool) -> None:
        if self._fd is not None:
            if self._dirty:
                os.fsync(self._fd)   # sync() only sees the active segment
            os.close(self._fd)
        if not reuse:
            self._seq += 1
            self._fd_bytes = 0
        path = self._segment_path(self.generation, self._seq)
        created = not os.path.exists(path)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if created:
            self._dirty = True   # the directory entry needs an fsync too
            self._new_file = True

    # -- RaftStorage

    def load(self) -> Loaded:
        return Loaded(self.hard_state, self.snapshot, list(self.entries))

    def save_hard_state(self, hard_state: HardState) -> None:
        vote = b"" if hard_state.voted_for is None else hard_state.voted_for.encode()
        assert len(vote) < _NO_VOTE
        body = _HARD_STATE.pack(hard_state.term, _NO_VOTE if hard_state.voted_for is None else len(vote)) + vote
        _write_atomically(self.dir, "hardstate", body + _CRC.pack(zlib.crc32(body)))
        self.hard_state = hard_state

    def append(self, entries: list[Entry]) -> None:
        if not entries:
            return
        _apply_append(self.entries, self.snapshot, list(entries))
        self._write(b"".join(_encode_entry(e) for e in entries))

    def _write(self, data: bytes) -> None:
        if self._fd_bytes >= self.segment_bytes_max:
            self._open_segment(reuse=False)
        written = os.write(self._fd, data)
        assert written == len(data)
        self._fd_bytes += len(data)
        self._dirty = True

    def truncate(self, from_index: int) -> None:
        base = self.snapshot.index if self.snapshot is not None else 0
        assert from_index > base
        del self.entries[from_index - base - 1:]
        payload = _ENTRY_HEADER.pack(0, from_index, _TRUNCATE_KIND)
        self._write(_RECORD_HEADER.pack(len(payload), zlib.crc32(payload)) + payload)

    def sync(self) -> None:
        if self._dirty:
            os.fsync(self._fd)
            if self._new_file:
                _fsync_dir(self.dir)
                self._new_file = False
            self._dirty = False

    def save_snapshot(self, snapshot: Snapshot) -> None:
        kept = _apply_snapshot(self.entries, self.snapshot, snapshot)
        old_generation = self.generation
        generation = old_generation + 1
        # 1. the surviving suffix into the new generation, durable
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        path = self._segment_path(generation, 1)
        with open(path, "wb") as f:
            f.write(b"".join(_encode_entry(e) for e in kept))
            f.flush()
            os.fsync(f.fileno())
        # 2. the switch: the snapshot file names the generation
        body = _SNAPSHOT_HEADER.pack(snapshot.index, snapshot.term, generation, len(snapshot.data)) + snapshot.data
        _write_atomically(self.dir, "snapshot", body + _CRC.pack(zlib.crc32(body)))
        # 3. the old generation is garbage now
        for gen, _, name in self._segments():
            if gen != generation:
                os.remove(os.path.join(self.dir, name))
        _fsync_dir(self.dir)
        self.snapshot = snapshot
        self.generation = generation
        self.entries = kept
        self._seq = 1
        self._fd_bytes = os.path.getsize(path)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._dirty = False

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
