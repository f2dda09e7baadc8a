"""Precise commit-wait for asyncio code.

asyncio timers have millisecond granularity (epoll), so `asyncio.sleep(200e-6)`
costs a whole millisecond; commit-wait is usually a fraction of one. One
thread sleeps on a condition variable (microsecond granularity) until the
earliest deadline and resolves the futures due with one call_soon_threadsafe.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading

from services.common.hlc import wall_us


class CommitWaiter:
    def __init__(self, loop: asyncio.AbstractEventLoop, clock=wall_us):
        self._loop = loop
        self._clock = clock
        self._heap: list[tuple[int, int, list[asyncio.Future]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="commit-wait", daemon=True)
        self._thread.start()

    def resolve_after(self, wall_ts_us: int, futures: list[asyncio.Future]) -> None:
        """Set each future's result to None once the wall clock is past wall_ts_us."""
        if self._clock() > wall_ts_us:
            _resolve(futures)
            return
        with self._cond:
            heapq.heappush(self._heap, (wall_ts_us, next(self._seq), futures))
            if self._heap[0][2] is futures:
                self._cond.notify()

    def wait_past(self, wall_ts_us: int) -> asyncio.Future:
        fut = self._loop.create_future()
        self.resolve_after(wall_ts_us, [fut])
        return fut

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _run(self) -> None:
        heap = self._heap
        while True:
            with self._cond:
                while not self._stopped and not heap:
                    self._cond.wait()
                if self._stopped:
                    return
                due = []
                now = self._clock()
                while heap and heap[0][0] < now:
                    due.extend(heapq.heappop(heap)[2])
                if not due:
                    self._cond.wait((heap[0][0] - now + 1) / 1e6)
                    continue
            try:
                self._loop.call_soon_threadsafe(_resolve, due)
            except RuntimeError:        # loop closed
                return


def _resolve(futures) -> None:
    for f in futures:
        if not f.done():
            f.set_result(None)
