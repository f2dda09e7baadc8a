"""Hybrid-logical clock.

Timestamps are 64-bit integers: microseconds since the Unix epoch. The clock
follows the wall clock, but every value it hands out is strictly greater than
every value it handed out or observed before (so timestamps are unique and
monotonic per issuer even when the wall clock stalls or steps back, or when
more than one timestamp is needed per microsecond: the "logical" part simply
borrows the next microsecond).

Thread-safe.
"""

from __future__ import annotations

import threading
import time

MAX_TS = (1 << 64) - 1


def wall_us() -> int:
    """The physical clock in microseconds since the epoch."""
    return time.time_ns() // 1000


class HLC:
    def __init__(self, clock=wall_us):
        self._clock = clock
        self._last = 0
        self._lock = threading.Lock()

    def now(self) -> int:
        """A new timestamp, greater than every timestamp issued or observed so far."""
        with self._lock:
            ts = self._clock()
            if ts <= self._last:
                ts = self._last + 1
            if ts > MAX_TS:
                raise OverflowError("HLC overflow")
            self._last = ts
            return ts

    def update(self, observed_ts: int) -> int:
        """Merge a timestamp seen from elsewhere: later now() values exceed it.

        Returns the clock's current high-water mark (>= observed_ts)."""
        with self._lock:
            if observed_ts > self._last:
                self._last = observed_ts
            return self._last

    def peek(self) -> int:
        """The highest timestamp issued or observed so far (no new timestamp)."""
        with self._lock:
            return self._last

    def physical(self) -> int:
        return self._clock()
