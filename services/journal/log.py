"""The durable, append-only log of committed write sets.

File format (`journal.log`): a sequence of records, each

    u32 little-endian payload length | u32 little-endian CRC32(payload) | payload

where the payload is a serialized `dsql.journal.v1.LogEntry` whose `index` is
the record's 1-based position. A crash can leave a torn last record (a short
header, a short payload or a payload whose CRC does not match); on open the
file is scanned, the first bad record and everything after it are cut off
(`truncate` + fsync), so the log always ends on a whole record. The journal
only acknowledges a commit after the record is fsynced, so what is cut off was
never acknowledged.

No sockets, no asyncio here: `append` is blocking (the server runs it in a
worker thread; one call per group commit), `read` is a positional read that
is safe to run concurrently with `append` for entries that are already durable.

The Raft journal's replica log also uses `truncate` (drop a suffix re-derived from the Raft
log), `sync`, `cut_head` (drop old entries: the file is rewritten from the first kept entry,
whose index then starts the log - `first_index`) and `reset` (an empty log that continues at a
given index, before entries copied from a peer).
"""

from __future__ import annotations

import array
import os
import struct
import threading
import zlib

from services.pb.dsql.journal.v1 import journal_pb2 as pb

HEADER = struct.Struct("<II")
RECORD_BYTES_MAX = 64 * 1024 * 1024   # a write set is at most ~10 MiB; anything bigger is garbage


def encode_record(payload: bytes) -> bytes:
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


class LogCorrupt(Exception):
    pass


class Log:
    """One log file; entries are addressed by 1-based index, first_index .. last_index."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        dirname = os.path.dirname(self.path) or "."
        os.makedirs(dirname, exist_ok=True)
        created = not os.path.exists(self.path)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if created:
            _fsync_dir(dirname)
        self._offsets = array.array("Q")    # offsets[i - first_index] = file offset of entry i
        self.first_index = 1
        self._end = 0                       # offset just past the last whole record
        self.truncated_bytes = 0            # how much torn tail the last open cut off
        self._lock = threading.Lock()       # appends are serialised
        self._recover()

    # -- recovery -------------------------------------------------------------------------

    def _recover(self) -> None:
        size = os.fstat(self._fd).st_size
        with open(self.path, "rb", buffering=1 << 20) as f:
            off = 0
            while off < size:
                head = f.read(HEADER.size)
                if len(head) < HEADER.size:
                    break
                length, crc = HEADER.unpack(head)
                if length == 0 or length > RECORD_BYTES_MAX or off + HEADER.size + length > size:
                    break
                payload = f.read(length)
                if len(payload) < length or zlib.crc32(payload) != crc:
                    break
                index = _index_of(payload)
                if not self._offsets:
                    self.first_index = index
                elif index != self.first_index + len(self._offsets):
                    break
                self._offsets.append(off)
                off += HEADER.size + length
        self._end = off
        if off < size:
            self.truncated_bytes = size - off
            os.ftruncate(self._fd, off)
            os.fsync(self._fd)

    # -- reading ---------------------------------------------------------------------------

    @property
    def last_index(self) -> int:
        return self.first_index - 1 + len(self._offsets)

    def read_payloads(self, first: int, count_max: int = 1000, bytes_max: int = 1 << 20) -> list[bytes]:
        """Payloads of entries first, first+1, ... (at least one if first exists)."""
        with self._lock:         # cut_head swaps the file
            last = self.last_index
            base = self.first_index
            if first < base or first > last:
                return []
            offsets = self._offsets
            stop = min(last, first + count_max - 1)
            start_off = offsets[first - base]
            end_off = offsets[stop - base + 1] if stop < last else self._end
            # Bound the read by bytes_max but always include the first record whole.
            if end_off - start_off > bytes_max:
                hi = first
                while hi < stop and offsets[hi - base + 1] - start_off <= bytes_max:
                    hi += 1
                stop = max(first, hi - 1)
                end_off = offsets[stop - base + 1] if stop < last else self._end
            buf = os.pread(self._fd, end_off - start_off, start_off)
        out = []
        pos = 0
        for _ in range(first, stop + 1):
            length, crc = HEADER.unpack_from(buf, pos)
            payload = buf[pos + HEADER.size: pos + HEADER.size + length]
            if zlib.crc32(payload) != crc:
                raise LogCorrupt(f"CRC mismatch reading {self.path} at offset {start_off + pos}")
            out.append(payload)
            pos += HEADER.size + length
        return out

    def read_entries(self, first: int, count_max: int = 1000) -> list[pb.LogEntry]:
        return [pb.LogEntry.FromString(p) for p in self.read_payloads(first, count_max, bytes_max=1 << 62)]

    def iter_backwards(self):
        """Entries from the last one down to the first (for rebuilding recent state)."""
        i = self.last_index
        while i >= self.first_index:
            first = max(self.first_index, i - 255)
            chunk = self.read_entries(first, i - first + 1)
            for e in reversed(chunk):
                yield e
            i = first - 1

    # -- appending -------------------------------------------------------------------------

    def append(self, payloads: list[bytes], sync: bool = True) -> int:
        """Write the records and fsync once (group commit). Returns the new last index.

        sync=False skips the fsync (the Raft journal's replica log, rebuilt at every start).

        Each payload must be a LogEntry with index = last_index + 1, + 2, ... in order."""
        if not payloads:
            return self.last_index
        with self._lock:
            data = bytearray()
            offsets = []
            off = self._end
            for i, p in enumerate(payloads):
                assert _index_of(p) == self.last_index + 1 + i, "log indexes must be contiguous"
                offsets.append(off + len(data))
                data += encode_record(p)
            view = memoryview(data)
            written = 0
            while written < len(data):
                written += os.pwrite(self._fd, view[written:], off + written)
            if sync:
                os.fsync(self._fd)
            self._end = off + len(data)
            self._offsets.extend(offsets)
            return self.last_index

    def truncate(self, last: int) -> None:
        """Drop every entry after `last` (and fsync)."""
        with self._lock:
            if last >= self.last_index:
                return
            assert last >= self.first_index - 1, (last, self.first_index)
            self._end = self._offsets[last - self.first_index + 1]
            del self._offsets[last - self.first_index + 1:]
            os.ftruncate(self._fd, self._end)
            os.fsync(self._fd)

    def reset(self, next_index: int) -> None:
        """Drop every entry; the next append starts at next_index (not durable until then)."""
        with self._lock:
            os.ftruncate(self._fd, 0)
            os.fsync(self._fd)
            self._offsets = array.array("Q")
            self._end = 0
            self.first_index = next_index

    def cut_head(self, first: int) -> None:
        """Drop the entries before `first`: the kept ones are copied to a new file, which then
        replaces this one atomically (a crash leaves either file whole)."""
        if first <= self.first_index or first > self.last_index:
            return
        tmp = self.path + ".cut"
        start = self._offsets[first - self.first_index]       # entries below last are immutable
        with open(tmp, "wb") as out:
            pos, end = start, self._end
            while pos < end:
                chunk = os.pread(self._fd, min(1 << 22, end - pos), pos)
                out.write(chunk)
                pos += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        with self._lock:
            tail = os.pread(self._fd, self._end - end, end)   # appended meanwhile
            with open(tmp, "ab") as out:
                out.write(tail)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
            _fsync_dir(os.path.dirname(self.path) or ".")
            old = self._fd
            self._fd = os.open(self.path, os.O_RDWR)
            os.close(old)
            self._offsets = array.array("Q", (o - start for o in self._offsets[first - self.first_index:]))
            self._end -= start
            self.first_index = first

    def sync(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        try:
            os.close(self._fd)
        except OSError:
            pass


def _index_of(payload: bytes) -> int:
    """The index field of a serialized LogEntry (field 1, varint), which we always write first."""
    if not payload or payload[0] != 0x08:
        return pb.LogEntry.FromString(payload).index
    result = 0
    shift = 0
    for b in payload[1:11]:
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result
        shift += 7
    raise LogCorrupt("bad varint")


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
