"""Multi-version key-value store on RocksDB (no I/O besides RocksDB, no asyncio).

Layout of the RocksDB key space (raw bytes mode):

    b"d" + escape(user_key) + b"\\x00\\x01" + be64(MAX_TS - commit_ts)  ->  version
    b"m" + name                                                       ->  replica metadata

`escape` doubles every 0x00 byte as 0x00 0xFF, and 0x00 0x01 terminates the
key, so the encoding is prefix-free and order-preserving: user keys keep their
byte order (a key sorts before every key it is a prefix of), all versions of
one key are contiguous, and the inverted timestamp puts them newest first.
A version value is b"\\x01" + value, or b"\\x00" for a tombstone (delete).

The metadata keys `applied_index`, `applied_ts` and `closed_ts` are written in
the same WriteBatch as the versions of the entries they describe, so after a
crash the replica resumes exactly after the last batch it applied.

Garbage collection (`gc_step`) sweeps the key space in slices: below a
horizon (the oldest timestamp a read may still use) only the version a read
at the horizon would see is kept - and not even that when it is a tombstone.
The horizon is persisted (`gc_horizon`); reads below it are refused.
"""

from __future__ import annotations

import os
import struct

from rocksdict import Options, Rdict, WriteBatch, WriteOptions

MAX_TS = (1 << 64) - 1
DATA = b"d"
DATA_END = b"e"
META = b"m"
TERM = b"\x00\x01"
LIVE = b"\x01"
TOMBSTONE = b"\x00"
_U64 = struct.Struct(">Q")
_SKIP_VERSIONS = b"\xff" * 9       # after every version suffix of a key prefix

META_APPLIED_INDEX = META + b"applied_index"
META_APPLIED_TS = META + b"applied_ts"
META_CLOSED_TS = META + b"closed_ts"
META_GC_HORIZON = META + b"gc_horizon"

SCAN_ROWS_MAX = 1000
SCAN_BYTES_MAX = 1 << 20
SCAN_EXAMINE_MAX = 10_000        # visible rows a filtered scan page examines at most


def escape(key: bytes) -> bytes:
    return key.replace(b"\x00", b"\x00\xff")


def key_prefix(key: bytes) -> bytes:
    return DATA + escape(key) + TERM


def version_key(key: bytes, commit_ts: int) -> bytes:
    return key_prefix(key) + _U64.pack(MAX_TS - commit_ts)


def decode_version_key(vk: bytes) -> tuple[bytes, int]:
    return vk[1:-10].replace(b"\x00\xff", b"\x00"), MAX_TS - _U64.unpack(vk[-8:])[0]


def _inv(ts: int) -> bytes:
    return _U64.pack(MAX_TS - ts)


class GapError(Exception):
    """An entry does not follow the last applied index."""


class Store:
    def __init__(self, path: str | os.PathLike):
        opts = Options(raw_mode=True)
        opts.create_if_missing(True)
        opts.increase_parallelism(2)
        self.db = Rdict(os.fspath(path), opts)
        self._wopts = WriteOptions()     # WAL on, no fsync: the journal can replay what is lost
        self.applied_index = self._meta_int(META_APPLIED_INDEX)
        self.applied_ts = self._meta_int(META_APPLIED_TS)
        self.closed_ts = self._meta_int(META_CLOSED_TS)
        self.gc_horizon = self._meta_int(META_GC_HORIZON)

    def _meta_int(self, key: bytes) -> int:
        v = self.db.get(key)
        return _U64.unpack(v)[0] if v else 0

    def close(self) -> None:
        self.db.close()

    # -- applying the log -----------------------------------------------------------------------

    def apply(self, entries, closed_ts: int) -> int:
        """Apply log entries (with .index, .commit_ts, .writes) atomically; skip ones already
        applied. Returns how many were applied. closed_ts is persisted with them."""
        wb = WriteBatch(raw_mode=True)
        index = self.applied_index
        ts = self.applied_ts
        n = 0
        for e in entries:
            if e.index <= index:
                continue
            if e.index != index + 1:
                raise GapError(f"entry {e.index} after applied index {index}")
            assert e.commit_ts > ts, "commit timestamps must grow with the log index"
            for m in e.writes:
                wb.put(version_key(m.key, e.commit_ts), TOMBSTONE if m.delete else LIVE + m.value)
            index = e.index
            ts = e.commit_ts
            n += 1
        if not n:
            return 0
        closed = max(self.closed_ts, closed_ts, ts)
        wb.put(META_APPLIED_INDEX, _U64.pack(index))
        wb.put(META_APPLIED_TS, _U64.pack(ts))
        wb.put(META_CLOSED_TS, _U64.pack(closed))
        self.db.write(wb, self._wopts)
        self.applied_index = index
        self.applied_ts = ts
        self.closed_ts = closed
        return n

    def advance_closed(self, closed_ts: int) -> None:
        """Heartbeat: in memory only (persisting it is not needed for safety)."""
        if closed_ts > self.closed_ts:
            self.closed_ts = closed_ts

    # -- garbage collection ---------------------------------------------------------------------

    def gc_step(self, horizon_ts: int, cursor: bytes = b"", keys_max: int = 1000) -> tuple[bytes, int]:
        """Drop versions no read at or above horizon_ts can see, for up to keys_max user keys
        starting at the encoded position `cursor` (b"": the beginning). Returns the cursor for
        the next step (b"" once the sweep wrapped around) and how many versions were dropped."""
        horizon_ts = min(horizon_ts, self.closed_ts)
        if horizon_ts > self.gc_horizon:
            # Persist first: from now on reads below the horizon are refused.
            self.db.put(META_GC_HORIZON, _U64.pack(horizon_ts), self._wopts)
            self.gc_horizon = horizon_ts
        horizon_ts = self.gc_horizon
        inv = _inv(horizon_ts)
        it = self.db.iter()
        it.seek(cursor or DATA)
        wb = WriteBatch(raw_mode=True)
        dropped = 0
        seen = 0
        while it.valid() and seen < keys_max:
            vk = it.key()
            if vk >= DATA_END:
                break
            p = vk[:-8]
            seen += 1
            if vk[-8:] < inv:
                it.seek(p + inv)            # skip versions newer than the horizon: all kept
                if not it.valid() or it.key()[:-8] != p:
                    continue
            # it is at the version a read at the horizon sees; everything older goes.
            if it.value()[:1] == TOMBSTONE:
                wb.delete(it.key())
                dropped += 1
            it.next()
            while it.valid() and it.key()[:-8] == p:
                wb.delete(it.key())
                dropped += 1
                it.next()
        next_cursor = it.key() if it.valid() and it.key() < DATA_END else b""
        if dropped:
            self.db.write(wb, self._wopts)
        return next_cursor, dropped

    # -- reading --------------------------------------------------------------------------------

    def get(self, read_ts: int, keys) -> list[bytes | None]:
        """The newest version <= read_ts of each key (None: absent or deleted)."""
        it = self.db.iter()
        inv = _inv(read_ts)
        out: list[bytes | None] = []
        for k in keys:
            p = key_prefix(k)
            it.seek(p + inv)
            if it.valid() and it.key().startswith(p):
                v = it.value()
                out.append(v[1:] if v[:1] == LIVE else None)
            else:
                out.append(None)
        return out

    def scan(self, read_ts: int, start: bytes, end: bytes, limit: int = 0, reverse: bool = False,
             bytes_max: int = SCAN_BYTES_MAX) -> tuple[list[tuple[bytes, bytes]], bool]:
        """Rows of [start, end) (end b"" = unbounded) visible at read_ts, in key order (or
        reversed). At most `limit` rows (0 or above the server max: SCAN_ROWS_MAX) and about
        bytes_max bytes. `more` is True iff another visible row exists past the last one."""
        if limit <= 0 or limit > SCAN_ROWS_MAX:
            limit = SCAN_ROWS_MAX
        lo = key_prefix(start) if start else DATA
        hi = key_prefix(end) if end else DATA_END
        if lo >= hi:
            return [], False
        inv = _inv(read_ts)
        it = self.db.iter()
        rows: list[tuple[bytes, bytes]] = []
        size = 0
        full = False
        if not reverse:
            it.seek(lo)
            while it.valid():
                vk = it.key()
                if vk >= hi:
                    break
                p = vk[:-8]
                if vk[-8:] < inv:           # newer than read_ts: jump to the visible version
                    it.seek(p + inv)
                    continue
                v = it.value()
                if v[:1] == LIVE:
                    if full:
                        return rows, True
                    key = p[1:-2].replace(b"\x00\xff", b"\x00")
                    rows.append((key, v[1:]))
                    size += len(key) + len(v)
                    full = len(rows) >= limit or size >= bytes_max
                it.next()
                if it.valid() and it.key()[:-8] == p:
                    it.seek(p + _SKIP_VERSIONS)
        else:
            it.seek_for_prev(hi)
            while it.valid():
                vk = it.key()
                if vk < lo:
                    break
                p = vk[:-8]
                it.seek(p + inv)
                if it.valid() and it.key()[:-8] == p:
                    v = it.value()
                    if v[:1] == LIVE:
                        if full:
                            return rows, True
                        key = p[1:-2].replace(b"\x00\xff", b"\x00")
                        rows.append((key, v[1:]))
                        size += len(key) + len(v)
                        full = len(rows) >= limit or size >= bytes_max
                it.seek_for_prev(p)
        return rows, False

    def scan_filtered(self, read_ts: int, start: bytes, end: bytes, row_filter, limit: int = 0,
                      reverse: bool = False, bytes_max: int = SCAN_BYTES_MAX,
                      examine_max: int = SCAN_EXAMINE_MAX) -> tuple[list[tuple[bytes, bytes]], bool, bytes, int]:
        """scan() with pushdown: `row_filter(value)` gives the value to return or None to skip the
        row. Examines at most `examine_max` visible rows. -> (rows, more, resume key, examined):
        when `more`, the scan continues after (before, if reverse) the resume key, the last key
        examined; rows may then be empty."""
        if limit <= 0 or limit > SCAN_ROWS_MAX:
            limit = SCAN_ROWS_MAX
        lo = key_prefix(start) if start else DATA
        hi = key_prefix(end) if end else DATA_END
        if lo >= hi:
            return [], False, b"", 0
        inv = _inv(read_ts)
        it = self.db.iter()
        rows: list[tuple[bytes, bytes]] = []
        size = 0
        examined = 0
        last = b""
        if not reverse:
            it.seek(lo)
            while it.valid():
                vk = it.key()
                if vk >= hi:
                    break
                p = vk[:-8]
                if vk[-8:] < inv:
                    it.seek(p + inv)
                    continue
                v = it.value()
                if v[:1] == LIVE:
                    if len(rows) >= limit or size >= bytes_max or examined >= examine_max:
                        return rows, True, last, examined
                    key = p[1:-2].replace(b"\x00\xff", b"\x00")
                    examined += 1
                    last = key
                    out = row_filter(v[1:])
                    if out is not None:
                        rows.append((key, out))
                        size += len(key) + len(out)
                it.next()
                if it.valid() and it.key()[:-8] == p:
                    it.seek(p + _SKIP_VERSIONS)
        else:
            it.seek_for_prev(hi)
            while it.valid():
                vk = it.key()
                if vk < lo:
                    break
                p = vk[:-8]
                it.seek(p + inv)
                if it.valid() and it.key()[:-8] == p:
                    v = it.value()
                    if v[:1] == LIVE:
                        if len(rows) >= limit or size >= bytes_max or examined >= examine_max:
                            return rows, True, last, examined
                        key = p[1:-2].replace(b"\x00\xff", b"\x00")
                        examined += 1
                        last = key
                        out = row_filter(v[1:])
                        if out is not None:
                            rows.append((key, out))
                            size += len(key) + len(out)
                it.seek_for_prev(p)
        return rows, False, last, examined
