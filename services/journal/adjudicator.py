"""The adjudicator: first committer wins, commit timestamps only grow.

Pure state, no I/O and no asyncio: the server calls `decide` for one commit at
a time (it runs on the event loop thread, so calls are serialised), and
`closed_ts` whenever it publishes a batch. A Raft core will later sit between
`decide` (leader only) and the log; the adjudicator's state is rebuilt from the
log on start (`rebuild`) and could equally be rebuilt on becoming leader.

Conflict rule: a transaction with start time S conflicts if any key in its
check set (written keys + check keys) was committed by another transaction at
a timestamp > S. The history is kept for `history_us` (the 5-minute
transaction age limit); a start time older than that is refused as a conflict
because the history that would prove it clean may have been forgotten.
"""

from __future__ import annotations

import collections
from typing import Iterable

from services.common.hlc import HLC, wall_us


class Adjudicator:
    def __init__(self, hlc: HLC, history_us: int, clock=wall_us):
        self.hlc = hlc
        self.history_us = history_us
        self._clock = clock
        self._key_ts: dict[bytes, int] = {}
        self._history: collections.deque[tuple[int, tuple[bytes, ...]]] = collections.deque()
        self.last_commit_ts = 0
        # Lowest start_ts whose conflicts we can still judge (grows as history is forgotten).
        self.horizon_ts = 0

    # -- state from the log ------------------------------------------------------------------

    def rebuild(self, entries_newest_first: Iterable, last_commit_ts: int) -> None:
        """Load recent history (entries with .commit_ts and .writes, newest first)."""
        self.last_commit_ts = max(self.last_commit_ts, last_commit_ts)
        self.hlc.update(self.last_commit_ts)
        cutoff = self._clock() - self.history_us
        recent = []
        for e in entries_newest_first:
            if e.commit_ts < cutoff:
                break
            recent.append((e.commit_ts, tuple(m.key for m in e.writes)))
        for ts, keys in reversed(recent):
            self._record(ts, keys)

    # -- deciding ----------------------------------------------------------------------------

    def conflict(self, start_ts: int, keys: Iterable[bytes]) -> bytes | None:
        """The first key that makes a commit from start_ts lose, or None."""
        self._forget()
        if start_ts < self.horizon_ts or start_ts < self._clock() - self.history_us:
            for k in keys:
                return k
            return b""
        key_ts = self._key_ts
        for k in keys:
            ts = key_ts.get(k)
            if ts is not None and ts > start_ts:
                return k
        return None

    def assign(self, start_ts: int, keys: tuple[bytes, ...]) -> int:
        """Give a winning commit its timestamp and remember its written keys."""
        self.hlc.update(max(start_ts, self.last_commit_ts))
        ts = self.hlc.now()
        assert ts > start_ts and ts > self.last_commit_ts
        self.last_commit_ts = ts
        self._record(ts, keys)
        return ts

    def decide(self, start_ts: int, written: tuple[bytes, ...],
               check: tuple[bytes, ...] = ()) -> tuple[int, bytes | None]:
        """(commit_ts, None) on success, (0, conflicting key) on conflict.

        Both written and check keys are checked; only written keys become history
        (a check key, e.g. a row read FOR UPDATE, makes this transaction lose to a
        later writer of the row, it does not make others lose)."""
        k = self.conflict(start_ts, written)
        if k is None and check:
            k = self.conflict(start_ts, check)
        if k is not None:
            return 0, k
        return self.assign(start_ts, written), None

    def promise_closed(self, lead_us: int) -> int:
        """A timestamp that every later assign() will exceed, about lead_us ahead of now."""
        target = self._clock() + lead_us
        return self.hlc.update(max(target, self.last_commit_ts))

    # -- history -----------------------------------------------------------------------------

    def _record(self, ts: int, keys: tuple[bytes, ...]) -> None:
        key_ts = self._key_ts
        for k in keys:
            key_ts[k] = ts
        self._history.append((ts, keys))

    def _forget(self) -> None:
        cutoff = self._clock() - self.history_us
        h = self._history
        key_ts = self._key_ts
        while h and h[0][0] < cutoff:
            ts, keys = h.popleft()
            for k in keys:
                if key_ts.get(k) == ts:
                    del key_ts[k]
            if ts > self.horizon_ts:
                self.horizon_ts = ts

    @property
    def tracked_keys(self) -> int:
        return len(self._key_ts)
