"""Durable Raft storage: the in-memory crash model and the file-backed implementation."""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.journal.raft import (
    Entry, EntryKind, FileStorage, HardState, MemoryStorage, Outputs, Snapshot, StorageCorrupt,
)


def entries(first, last, term=1, tag=b""):
    return [Entry(term, i, tag + b"p%d" % i) for i in range(first, last + 1)]


def segment_files(path):
    return sorted(n for n in os.listdir(path) if n.endswith(".log"))


# ------------------------------------------------------------------ MemoryStorage


def test_memory_storage_keeps_synced_writes_and_loses_the_rest():
    """A crash keeps what was synced; of the rest only a prefix, maybe torn."""
    s = MemoryStorage()
    s.persist(Outputs(hard_state=HardState(1, "a"), entries=entries(1, 3)))
    s.sync()
    s.append(entries(4, 9))
    s.crash(random.Random(4))
    loaded = s.load()
    assert loaded.hard_state == HardState(1, "a")
    assert [e.index for e in loaded.entries][:3] == [1, 2, 3] and len(loaded.entries) <= 9


def test_memory_storage_torn_append_keeps_a_prefix_of_records():
    """Over many crashes, a torn append leaves every possible prefix, never a hole."""
    seen = set()
    for seed in range(200):
        s = MemoryStorage()
        s.append(entries(1, 2))
        s.sync()
        s.append(entries(3, 8))
        s.crash(random.Random(seed))
        got = [e.index for e in s.load().entries]
        assert got == list(range(1, len(got) + 1))
        seen.add(len(got))
    assert {2, 8} <= seen and len(seen) > 3


def test_memory_storage_snapshot_semantics():
    """A snapshot keeps the suffix that continues it, else drops the whole log."""
    s = MemoryStorage()
    s.append(entries(1, 5))
    s.save_snapshot(Snapshot(3, 1, b"s"))
    s.sync()
    assert [e.index for e in s.load().entries] == [4, 5]
    s.save_snapshot(Snapshot(4, 7, b"t"))   # another term at 4: the log does not continue it
    s.sync()
    assert s.load().entries == [] and s.load().snapshot.index == 4


# ------------------------------------------------------------------ FileStorage


def test_file_storage_round_trip(tmp_path):
    """Term, vote, entries (with kinds and payloads) survive a reopen."""
    s = FileStorage(tmp_path)
    s.save_hard_state(HardState(3, "az2"))
    s.append([Entry(1, 1, b"", EntryKind.NOOP)] + entries(2, 4, term=3))
    s.sync()
    s.close()
    loaded = FileStorage(tmp_path).load()
    assert loaded.hard_state == HardState(3, "az2")
    assert loaded.entries[0].kind is EntryKind.NOOP and loaded.entries[3] == Entry(3, 4, b"p4")


def test_file_storage_overwrite_is_logical_and_survives_reopen(tmp_path):
    """An append at a lower index replaces the suffix, on disk as in memory."""
    s = FileStorage(tmp_path)
    s.append(entries(1, 6))
    s.append(entries(4, 5, term=2, tag=b"new"))
    s.sync()
    s.close()
    loaded = FileStorage(tmp_path).load()
    assert [(e.index, e.term) for e in loaded.entries] == [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2)]
    s = FileStorage(tmp_path)
    s.truncate(3)
    s.sync()
    s.close()
    assert [e.index for e in FileStorage(tmp_path).load().entries] == [1, 2]


def test_file_storage_cuts_a_torn_tail_at_every_offset(tmp_path):
    """Whatever prefix of the last (unsynced) record reached the disk, reopening yields the
    synced records and leaves the file ending on a whole record."""
    s = FileStorage(tmp_path)
    s.append(entries(1, 3))
    s.sync()
    path = os.path.join(tmp_path, segment_files(tmp_path)[0])
    good = os.path.getsize(path)
    s.append([Entry(1, 4, b"x" * 40)])
    s.close()
    full = open(path, "rb").read()
    for cut in range(good, len(full)):
        with open(path, "wb") as f:
            f.write(full[:cut])
        loaded = FileStorage(tmp_path).load()
        assert [e.index for e in loaded.entries] == [1, 2, 3], cut
        assert os.path.getsize(path) == good
    with open(path, "wb") as f:
        f.write(full)
    assert FileStorage(tmp_path).load().entries[-1].index == 4


def test_file_storage_cuts_at_a_bad_crc(tmp_path):
    """A record whose CRC does not match ends the log there."""
    s = FileStorage(tmp_path)
    s.append(entries(1, 3))
    s.sync()
    s.close()
    path = os.path.join(tmp_path, segment_files(tmp_path)[0])
    data = bytearray(open(path, "rb").read())
    data[-1] ^= 0xFF
    open(path, "wb").write(bytes(data))
    assert [e.index for e in FileStorage(tmp_path).load().entries] == [1, 2]


def test_file_storage_rotates_segments_and_cuts_after_a_torn_middle(tmp_path):
    """Segments rotate at segment_bytes_max; a torn record in one segment drops every later one."""
    s = FileStorage(tmp_path, segment_bytes_max=100)
    for i in range(1, 21):
        s.append(entries(i, i))
    s.sync()
    s.close()
    names = segment_files(tmp_path)
    assert len(names) > 3
    assert [e.index for e in FileStorage(tmp_path, segment_bytes_max=100).load().entries] == list(range(1, 21))
    second = os.path.join(tmp_path, names[1])
    open(second, "r+b").truncate(os.path.getsize(second) - 1)
    loaded = FileStorage(tmp_path, segment_bytes_max=100).load()
    assert len(segment_files(tmp_path)) == 2
    assert [e.index for e in loaded.entries] == list(range(1, loaded.entries[-1].index + 1))
    assert loaded.entries[-1].index < 20


def test_file_storage_snapshot_compacts_into_a_new_generation(tmp_path):
    """save_snapshot keeps the suffix after it, deletes the old segments, and all of it reopens."""
    s = FileStorage(tmp_path, segment_bytes_max=100)
    s.append(entries(1, 20))
    s.sync()
    s.save_snapshot(Snapshot(15, 1, b"state@15"))
    s.append(entries(21, 22))
    s.sync()
    s.close()
    assert all(n.startswith("g00000001-") for n in segment_files(tmp_path))
    loaded = FileStorage(tmp_path).load()
    assert loaded.snapshot == Snapshot(15, 1, b"state@15")
    assert [e.index for e in loaded.entries] == [16, 17, 18, 19, 20, 21, 22]
    # a snapshot from a leader that the log does not continue: everything goes
    s = FileStorage(tmp_path)
    s.save_snapshot(Snapshot(30, 2, b"state@30"))
    s.append(entries(31, 31, term=2))
    s.sync()
    s.close()
    loaded = FileStorage(tmp_path).load()
    assert loaded.snapshot.index == 30 and [e.index for e in loaded.entries] == [31]


def test_file_storage_ignores_a_generation_that_was_never_switched_to(tmp_path):
    """A crash after writing the new generation but before the snapshot file names it: the
    old generation stays in force and the orphan is removed."""
    s = FileStorage(tmp_path)
    s.append(entries(1, 3))
    s.sync()
    s.close()
    with open(os.path.join(tmp_path, "g00000001-00000001.log"), "wb") as f:
        f.write(b"garbage")
    with open(os.path.join(tmp_path, "hardstate.tmp"), "wb") as f:
        f.write(b"half written")
    loaded = FileStorage(tmp_path).load()
    assert [e.index for e in loaded.entries] == [1, 2, 3]
    assert segment_files(tmp_path) == ["g00000000-00000001.log"]


def test_file_storage_corrupt_hard_state_is_an_error(tmp_path):
    """The hard state is replaced atomically, so a bad one is a disk fault, reported loudly."""
    FileStorage(tmp_path).save_hard_state(HardState(2, None))
    path = os.path.join(tmp_path, "hardstate")
    data = bytearray(open(path, "rb").read())
    data[0] ^= 1
    open(path, "wb").write(bytes(data))
    with pytest.raises(StorageCorrupt):
        FileStorage(tmp_path)


OPS = st.lists(st.one_of(
    st.tuples(st.just("append"), st.integers(0, 6), st.integers(1, 4)),
    st.tuples(st.just("snapshot"), st.integers(0, 4), st.booleans()),
    st.tuples(st.just("hard_state"), st.integers(0, 3), st.booleans()),
    st.just(("reopen",)),
), max_size=25)


@settings(max_examples=60, deadline=None)
@given(ops=OPS)
def test_file_storage_agrees_with_the_memory_model(tmp_path_factory, ops):
    """Any sequence of appends (with overwrites), snapshots, term changes and reopens leaves
    FileStorage loading exactly what MemoryStorage (synced) holds."""
    path = tmp_path_factory.mktemp("raft")
    f = FileStorage(path, segment_bytes_max=120)
    m = MemoryStorage()
    term = 1
    for op in ops:
        base = m.snapshot.index if m.snapshot else 0
        last = base + len(m.entries)
        if op[0] == "append":
            first = max(base + 1, last + 1 - op[1])
            term += 1 if op[1] % 2 else 0
            new = [Entry(term, i, b"t%d" % term) for i in range(first, first + op[2])]
            f.append(new)
            m.append(new)
        elif op[0] == "snapshot":
            index = last - op[1]
            if index <= base:
                continue
            snap_term = m.entries[index - base - 1].term if op[2] else term + 1
            term = max(term, snap_term)
            snapshot = Snapshot(index, snap_term, b"s%d" % index)
            f.save_snapshot(snapshot)
            m.save_snapshot(snapshot)
        elif op[0] == "hard_state":
            hs = HardState(term + op[1], "x" if op[2] else None)
            f.save_hard_state(hs)
            m.save_hard_state(hs)
        else:
            f.sync()
            f.close()
            f = FileStorage(path, segment_bytes_max=120)
        f.sync()
        m.sync()
    f.close()
    assert FileStorage(path, segment_bytes_max=120).load() == m.load()


def test_a_file_backed_cluster_restarts_from_disk(tmp_path):
    """Three nodes on FileStorage: commit, compact, restart every node from its directory,
    elect again and keep committing - the driver contract end to end."""
    from .cluster import Cluster

    c = Cluster(storage=lambda i: FileStorage(tmp_path / i, segment_bytes_max=200))
    c.elect("a")
    for k in range(12):
        c.propose("a", b"v%d" % k)
        c.deliver()
    c.tick(n=2)
    a = c.nodes["a"]
    c.handle("a", a.compact(8, b"sm@8"))
    for i in "abc":
        c.storage[i].close()
        c.stop(i)
        c.start(i, FileStorage(tmp_path / i, segment_bytes_max=200))
    assert c.nodes["a"].log.snapshot_index == 8 and c.nodes["a"].log.last_index == 13
    assert c.nodes["b"].hard_state == HardState(1, "a")
    leader = c.elect("b")
    assert leader.term == 2
    c.propose("b", b"after-restart")
    c.deliver()
    c.tick(n=2)
    for i in "abc":
        assert c.applied[i][-1].payload == b"after-restart", i


@settings(max_examples=80, deadline=None)
@given(synced=st.integers(1, 8), unsynced=st.lists(st.integers(1, 3), max_size=4), cut=st.floats(0, 1),
       overwrite=st.integers(0, 3))
def test_file_storage_crash_keeps_a_prefix_of_the_record_stream(tmp_path_factory, synced, unsynced, cut,
                                                                 overwrite):
    """Cut the segment anywhere after the last sync (what a crash can do to unsynced appends,
    overwrites included): reopening gives the log as it was after some whole number of
    records, never a mix or a hole."""
    path = tmp_path_factory.mktemp("raft")
    f = FileStorage(path, segment_bytes_max=1 << 20)
    log = entries(1, synced)
    f.append(log)
    f.sync()
    segment = os.path.join(path, segment_files(path)[0])
    durable = os.path.getsize(segment)
    candidates = [list(log)]
    term = 1
    for count in unsynced:
        term += 1
        first = max(1, log[-1].index + 1 - overwrite)
        new = [Entry(term, i, b"t%d" % term) for i in range(first, first + count)]
        f.append(new)
        kept = log[:first - 1]
        candidates.extend(kept + new[:n] for n in range(1, count + 1))
        log = kept + new
    f.close()
    size = os.path.getsize(segment)
    with open(segment, "r+b") as handle:
        handle.truncate(durable + int(cut * (size - durable)))
    got = FileStorage(path).load().entries
    assert got in candidates
    if cut == 1:
        assert got == log
