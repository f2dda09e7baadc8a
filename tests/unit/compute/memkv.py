"""An in-memory transactional KV with the contract of services/compute/kv.py (test scaffolding).

MVCC: every key keeps (commit_ts, value|None) versions; a transaction reads at start_ts,
buffers its writes (read-your-writes), and at commit fails with 40001 OC000 if any key of
its check set (written keys + add_check_key keys) has a version newer than start_ts.
"""

from __future__ import annotations

import bisect
import threading

from services.common import errors


class MemKV:
    def __init__(self):
        self._lock = threading.Lock()
        self._versions: dict[bytes, list[tuple[int, bytes | None]]] = {}
        self._keys: list[bytes] = []          # sorted
        self._clock = 1_700_000_000_000_000
        self.get_calls = 0
        self.scan_calls = 0
        self.pushdown_scans = 0
        self.commits = 0

    def _tick(self) -> int:
        with self._lock:
            self._clock += 1
            return self._clock

    def begin(self) -> "MemTxn":
        return MemTxn(self, self._tick())

    def _read(self, key: bytes, ts: int):
        vs = self._versions.get(key)
        if not vs:
            return None
        for cts, v in reversed(vs):
            if cts <= ts:
                return v
        return None


class MemTxn:
    def __init__(self, kv: MemKV, start_ts: int):
        self.kv = kv
        self.start_ts = start_ts
        self.writes: dict[bytes, bytes | None] = {}
        self.checks: set[bytes] = set()
        self.done = False

    def get(self, keys):
        self.kv.get_calls += 1
        out = []
        for k in keys:
            if k in self.writes:
                out.append(self.writes[k])
            else:
                out.append(self.kv._read(k, self.start_ts))
        return out

    def scan(self, start, end, reverse=False, limit=None, pushdown=None):
        """pushdown: filtered and projected like storage does (services/common/pushdown.py), on
        committed rows only; buffered writes come back whole, as the real client returns them."""
        self.kv.scan_calls += 1
        kv = self.kv
        row_filter = None
        if pushdown is not None and (pushdown[0] or pushdown[1] is not None):
            from services.common.pushdown import compile_row_filter
            row_filter = compile_row_filter(*pushdown)
            kv.pushdown_scans += 1
        lo = bisect.bisect_left(kv._keys, start)
        hi = bisect.bisect_left(kv._keys, end)
        keys = set(kv._keys[lo:hi])
        keys.update(k for k in self.writes if start <= k < end)
        n = 0
        for k in sorted(keys, reverse=reverse):
            if k in self.writes:
                v = self.writes[k]
            else:
                v = kv._read(k, self.start_ts)
                if v is not None and row_filter is not None:
                    v = row_filter(v)
            if v is None:
                continue
            yield k, v
            n += 1
            if limit is not None and n >= limit:
                return

    def put(self, key, value):
        self.writes[bytes(key)] = bytes(value)

    def delete(self, key):
        self.writes[bytes(key)] = None

    def add_check_key(self, key):
        self.checks.add(bytes(key))

    def commit(self):
        if self.done:
            raise RuntimeError("transaction already finished")
        self.done = True
        if not self.writes:
            return None
        kv = self.kv
        with kv._lock:
            for k in set(self.writes) | self.checks:
                vs = kv._versions.get(k)
                if vs and vs[-1][0] > self.start_ts:
                    from services.compute.kv import conflict_error
                    raise conflict_error(k)
            kv._clock += 1
            ts = kv._clock
            for k, v in self.writes.items():
                if k not in kv._versions:
                    bisect.insort(kv._keys, k)
                    kv._versions[k] = []
                kv._versions[k].append((ts, v))
            kv.commits += 1
        return ts

    def rollback(self):
        self.done = True
        self.writes.clear()
