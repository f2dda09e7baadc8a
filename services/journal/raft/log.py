"""The in-memory view of one node's Raft log: a snapshot followed by contiguous entries.

The core keeps the whole uncompacted suffix in memory (the journal compacts behind the
slowest storage replica, so the suffix stays short); RaftStorage is where it is durable.
"""

from __future__ import annotations

from .messages import Entry, Snapshot


class RaftLog:
    __slots__ = ("snapshot", "entries")

    def __init__(self, snapshot: Snapshot | None = None, entries: list[Entry] | tuple[Entry, ...] = ()):
        self.snapshot = snapshot
        first = self.snapshot_index + 1
        self.entries: list[Entry] = [e for e in entries if e.index >= first]
        for offset, entry in enumerate(self.entries):
            assert entry.index == first + offset, ("log has a gap", entry.index, first + offset)
        self._assert_terms_monotone(self.entries, self.snapshot_term)

    @staticmethod
    def _assert_terms_monotone(entries, term_before: int) -> None:
        for entry in entries:
            assert entry.term >= term_before, ("log terms must not decrease", entry, term_before)
            term_before = entry.term

    @property
    def snapshot_index(self) -> int:
        return self.snapshot.index if self.snapshot is not None else 0

    @property
    def snapshot_term(self) -> int:
        return self.snapshot.term if self.snapshot is not None else 0

    @property
    def first_index(self) -> int:
        """The first index whose entry is still in the log (not compacted)."""
        return self.snapshot_index + 1

    @property
    def last_index(self) -> int:
        return self.snapshot_index + len(self.entries)

    @property
    def last_term(self) -> int:
        return self.entries[-1].term if self.entries else self.snapshot_term

    def term_at(self, index: int) -> int | None:
        """The term of the entry at `index`; 0 at index 0; None if compacted or beyond the end."""
        snapshot_index = self.snapshot_index
        if index == snapshot_index:
            return self.snapshot_term
        if index < snapshot_index or index > snapshot_index + len(self.entries):
            return None
        return self.entries[index - snapshot_index - 1].term

    def entry(self, index: int) -> Entry:
        assert self.snapshot_index < index <= self.last_index, index
        return self.entries[index - self.snapshot_index - 1]

    def slice(self, lo: int, hi: int, count_max: int, bytes_max: int) -> list[Entry]:
        """Entries lo..hi (inclusive), at most count_max of them and about bytes_max bytes of
        payload (always at least one entry, so that an oversized entry still moves)."""
        assert self.snapshot_index < lo, (lo, self.snapshot_index)
        hi = min(hi, self.last_index, lo + count_max - 1)
        out: list[Entry] = []
        size = 0
        base = self.snapshot_index + 1
        for index in range(lo, hi + 1):
            entry = self.entries[index - base]
            size += len(entry.payload)
            if out and size > bytes_max:
                break
            out.append(entry)
        return out

    def append(self, entries: list[Entry]) -> None:
        """Append, first cutting off any suffix from entries[0].index on."""
        if not entries:
            return
        first = entries[0].index
        assert self.snapshot_index < first <= self.last_index + 1, (first, self.snapshot_index, self.last_index)
        del self.entries[first - self.snapshot_index - 1:]
        self._assert_terms_monotone(entries, self.term_at(first - 1))
        for offset, entry in enumerate(entries):
            assert entry.index == first + offset
        self.entries.extend(entries)

    def first_index_of_term(self, index: int) -> int:
        """The first index (not compacted) of the run of entries that share index's term."""
        term = self.term_at(index)
        assert term is not None
        while index - 1 > self.snapshot_index and self.term_at(index - 1) == term:
            index -= 1
        return index

    def install(self, snapshot: Snapshot) -> None:
        """Replace the prefix up to snapshot.index: keep the suffix if it continues the snapshot
        (same term at snapshot.index), else drop every entry."""
        assert snapshot.index > self.snapshot_index, (snapshot.index, self.snapshot_index)
        if self.term_at(snapshot.index) == snapshot.term:
            del self.entries[:snapshot.index - self.snapshot_index]
        else:
            self.entries = []
        self.snapshot = snapshot
